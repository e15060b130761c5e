package org.gpuplan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EstimateCliTest {

    @TempDir
    Path tmp;

    static final List<String> MEMORY_KEYS = List.of("weights_bytes", "gradients_bytes", "optimizer_bytes",
            "activations_bytes", "kv_cache_bytes", "temporary_bytes", "overhead_bytes", "peak_allocated_bytes",
            "peak_reserved_bytes", "device_used_bytes");

    @Test
    void trainingJsonHasTheContractKeysAsIntegers() throws Exception {
        CliTest.Result r = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--method", "qlora",
                "--gpu", "RTX-4090", "--batch-size", "2", "--seq-len", "2048", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode mem = new ObjectMapper().readTree(r.out()).get("memory");
        for (String key : MEMORY_KEYS) {
            assertThat(mem.get(key)).as(key).isNotNull();
            assertThat(mem.get(key).isIntegralNumber()).as(key).isTrue();
        }
        assertThat(mem.get("peak_allocated_bytes").asLong()).isLessThanOrEqualTo(mem.get("peak_reserved_bytes")
                .asLong());
    }

    @Test
    void servingJsonReportsThePool() throws Exception {
        CliTest.Result r = CliTest.run("estimate", "Qwen/Qwen2.5-7B", "--task", "infer", "--framework", "vllm",
                "--gpu", "L40S", "--seq-len", "8192", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode mem = new ObjectMapper().readTree(r.out()).get("memory");
        assertThat(mem.get("kv_pool_bytes").asLong()).isPositive();
        assertThat(mem.get("kv_cache_capacity_tokens").asLong()).isPositive();
        assertThat(mem.get("max_concurrency").asDouble()).isPositive();
        assertThat(mem.get("kv_cache_total_bytes").asLong()).isEqualTo(mem.get("kv_cache_bytes").asLong());
    }

    @Test
    void textShowsTermsPhasesPeaksAndFit() {
        CliTest.Result r = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--gpu",
                "H100-SXM-80GB", "--batch-size", "1", "--seq-len", "4096", "--explain");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("weights", "optimizer states", "activations", "← peak",
                "torch.cuda.max_memory_allocated", "nvidia-smi", "FIT", "Assumptions", "█");
    }

    @Test
    void workloadFileAndFlagsCombine() throws Exception {
        Path job = tmp.resolve("job.yaml");
        Files.writeString(job, "model: Qwen/Qwen2.5-0.5B\ntask: train\nbatch_size: 2\nseq_len: 512\n");
        CliTest.Result r = CliTest.run("estimate", "--workload", job.toString(), "--batch-size", "4", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(new ObjectMapper().readTree(r.out()).at("/workload/batch_size").asInt()).isEqualTo(4);
    }

    @Test
    void badWorkloadsAreOneLineErrors() {
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--gpu", "H1000"),
                "unknown GPU 'H1000'", "H100-SXM-80GB");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--precision", "bf17"),
                "precision", "bf16-mixed");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--gpus", "8", "--tp", "3"),
                "must divide gpus");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--gpus", "24", "--tp", "24"),
                "does not divide the 32 attention heads");
        for (String zero : new String[] {"2", "3"}) {
            CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                    "--framework", "deepspeed", "--zero", zero, "--pp", "2", "--gpus", "4"),
                    "DeepSpeed refuses ZeRO-" + zero + " with pipeline parallelism", "zero 0 or 1");
        }
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--framework", "megatron", "--zero", "3", "--gpus", "8"), "distributed optimizer", "zero 1");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--framework", "fsdp", "--zero", "2", "--gpus", "8"), "ZeRO stages are DeepSpeed's", "shard_grad_op");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--framework", "fsdp", "--fsdp", "full_shard", "--gpus", "8", "--offload-optimizer", "nvme"),
                "NVMe offload is DeepSpeed's", "use cpu");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--framework", "deepspeed", "--zero", "2", "--gpus", "8", "--offload-optimizer", "nvme"),
                "ZeRO-3 feature", "--zero 3");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--quant", "nf4"), "cannot be trained", "--method qlora");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer",
                "--framework", "llama.cpp", "--quant", "nf4"), "llama.cpp runs GGUF types", "q4_k_m");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer",
                "--framework", "tensorrt-llm", "--gpu", "H100-SXM-80GB", "--quant", "nf4"), "TensorRT-LLM does not "
                + "load nf4", "awq-4bit");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--framework", "megatron", "--optimizer", "paged-adamw-8bit"), "Megatron-LM offers adam", "sgd");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--method", "lora",
                "--lora-targets", "attn"), "lora_targets", "q_proj");
        CliTest.assertOneLineError(CliTest.run("estimate", "Qwen/Qwen2.5-7B", "--task", "infer", "--framework",
                "vllm"), "--gpu");
        CliTest.assertOneLineError(CliTest.run("estimate"), "model");
        CliTest.assertOneLineError(CliTest.run("estimate", "Qwen/Qwen2.5-0.5B", "--task", "train",
                "--pytorch-cuda-alloc-conf", "expandable_segments:maybe"), "pytorch_cuda_alloc_conf", "True or False");
        CliTest.assertOneLineError(CliTest.run("estimate", "Qwen/Qwen2.5-0.5B", "--task", "train",
                "--pytorch-cuda-alloc-conf", "expandable_segments:True", "--expandable-segments", "false"),
                "expandable_segments", "give one of them");
        // sizes whose bytes saturate or overflow 64-bit arithmetic are refused, not printed as negative peaks
        for (String framework : new String[] {"hf", "vllm", "llama.cpp"}) {
            CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-2-7b-hf", "--task", "infer",
                    "--framework", framework, "--gpu", "H100", "--seq-len", "2000000000", "--batch-size",
                    "2000000000"), "seq_len, batch_size", "64 PiB");
        }
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-2-7b-hf", "--task", "train",
                "--seq-len", "2000000000", "--batch-size", "2000000000"), "seq_len, batch_size");
        // without a GPU nothing stops the sizes before the allocator replays; its tensors must not overflow
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-2-7b-hf", "--task", "infer",
                "--seq-len", "2000000000", "--batch-size", "1000000"), "seq_len, batch_size");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--loss-impl", "fused"), "loss_impl", "fused-linear");
    }

    @Test
    void validateAndGpusCommands() {
        CliTest.Result v = CliTest.run("validate");
        assertThat(v.code()).as(v.err()).isZero();
        assertThat(v.out()).contains("measured", "predicted", "median |err|", "peft-mmqa-full-ft-3b");
        CliTest.Result g = CliTest.run("gpus");
        assertThat(g.code()).isZero();
        assertThat(g.out()).contains("H100-SXM-80GB", "RTX-4090", "L40S");
    }

    @Test
    void otherToolsFlagsAndHumanNumbersGiveTheSameEstimate() throws Exception {
        CliTest.Result ours = CliTest.run("estimate", "Qwen/Qwen2.5-7B", "--task", "infer", "--framework", "vllm",
                "--gpu", "L40S", "--gpus", "2", "--tp", "2", "--seq-len", "8192", "--kv-dtype", "fp8", "--json");
        CliTest.Result vllm = CliTest.run("estimate", "Qwen/Qwen2.5-7B", "--task", "infer", "--framework", "vllm",
                "--gpu", "L40S", "--gpus", "2", "--tensor-parallel-size", "2", "--max-model-len", "8k",
                "--kv-cache-dtype", "fp8", "--json");
        assertThat(ours.code()).as(ours.err()).isZero();
        assertThat(vllm.code()).as(vllm.err()).isZero();
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(vllm.out()).get("memory")).isEqualTo(json.readTree(ours.out()).get("memory"));
        CliTest.Result hf = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--method", "lora",
                "--gpu", "A100-SXM-80GB", "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "2",
                "--gradient-checkpointing", "--optim", "adamw_torch_fused", "--attn-implementation",
                "flash_attention_2", "--lora-r", "16", "--target-modules", "q_proj,v_proj", "--json");
        assertThat(hf.code()).as(hf.err()).isZero();
        JsonNode w = json.readTree(hf.out()).get("workload");
        assertThat(w.get("batch_size").asInt()).isEqualTo(4);
        assertThat(w.get("checkpointing").asText()).isEqualTo("full");
        assertThat(w.get("optimizer").asText()).isEqualTo("adamw-fused");
    }

    @Test
    void transformersAndOllamaHabitsNameTheSameWorkload() throws Exception {
        ObjectMapper json = new ObjectMapper();
        CliTest.Result ours = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--method",
                "qlora", "--quant", "nf4", "--precision", "fp16", "--gpu", "T4", "--json");
        CliTest.Result hf = CliTest.run("estimate", "--model", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--method", "qlora", "--load-in-4bit", "--torch-dtype", "float16", "--framework", "trl", "--gpu", "T4",
                "--json");
        assertThat(ours.code()).as(ours.err()).isZero();
        assertThat(hf.code()).as(hf.err()).isZero();
        assertThat(json.readTree(hf.out()).get("memory")).isEqualTo(json.readTree(ours.out()).get("memory"));
        CliTest.Result eight = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer", "--load-in-8bit", "--json");
        assertThat(json.readTree(eight.out()).get("workload").get("quant").asText()).isEqualTo("int8");
        CliTest.Result ollama = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer",
                "--framework", "ollama", "--quant", "q4_k_m", "--json");
        assertThat(json.readTree(ollama.out()).get("workload").get("framework").asText()).isEqualTo("llama.cpp");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--model", "Qwen/Qwen2.5-7B"),
                "model: given twice");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--load-in-4bit",
                "--load-in-8bit"), "quant: given twice", "load_in_8bit");
    }

    @Test
    void aServingPoolThatCannotHoldOneSequenceIsAJobThatDoesNotStart() throws Exception {
        // Llama-3.1-70B in FP8 on one H100 at 8k: the weights leave a pool of about 5,700 tokens; vLLM checks
        // max_model_len against the pool's capacity at start-up and refuses
        CliTest.Result r = CliTest.run("estimate", "meta-llama/Llama-3.1-70B", "--task", "infer", "--framework",
                "vllm", "--gpu", "H100", "--seq-len", "8192", "--quant", "fp8");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("FITS in memory on H100-SXM-80GB", "less than one 8,192-token sequence",
                "What to change to fit", "tensor parallelism over 2 GPUs");
        assertThat(r.out()).contains("vLLM refuses to start").doesNotContain("queues or preempts");
        // at 4k the job runs, but only with --max-model-len: vLLM's default is the model's 131,072-token context
        CliTest.Result small = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer", "--framework",
                "vllm", "--gpu", "L4", "--seq-len", "4096");
        assertThat(small.out()).contains("max_model_len defaults to the model's context (131,072 tokens)",
                "without --max-model-len (here 4,096) vLLM refuses to start").doesNotContain("FITS in memory");
        CliTest.Result j = CliTest.run("estimate", "meta-llama/Llama-3.1-70B", "--task", "infer", "--framework",
                "vllm", "--gpu", "H100", "--seq-len", "8192", "--quant", "fp8", "--json");
        JsonNode fit = new ObjectMapper().readTree(j.out()).get("fit");
        assertThat(fit.get("fits").asBoolean()).isTrue();
        assertThat(fit.get("kv_pool_holds_one_sequence").asBoolean()).isFalse();
    }

    @Test
    void enforceEagerDropsTheGraphPoolsAndIssuesDecodeKernelsFromTheHost() throws Exception {
        ObjectMapper json = new ObjectMapper();
        for (String tp : new String[] {"1", "2"}) {
            CliTest.Result graphs = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer", "--framework",
                    "vllm", "--gpu", "H100", "--gpus", tp, "--tp", tp, "--vllm-version", "0.19.1", "--json");
            CliTest.Result eager = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer", "--framework",
                    "vllm", "--gpu", "H100", "--gpus", tp, "--tp", tp, "--vllm-version", "0.19.1", "--enforce-eager",
                    "--json");
            assertThat(eager.code()).as(eager.err()).isZero();
            JsonNode g = json.readTree(graphs.out());
            JsonNode e = json.readTree(eager.out());
            // before vLLM 0.21 the assumed 512 MiB of CUDA graph pools are outside the budget: they are gone and the
            // pool is the same
            assertThat(g.get("memory").get("device_used_bytes").asLong() - e.get("memory").get("device_used_bytes")
                    .asLong()).as("tp %s", tp).isEqualTo(512L << 20);
            assertThat(e.get("memory").get("kv_pool_bytes")).isEqualTo(g.get("memory").get("kv_pool_bytes"));
            assertThat(e.get("perf").get("tpot_s").asDouble()).isGreaterThan(g.get("perf").get("tpot_s").asDouble());
            // from 0.21 (the default) they are inside it: without them the pool takes their 512 MiB (to a block)
            JsonNode now = json.readTree(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer",
                    "--framework", "vllm", "--gpu", "H100", "--gpus", tp, "--tp", tp, "--json").out());
            JsonNode nowEager = json.readTree(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer",
                    "--framework", "vllm", "--gpu", "H100", "--gpus", tp, "--tp", tp, "--enforce-eager", "--json")
                    .out());
            long block = 16L * 128 * 1024 / Integer.parseInt(tp);
            assertThat(nowEager.get("memory").get("kv_pool_bytes").asLong() - now.get("memory").get("kv_pool_bytes")
                    .asLong()).as("tp %s", tp).isBetween((512L << 20) - block, (512L << 20) + block);
        }
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--enforce-eager"), "enforce_eager", "--task infer");
    }

    @Test
    void cpuOffloadGbMovesWeightsToTheHostAndReadsThemOverTheHostLink() throws Exception {
        // vLLM's own example: a 13B model in bf16 (about 26 GB) on a 24 GB card with --cpu-offload-gb 10
        ObjectMapper json = new ObjectMapper();
        JsonNode plain = json.readTree(CliTest.run("estimate", "meta-llama/Llama-2-13b-hf", "--task", "infer",
                "--framework", "vllm", "--gpu", "RTX-4090", "--json").out());
        CliTest.Result r = CliTest.run("estimate", "meta-llama/Llama-2-13b-hf", "--task", "infer", "--framework",
                "vllm", "--gpu", "RTX-4090", "--cpu-offload-gb", "10", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode off = json.readTree(r.out());
        assertThat(plain.get("fit").get("fits").asBoolean()).isFalse();
        assertThat(off.get("fit").get("fits").asBoolean()).isTrue();
        assertThat(plain.get("memory").get("weights_bytes").asLong() - off.get("memory").get("weights_bytes").asLong())
                .isEqualTo(10L << 30);
        assertThat(off.get("host_memory_bytes").asLong()).isEqualTo(10L << 30);
        // every decode step reads the 10 GiB over PCIe 4.0 x16 (32 GB/s at 80 %): at least 0.4 s per token
        assertThat(off.get("perf").get("tpot_s").asDouble()).isGreaterThan(10.0 * (1L << 30) / (32e9 * 0.8));
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-2-13b-hf", "--task", "infer",
                "--framework", "llama.cpp", "--cpu-offload-gb", "10"), "cpu_offload_gb", "n_gpu_layers");
    }

    @Test
    void planReadsHumanNumbersWithoutAnInternalError() {
        // plain, underscored, decimal-suffixed and fractional spellings of the same integers
        CliTest.Result r = CliTest.run("plan", "meta-llama/Llama-3.1-8B", "--task", "train", "--gpu", "H100-SXM-80GB",
                "--gpus", "8.0", "--tokens", "20B", "--seq-len", "4k", "--global-batch-size", "1_6");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).doesNotContain("internal error");
        assertThat(r.out()).contains("8 × H100-SXM-80GB");
    }

    @Test
    void warningsAboutTheModelReachTheEstimate() throws Exception {
        CliTest.Result r = CliTest.run("estimate", "meta-llama/Llama-3.1-8B-Instruct", "--task", "infer", "--gpu",
                "L4", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(new ObjectMapper().readTree(r.out()).get("warnings").toString())
                .contains("estimated with the architecture of meta-llama/Llama-3.1-8B");
        CliTest.Result plan = CliTest.run("fit", "meta-llama/Llama-3.1-8B-Instruct", "--task", "train", "--method",
                "qlora", "--gpu", "RTX-4090", "--max", "seq-len", "--json");
        assertThat(plan.code()).as(plan.err()).isZero();
        assertThat(plan.err()).startsWith("gpuplan: warning: meta-llama/Llama-3.1-8B-Instruct is not in the built-in");
        new ObjectMapper().readTree(plan.out()); // stdout stays JSON
    }

    @Test
    void acceleratorsOtherThanNvidiaSayWhatTheEstimateAssumes() {
        CliTest.Result amd = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer", "--framework",
                "vllm", "--gpu", "MI300X");
        assertThat(amd.code()).as(amd.err()).isZero();
        assertThat(amd.out()).contains("device used (rocm-smi)", "runs ROCm").doesNotContain("nvidia-smi");
        CliTest.Result tpu = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer", "--framework",
                "vllm", "--gpu", "TPU-v5p");
        assertThat(tpu.code()).as(tpu.err()).isZero();
        assertThat(tpu.out()).contains("is not a CUDA device", "XLA (TPU)", "device used (device)");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer",
                "--framework", "tensorrt-llm", "--gpu", "MI300X"), "tensorrt-llm runs on NVIDIA GPUs only");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer",
                "--framework", "llama.cpp", "--gpu", "Gaudi3"), "llama.cpp has no Gaudi3 backend");
    }

    @Test
    void aJobThatDoesNotFitListsWhatWouldMakeItFit() throws Exception {
        CliTest.Result r = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--gpu", "RTX-4090",
                "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(r.out());
        assertThat(root.get("fit").get("fits").asBoolean()).isFalse();
        JsonNode changes = root.get("changes");
        assertThat(changes).isNotNull();
        // every change that says it fits needs no more than the GPU holds
        long available = root.get("fit").get("available_bytes").asLong();
        assertThat(changes).anySatisfy(c -> assertThat(c.get("fits").asBoolean()).isTrue());
        for (JsonNode c : changes) {
            if (c.get("fits").asBoolean()) {
                assertThat(c.get("required_bytes").asLong()).as(c.get("change").asText()).isLessThanOrEqualTo(available);
            }
        }
        CliTest.Result text = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--gpu", "RTX-4090");
        assertThat(text.out()).contains("DOES NOT FIT", "What to change to fit", "✓ QLoRA");
        CliTest.Result fits = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--method", "qlora",
                "--gpu", "RTX-4090", "--json");
        assertThat(new ObjectMapper().readTree(fits.out()).has("changes")).isFalse();
    }
}
