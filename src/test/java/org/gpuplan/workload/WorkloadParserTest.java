package org.gpuplan.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.gpuplan.model.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkloadParserTest {

    @TempDir
    Path tmp;

    static Map<String, String> base(String... kv) {
        Map<String, String> m = new HashMap<>();
        m.put("model", "meta-llama/Llama-3.1-8B");
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void defaultsAreWhatEachMethodTypicallyUses() {
        Workload full = WorkloadParser.parse(base());
        assertThat(full.task()).isEqualTo(Task.TRAIN);
        assertThat(full.precision()).isEqualTo(Precision.BF16_MIXED);
        assertThat(full.optimizer()).isEqualTo(OptimizerKind.ADAMW);
        Workload qlora = WorkloadParser.parse(base("method", "qlora"));
        assertThat(qlora.quant()).isEqualTo(QuantFormat.NF4);
        assertThat(qlora.doubleQuant()).isTrue();
        assertThat(qlora.precision()).isEqualTo(Precision.BF16);
        Workload infer = WorkloadParser.parse(base("task", "infer", "prompt_len", "1000", "output_len", "200"));
        assertThat(infer.seqLen()).isEqualTo(1200);
    }

    @Test
    void flagSpellingsAndGgufNamesAreAccepted() {
        Workload w = WorkloadParser.parse(base("task", "infer", "framework", "llama.cpp", "quant", "Q4_K_M",
                "kv_dtype", "q8_0"));
        assertThat(w.quant()).isEqualTo(QuantFormat.Q4_K_M);
        assertThat(w.kvDtype()).isEqualTo(KvDtype.Q8_0);
        assertThat(WorkloadParser.parse(base("batch-size", "4")).batchSize()).isEqualTo(4);
    }

    @Test
    void unknownKeysAndBadValuesListWhatIsAccepted() {
        assertThatThrownBy(() -> WorkloadParser.parse(base("batchsize", "4")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("unknown key 'batchsize'")
                .hasMessageContaining("batch_size");
        for (String bad : new String[] {"-1", "abc", "1e9", "NaN"}) {
            assertThatThrownBy(() -> WorkloadParser.parse(base("host_overhead_us", bad)))
                    .isInstanceOf(InvalidInputException.class)
                    .hasMessageStartingWith("host_overhead_us: expected microseconds per kernel from 0 to 10000");
        }
        assertThatThrownBy(() -> WorkloadParser.parse(base("optimizer", "adam")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("optimizer: 'adam'")
                .hasMessageContaining("adamw-8bit");
        assertThatThrownBy(() -> WorkloadParser.parse(base("batch_size", "0")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("batch_size");
        assertThatThrownBy(() -> WorkloadParser.parse(base("gpu_memory_utilization", "1.5")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("gpu_memory_utilization");
        assertThatThrownBy(() -> WorkloadParser.parse(base("method", "qlora", "quant", "gptq-4bit")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("nf4");
        assertThatThrownBy(() -> WorkloadParser.parse(base("task", "train", "framework", "vllm")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("serves models");
        assertThatThrownBy(() -> WorkloadParser.parse(Map.of("task", "train")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("model");
    }

    @Test
    void multiGpuKeysBuildTheParallelLayout() {
        Parallelism p = WorkloadParser.parse(base("gpus", "64", "nodes", "8", "tp", "8", "pp", "2", "zero", "1"))
                .parallelism();
        assertThat(p.dp()).isEqualTo(4);
        assertThat(p.gpusPerNode()).isEqualTo(8);
        assertThat(WorkloadParser.parse(base("gpus", "16", "pp", "4", "virtual_pp", "2")).parallelism().ppSchedule())
                .isEqualTo(Parallelism.PpSchedule.INTERLEAVED);
    }

    @Test
    void inconsistentParallelLayoutsSayWhatToChange() {
        assertThatThrownBy(() -> WorkloadParser.parse(base("gpus", "8", "tp", "3")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("must divide gpus");
        assertThatThrownBy(() -> WorkloadParser.parse(base("gpus", "8", "nodes", "3")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("nodes");
        assertThatThrownBy(() -> WorkloadParser.parse(base("gpus", "8", "zero", "3", "fsdp", "full_shard")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("not both");
        assertThatThrownBy(() -> WorkloadParser.parse(base("gpus", "8", "zero", "4")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("accepted: 0, 1, 2, 3");
        assertThatThrownBy(() -> WorkloadParser.parse(base("gpus", "8", "sequence_parallel", "true")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("tp > 1");
        assertThatThrownBy(() -> WorkloadParser.parse(base("gpus", "8", "offload_params", "cpu", "zero", "2")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("zero 3");
        assertThatThrownBy(() -> WorkloadParser.parse(base("gpus", "8", "fsdp", "sharded")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("full_shard");
    }

    @Test
    void readsYamlAndJsonFiles() throws Exception {
        Path yaml = tmp.resolve("job.yaml");
        Files.writeString(yaml, """
                model: Qwen/Qwen2.5-7B
                task: train
                method: lora
                lora_targets: [q_proj, k_proj, v_proj]
                batch_size: 2
                seq_len: 4096
                """);
        Workload w = WorkloadParser.parse(WorkloadParser.readFile(yaml));
        assertThat(w.loraTargets()).containsExactly("q_proj", "k_proj", "v_proj");
        assertThat(w.seqLen()).isEqualTo(4096);
        Path json = tmp.resolve("job.json");
        Files.writeString(json, "{\"model\": \"x\", \"task\": \"infer\", \"framework\": \"vllm\"}");
        assertThat(WorkloadParser.parse(WorkloadParser.readFile(json)).framework()).isEqualTo(Framework.VLLM);
        Files.writeString(json, "[1, 2]");
        assertThatThrownBy(() -> WorkloadParser.readFile(json)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("mapping");
        Files.writeString(json, "model: [unclosed");
        assertThatThrownBy(() -> WorkloadParser.readFile(json)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("not valid JSON or YAML");
    }
}
