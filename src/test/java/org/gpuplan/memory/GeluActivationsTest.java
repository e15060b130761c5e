package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/**
 * GPT-2-style blocks keep gelu_new's tensors only where eager PyTorch runs it as separate ops: a one-kernel GELU
 * (erf, gelu_pytorch_tanh) keeps its input and the next projection's input (2·c per intermediate element), and
 * Megatron/Transformer Engine or torch.compile fuse the activation whatever its formula.
 */
class GeluActivationsTest {

    private static ModelSpec gpt(String activation) {
        return HfConfigParser.parse("{\"model_type\": \"gpt2\", \"n_embd\": 512, \"n_layer\": 4, \"n_head\": 8, "
                + "\"vocab_size\": 50304, \"n_positions\": 1024, \"activation_function\": \"" + activation + "\"}",
                "gpt", "test").spec();
    }

    private static Workload workload(String... kv) {
        Map<String, String> keys = new HashMap<>(Map.of("model", "x", "task", "train", "precision", "bf16",
                "batch_size", "2", "seq_len", "1024", "attention", "flash"));
        for (int i = 0; i < kv.length; i += 2) {
            keys.put(kv[i], kv[i + 1]);
        }
        return WorkloadParser.parse(keys);
    }

    private static double layer(ModelSpec m, Workload w) {
        return ActivationMemory.training(m, w).averageLayer();
    }

    @Test
    void onlyAMultiOpGeluKeepsItsIntermediates() {
        long n = 2 * 1024;
        long f = 4 * 512;
        Workload w = workload();
        double multi = layer(gpt("gelu_new"), w);
        double single = layer(gpt("gelu"), w);
        double tanhKernel = layer(gpt("gelu_pytorch_tanh"), w);
        // bf16 without autocast: gelu_new keeps x, x³, tanh, 1 + tanh and the output (5 × 2 B), one kernel 2 × 2 B
        assertThat(multi - single).isEqualTo((5 * 2 - 2 * 2) * (double) f * n);
        assertThat(tanhKernel).isEqualTo(single);
        // fused by the framework or the compiler: as one kernel
        assertThat(layer(gpt("gelu_new"), workload("framework", "megatron", "gpus", "2", "tp", "2")))
                .isLessThan(multi);
        assertThat(layer(gpt("gelu_new"), workload("compile", "true"))).isEqualTo(single);
    }
}
