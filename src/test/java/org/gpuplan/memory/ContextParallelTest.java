package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.TrainingLayout;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/** What context parallelism's attention exchange holds during one layer's backward, per framework. */
class ContextParallelTest {

    private static final String MODEL = "meta-llama/Llama-3.1-405B";

    private static ModelSpec spec() {
        ModelCatalog c = ModelCatalog.builtIn();
        return HfConfigParser.parse(c.config(c.find(MODEL).orElseThrow()), MODEL, MODEL).spec();
    }

    private static double ring(String framework, int cp) {
        Map<String, String> m = new HashMap<>();
        m.put("model", MODEL);
        m.put("task", "train");
        m.put("framework", framework);
        m.put("precision", "bf16-mixed");
        m.put("batch_size", "1");
        m.put("seq_len", String.valueOf(32768 * cp));
        m.put("tp", "8");
        m.put("cp", String.valueOf(cp));
        m.put("gpus", String.valueOf(8 * cp));
        m.put("checkpointing", "full");
        Workload w = WorkloadParser.parse(m);
        return ShardedTraining.ringAttention(spec(), w, TrainingLayout.of(w));
    }

    @Test
    void pytorchContextParallelGathersTheSequencesKeysAndValues() {
        // 32,768 local tokens × 128 query heads / TP 8 × head dim 128 = 67,108,864 elements (K/V repeated to the
        // query heads); all-gathered bf16 K and V: 2·2·cp bytes each; fp32 dq, dk, dv: 12; fp32 dk/dv sent and
        // received: 16
        long elements = 32768L * 16 * 128;
        assertThat(ring("fsdp", 8)).isEqualTo((2.0 * 2 * 8 + 28) * elements);
        assertThat(ring("fsdp", 2)).isEqualTo((2.0 * 2 * 2 + 28) * elements);
        assertThat(ring("fsdp", 8) - ring("fsdp", 4)).isEqualTo(2.0 * 2 * 4 * elements);
    }

    @Test
    void megatronsRingDoubleBuffersTheKeyValueHeadsOnly() {
        // 8 KV heads over TP 8: one per rank; K and V, sent and received, two buffers, bf16
        double kvElements = 32768.0 * 1 * 128;
        assertThat(ring("megatron", 8)).isEqualTo(2.0 * 2 * 2 * 2 * kvElements);
        assertThat(ring("megatron", 2)).isEqualTo(ring("megatron", 8));
        assertThat(ring("megatron", 1)).isZero();
    }
}
