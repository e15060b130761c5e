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
    void trainingArgumentsBf16AndFp16FlagsPickTheHalfPrecisionType() {
        // TrainingArguments(bf16=True / fp16=True): the 16-bit type; fp32 masters for full fine-tuning as by default,
        // a 16-bit base for LoRA; a torch_dtype given beside it decides the weights
        assertThat(WorkloadParser.parse(base("fp16", "true")).precision()).isEqualTo(Precision.FP16_MIXED);
        assertThat(WorkloadParser.parse(base("bf16", "true", "method", "lora")).precision()).isEqualTo(Precision.BF16);
        assertThat(WorkloadParser.parse(base("bf16", "true", "torch_dtype", "float32")).precision())
                .isEqualTo(Precision.BF16_MIXED);
        assertThat(WorkloadParser.parse(base("fp16", "true", "torch_dtype", "float16")).precision())
                .isEqualTo(Precision.FP16);
        assertThat(WorkloadParser.parse(base("bf16", "false")).precision()).isEqualTo(Precision.BF16_MIXED);
        assertThatThrownBy(() -> WorkloadParser.parse(base("bf16", "true", "fp16", "true")))
                .hasMessage("bf16, fp16: both true; transformers accepts one");
        assertThatThrownBy(() -> WorkloadParser.parse(base("fp16", "true", "precision", "bf16")))
                .hasMessageStartingWith("fp16: true, but the precision given is bf16");
        // TRL's max_length is the sequence length
        assertThat(WorkloadParser.parse(base("max_length", "1024")).seqLen()).isEqualTo(1024);
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

    @Test
    void otherToolsNamesForTheSameKeysAreAccepted() {
        // vLLM serve flags as a file or a map
        Workload served = WorkloadParser.parse(base("task", "infer", "framework", "vllm", "max_model_len", "8192",
                "tensor-parallel-size", "2", "gpus", "2", "kv_cache_dtype", "fp8", "quantization", "awq",
                "dtype", "bfloat16"));
        assertThat(served.seqLen()).isEqualTo(8192);
        assertThat(served.parallelism().tp()).isEqualTo(2);
        assertThat(served.kvDtype()).isEqualTo(KvDtype.FP8);
        assertThat(served.quant()).isEqualTo(QuantFormat.AWQ_4BIT);
        assertThat(served.precision()).isEqualTo(Precision.BF16);
        // transformers TrainingArguments / PEFT LoraConfig names and values
        Workload trained = WorkloadParser.parse(base("method", "lora", "per_device_train_batch_size", "4",
                "gradient_accumulation_steps", "8", "gradient_checkpointing", "true", "optim", "adamw_torch_fused",
                "attn_implementation", "flash_attention_2", "lora_r", "64", "target_modules", "q_proj,v_proj"));
        assertThat(trained.batchSize()).isEqualTo(4);
        assertThat(trained.gradAccum()).isEqualTo(8);
        assertThat(trained.checkpointing()).isEqualTo(Checkpointing.FULL);
        assertThat(trained.optimizer()).isEqualTo(OptimizerKind.ADAMW_FUSED);
        assertThat(trained.attention()).isEqualTo(AttentionImpl.FLASH);
        assertThat(trained.loraRank()).isEqualTo(64);
        assertThat(trained.loraTargets()).containsExactly("q_proj", "v_proj");
        assertThat(WorkloadParser.parse(base("gradient_checkpointing", "false")).checkpointing())
                .isEqualTo(Checkpointing.NONE);
        // Megatron and DeepSpeed names
        Workload megatron = WorkloadParser.parse(base("framework", "megatron-lm", "gpus", "16",
                "tensor_model_parallel_size", "4", "pipeline_model_parallel_size", "2", "micro_batch_size", "2",
                "recompute_granularity", "selective"));
        assertThat(megatron.framework()).isEqualTo(Framework.MEGATRON);
        assertThat(megatron.parallelism().tp() * megatron.parallelism().pp()).isEqualTo(8);
        assertThat(megatron.checkpointing()).isEqualTo(Checkpointing.SELECTIVE);
        assertThat(WorkloadParser.parse(base("framework", "deepspeed", "gpus", "8", "zero_stage", "3"))
                .parallelism().zero()).isEqualTo(3);
        assertThat(WorkloadParser.parse(base("framework", "torchtitan", "gpus", "8")).framework())
                .isEqualTo(Framework.FSDP);
        // transformers' BitsAndBytesConfig switches name the format; false names none
        assertThat(WorkloadParser.parse(base("method", "qlora", "load_in_4bit", "true", "load_in_8bit", "false"))
                .quant()).isEqualTo(QuantFormat.NF4);
        assertThat(WorkloadParser.parse(base("task", "infer", "load_in_8bit", "true")).quant())
                .isEqualTo(QuantFormat.INT8);
        assertThat(WorkloadParser.parse(base("task", "infer", "load_in_4bit", "false")).quant())
                .isEqualTo(QuantFormat.NONE);
        assertThatThrownBy(() -> WorkloadParser.parse(base("task", "infer", "load_in_4bit", "maybe")))
                .isInstanceOf(InvalidInputException.class).hasMessage("load_in_4bit: 'maybe' is not accepted "
                        + "(accepted: true, false)");
        assertThatThrownBy(() -> WorkloadParser.parse(base("task", "infer", "quant", "awq", "load_in_4bit", "true")))
                .isInstanceOf(InvalidInputException.class).hasMessageStartingWith("quant: given twice");
        assertThat(WorkloadParser.parse(base("framework", "ollama", "task", "infer", "quant", "q4_k_m")).framework())
                .isEqualTo(Framework.LLAMA_CPP);
        assertThat(WorkloadParser.parse(base("framework", "trl")).framework()).isEqualTo(Framework.HF);
        // llama.cpp's cpu_moe switch: every layer's experts in host memory
        assertThat(WorkloadParser.parse(base("task", "infer", "framework", "llama.cpp", "cpu_moe", "true"))
                .gpuLayers().cpuMoe()).isEqualTo(GpuLayers.ALL);
        // each serving engine's name for its memory fraction
        assertThat(WorkloadParser.parse(base("task", "infer", "framework", "sglang", "mem_fraction_static", "0.85"))
                .gpuMemoryUtilization()).isEqualTo(0.85);
        assertThat(WorkloadParser.parse(base("task", "infer", "framework", "tensorrt-llm", "free_gpu_memory_fraction",
                "0.8")).gpuMemoryUtilization()).isEqualTo(0.8);
        // llama.cpp's -c is the context its -np slots share
        Workload slots = WorkloadParser.parse(base("task", "infer", "framework", "llama.cpp", "ctx_size", "135168",
                "np", "4"));
        assertThat(slots.batchSize()).isEqualTo(4);
        assertThat(slots.seqLen()).isEqualTo(33_792);
        assertThatThrownBy(() -> WorkloadParser.parse(base("task", "infer", "framework", "llama.cpp", "n_parallel",
                "0"))).isInstanceOf(InvalidInputException.class).hasMessageStartingWith("n_parallel");
        assertThatThrownBy(() -> WorkloadParser.parse(base("task", "infer", "framework", "vllm", "n_parallel", "4")))
                .isInstanceOf(InvalidInputException.class).hasMessageStartingWith("n_parallel: llama.cpp's -np");
        assertThatThrownBy(() -> WorkloadParser.parse(base("task", "infer", "framework", "llama.cpp", "seq_len", "2",
                "n_parallel", "4"))).isInstanceOf(InvalidInputException.class).hasMessageContaining("less than one");
    }

    @Test
    void aKeyGivenTwiceUnderTwoNamesMustAgree() {
        assertThat(WorkloadParser.parse(base("seq_len", "4096", "max_model_len", "4096")).seqLen()).isEqualTo(4096);
        assertThatThrownBy(() -> WorkloadParser.parse(base("seq_len", "4096", "max_model_len", "8192")))
                .isInstanceOf(InvalidInputException.class).hasMessageStartingWith("seq_len: given twice");
    }

    @Test
    void lengthsTakeK_andTokenCountsTakeDecimalSuffixes() {
        assertThat(WorkloadParser.parse(base("seq_len", "8k")).seqLen()).isEqualTo(8192);
        assertThat(WorkloadParser.parse(base("seq_len", "128K")).seqLen()).isEqualTo(131_072);
        assertThat(WorkloadParser.parse(base("seq_len", "1.5k")).seqLen()).isEqualTo(1536);
        assertThat(WorkloadParser.parse(base("task", "infer", "prompt_len", "1k", "output_len", "256")).seqLen())
                .isEqualTo(1280);
        assertThat(WorkloadParser.parse(base("tokens", "20B")).perf().trainTokens()).isEqualTo(2e10);
        assertThat(WorkloadParser.parse(base("tokens", "15T")).perf().trainTokens()).isEqualTo(1.5e13);
        assertThat(WorkloadParser.parse(base("tokens", "500m")).perf().trainTokens()).isEqualTo(5e8);
        assertThat(WorkloadParser.parse(base("tokens", "2e9")).perf().trainTokens()).isEqualTo(2e9);
        // k is for lengths only; a fraction of a token is not a length
        for (String bad : new String[] {"8m", "0.3k", "k", "8kk"}) {
            assertThatThrownBy(() -> WorkloadParser.parse(base("seq_len", bad)))
                    .isInstanceOf(InvalidInputException.class)
                    .hasMessage("seq_len: expected a positive integer of tokens (8192, or 8k = 8 × 1024), got '" + bad
                            + "'");
        }
        assertThatThrownBy(() -> WorkloadParser.parse(base("batch_size", "2k")))
                .isInstanceOf(InvalidInputException.class).hasMessage("batch_size: expected a positive integer, got '2k'");
        assertThatThrownBy(() -> WorkloadParser.parse(base("tokens", "20X")))
                .isInstanceOf(InvalidInputException.class).hasMessageStartingWith("tokens: expected a number");
    }

    @Test
    void normalizedKeysArePlainNumbersUnderTheirOwnNames() {
        Map<String, String> n = WorkloadParser.normalized(base("max-model-len", "8k", "tensor_parallel_size", "8.0",
                "tokens", "20B", "global_batch_size", "1_024", "batch_size", "max"));
        assertThat(n).containsEntry("seq_len", "8192").containsEntry("tp", "8").containsEntry("tokens", "20000000000")
                .containsEntry("global_batch_size", "1024").containsEntry("batch_size", "max")
                .doesNotContainKeys("max_model_len", "tensor_parallel_size");
        assertThatThrownBy(() -> WorkloadParser.normalized(base("gpus", "eight")))
                .isInstanceOf(InvalidInputException.class).hasMessage("gpus: expected a positive integer, got 'eight'");
    }
}
