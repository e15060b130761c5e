package org.gpuplan.perf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.gpuplan.cli.CliTest;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.gpuplan.model.Attention;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterCounter;
import org.gpuplan.report.ValidationReport;
import org.gpuplan.validate.ValidationResult;
import org.gpuplan.validate.Validator;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

class PerfModelTest {

    static final ModelResolver RESOLVER = new ModelResolver(ModelCatalog.builtIn(),
            ResolveOptions.fromEnvironment(java.util.Map.of(), false));

    static ModelSpec spec(String id) {
        return RESOLVER.resolve(id).spec().orElseThrow();
    }

    static Estimate estimate(String id, String... kv) {
        java.util.Map<String, String> raw = new java.util.LinkedHashMap<>();
        raw.put("model", id);
        for (int i = 0; i < kv.length; i += 2) {
            raw.put(kv[i], kv[i + 1]);
        }
        Workload w = WorkloadParser.parse(raw);
        return Estimator.estimate(id, spec(id), w, w.gpu().map(g -> GpuCatalog.builtIn().require(g)));
    }

    static PerfEstimate perf(String id, String... kv) {
        return estimate(id, kv).perf().orElseThrow();
    }

    @Test
    void trainingModelFlopsAreSixTimesLinearWeightsPlusCausalAttention() {
        // independent count: 6 · (all matmul weights incl. the LM head) · tokens + 6 · layers · tokens · mean keys ·
        // 2 · heads · head_dim · 2 (QKᵀ and AV)
        ModelSpec m = spec("meta-llama/Llama-3.1-8B");
        var p = ParameterCounter.count(m);
        long linear = p.totalCount() - p.count("embeddings") - p.count("norms") - p.count("lm_head")
                + (long) m.hiddenSize() * m.vocabSize();
        int b = 2, s = 4096;
        double tokens = (double) b * s;
        Attention.Standard a = (Attention.Standard) m.attention();
        double attention = 6.0 * m.numLayers() * tokens * ((s + 1) / 2.0) * 2 * a.numHeads() * a.headDim() * 2 / 2;
        double expected = 6.0 * linear * tokens + attention;
        PerfEstimate pe = perf("meta-llama/Llama-3.1-8B", "task", "train", "gpu", "H100-SXM-80GB", "batch_size", "2",
                "seq_len", "4096");
        assertThat(pe.figure("model_flops_per_step")).isCloseTo(expected, within(expected * 1e-9));
    }

    @Test
    void contextParallelismSplitsTheQueriesNotTheKeys() {
        // the same 65,536-token sequence on 8 GPUs, as FSDP 8 or FSDP 4 × CP 2: the model's work is the same, so is
        // its FLOP count per step (each CP rank runs half the queries against every earlier key of the ring)
        String[] common = {"task", "train", "framework", "fsdp", "fsdp", "full_shard", "gpu", "H100-SXM-80GB",
            "gpus", "8", "batch_size", "1", "seq_len", "65536", "checkpointing", "full", "global_batch_size", "8"};
        double noCp = perf("meta-llama/Llama-3.1-8B", common).figure("model_flops_per_step");
        String[] withCp = java.util.Arrays.copyOf(common, common.length + 4);
        withCp[common.length] = "cp";
        withCp[common.length + 1] = "2";
        withCp[common.length + 2] = "global_batch_size";
        withCp[common.length + 3] = "4";
        double cp2 = perf("meta-llama/Llama-3.1-8B", withCp).figure("model_flops_per_step");
        assertThat(cp2 * 2).isCloseTo(noCp, within(noCp * 1e-9)); // half the sequences per step, same work each
    }

    @Test
    void float8LinearsLeaveAttentionInSixteenBits() {
        // at 32k tokens attention dominates: FP8 linears may speed the GEMMs up, never the attention kernel
        String[] common = {"task", "train", "framework", "fsdp", "fsdp", "full_shard", "gpu", "H100-SXM-80GB",
            "gpus", "8", "batch_size", "1", "seq_len", "32768", "checkpointing", "full", "compile", "true"};
        String[] fp8 = java.util.Arrays.copyOf(common, common.length + 2);
        fp8[common.length] = "float8_linear";
        fp8[common.length + 1] = "true";
        double bf16 = perf("meta-llama/Llama-3.1-8B", common).figure("forward_s");
        double f8 = perf("meta-llama/Llama-3.1-8B", fp8).figure("forward_s");
        Roofline r = Roofline.of(GpuCatalog.builtIn().require("H100-SXM-80GB"), org.gpuplan.hardware.TensorDtype.FP8,
                org.gpuplan.workload.PerfOptions.DEFAULT, 0, false);
        Roofline r16 = Roofline.of(GpuCatalog.builtIn().require("H100-SXM-80GB"),
                org.gpuplan.hardware.TensorDtype.BF16, org.gpuplan.workload.PerfOptions.DEFAULT, 0, false);
        assertThat(r.attention(1e15, 0)).isEqualTo(r16.attention(1e15, 0));
        assertThat(f8).isLessThan(bf16).isGreaterThan(bf16 / 2);
    }

    @Test
    void pytorchFsdpReducesGradientsInFp32UnderMixedPrecision() {
        // all-gather 2 B per parameter forward and backward, reduce-scatter 4 B (fp32 reduce dtype) instead of 2 B
        String[] common = {"task", "train", "framework", "fsdp", "fsdp", "full_shard", "gpu", "H100-SXM-80GB",
            "gpus", "8", "batch_size", "1", "seq_len", "4096"};
        double mixed = perf("meta-llama/Llama-3.1-8B", concat(common, "precision", "bf16-mixed")).figure("dp_comm_s");
        double pure = perf("meta-llama/Llama-3.1-8B", concat(common, "precision", "bf16")).figure("dp_comm_s");
        assertThat(mixed / pure).isCloseTo((2 + 2 + 4) / 6.0, within(0.01));
    }

    @Test
    void causalKeysMatchTheDirectSum() {
        for (long s : new long[] {1, 7, 4096}) {
            for (long w : new long[] {0, 3, 4096, 10_000}) {
                double sum = 0;
                for (long i = 1; i <= s; i++) {
                    sum += w > 0 ? Math.min(i, w) : i;
                }
                assertThat(LayerShapes.causalKeys(s, w)).isCloseTo(sum / s, within(1e-9));
            }
        }
    }

    @Test
    void loraTrainsWithoutWeightGradientsOfTheBase() {
        PerfEstimate full = perf("meta-llama/Llama-3.1-8B", "task", "train", "gpu", "H100-SXM-80GB");
        PerfEstimate lora = perf("meta-llama/Llama-3.1-8B", "task", "train", "method", "lora", "gpu", "H100-SXM-80GB");
        // forward + dgrad ≈ 2/3 of forward + dgrad + wgrad
        assertThat(lora.figure("model_flops_per_step") / full.figure("model_flops_per_step")).isBetween(0.66, 0.70);
        assertThat(lora.stepTimeS()).isLessThan(full.stepTimeS());
    }

    @Test
    void shardedLoraStillGathersTheFrozenBase() {
        String[] base = {"task", "train", "gpu", "H100-SXM-80GB", "gpus", "8", "fsdp", "full_shard", "precision",
            "bf16"};
        double full = perf("meta-llama/Llama-3.1-8B", base).figure("dp_comm_s");
        double lora = perf("meta-llama/Llama-3.1-8B", java.util.stream.Stream.concat(java.util.Arrays.stream(base),
                java.util.stream.Stream.of("method", "lora")).toArray(String[]::new)).figure("dp_comm_s");
        // full: 2 all-gathers of the parameters + 1 reduce-scatter of as many gradients; LoRA: the same 2 all-gathers
        // and a reduce-scatter of the small adapter gradients
        assertThat(lora / full).isBetween(0.66, 0.68);
    }

    @Test
    void singleStreamDecodeIsMemoryBoundAndTrainingComputeBound() {
        PerfEstimate decode = perf("meta-llama/Llama-3.1-8B", "task", "infer", "gpu", "A100-SXM-80GB", "batch_size",
                "1", "prompt_len", "16", "output_len", "256", "framework", "vllm");
        assertThat(decode.bound()).isEqualTo("memory-bound");
        // a decode step must stream all weights at least once: time ≥ weight bytes / peak bandwidth
        double weights = 2.0 * ParameterCounter.count(spec("meta-llama/Llama-3.1-8B")).totalCount();
        assertThat(decode.tpotS()).isGreaterThan(weights / 2.039e12);
        assertThat(decode.memoryBandwidthUtilization()).isGreaterThan(0.5);
        PerfEstimate train = perf("meta-llama/Llama-3.1-8B", "task", "train", "gpu", "H100-SXM-80GB", "batch_size",
                "4", "seq_len", "4096", "checkpointing", "full");
        assertThat(train.bound()).isEqualTo("compute-bound");
        assertThat(train.mfu()).isBetween(0.2, 0.8);
        assertThat(train.figure("hfu")).isGreaterThan(train.mfu());
    }

    @Test
    void propertiesOverRandomWorkloads() {
        Random r = new Random(7);
        List<String> models = List.of("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-30B-A3B", "google/gemma-2-9b",
                "mistralai/Mixtral-8x7B-v0.1", "deepseek-ai/DeepSeek-V3");
        List<String> gpus = List.of("H100-SXM-80GB", "A100-SXM-80GB", "L40S", "B200-SXM-180GB", "MI300X");
        for (int i = 0; i < 60; i++) {
            String model = models.get(r.nextInt(models.size()));
            String gpu = gpus.get(r.nextInt(gpus.size()));
            int c = 1 << r.nextInt(7);
            String[] base = {"task", "infer", "framework", "vllm", "gpu", gpu, "prompt_len", String.valueOf(
                    128 << r.nextInt(5)), "output_len", String.valueOf(64 << r.nextInt(4)), "gpus", "8", "tp", "8"};
            PerfEstimate small = perf(model, concat(base, "batch_size", String.valueOf(c)));
            PerfEstimate big = perf(model, concat(base, "batch_size", String.valueOf(2 * c)));
            // batching: each token waits about as long or longer (2 % slack: one sequence decodes through a CUDA-core
            // GEMV, two through tensor cores), the GPU produces at least as many tokens per second
            assertThat(big.tpotS()).as("%s %s c=%d", model, gpu, c).isGreaterThanOrEqualTo(small.tpotS() * 0.98);
            assertThat(big.outputTokensPerS()).as("%s %s c=%d", model, gpu, c)
                    .isGreaterThanOrEqualTo(small.outputTokensPerS() * 0.999);
            for (PerfEstimate pe : List.of(small, big)) {
                assertThat(pe.computeUtilization()).isBetween(0.0, 1.0);
                assertThat(pe.memoryBandwidthUtilization()).isBetween(0.0, 1.0);
                assertThat(pe.ttftS()).isPositive().isFinite();
            }
        }
        for (int i = 0; i < 40; i++) {
            String model = models.get(r.nextInt(3));
            String[] base = {"task", "train", "framework", "fsdp", "fsdp", "full_shard", "gpu", "H100-SXM-80GB",
                "batch_size", "1", "seq_len", String.valueOf(1024 << r.nextInt(3)), "checkpointing", "full"};
            int g = 16 << r.nextInt(3); // both layouts span nodes: the same network carries the shards
            PerfEstimate fewer = perf(model, concat(base, "gpus", String.valueOf(g), "nodes", String.valueOf(g / 8)));
            PerfEstimate more = perf(model, concat(base, "gpus", String.valueOf(2 * g), "nodes", String.valueOf(g / 4)));
            // more data-parallel GPUs never lower total throughput, never raise per-GPU throughput
            assertThat(more.tokensPerS()).isGreaterThan(fewer.tokensPerS());
            assertThat(more.figure("tokens_per_s_per_gpu")).isLessThanOrEqualTo(
                    fewer.figure("tokens_per_s_per_gpu") * 1.0001);
            assertThat(fewer.mfu()).isBetween(0.0, 1.0);
        }
    }

    @Test
    void overlappingTensorParallelCommunicationNeverSlowsAStep() {
        String[] base = {"task", "train", "framework", "megatron", "gpu", "H100-SXM-80GB", "gpus", "16", "nodes", "2",
            "tp", "8", "zero", "1", "sequence_parallel", "true", "seq_len", "4096", "batch_size", "1"};
        double plain = perf("meta-llama/Llama-3.1-70B-Instruct", base).stepTimeS();
        double overlap = perf("meta-llama/Llama-3.1-70B-Instruct", concat(base, "tp_comm_overlap", "true"))
                .stepTimeS();
        assertThat(overlap).isLessThan(plain);
    }

    @Test
    void trainTimeAndGpuHoursFollowTheTokenBudget() {
        PerfEstimate pe = perf("meta-llama/Llama-3.1-8B", "task", "train", "gpu", "H100-SXM-80GB", "gpus", "8",
                "fsdp", "full_shard", "batch_size", "2", "seq_len", "8192", "tokens", "20e9");
        assertThat(pe.trainTimeS()).isCloseTo(20e9 / pe.tokensPerS(), within(1e-6 * pe.trainTimeS()));
        assertThat(pe.gpuHours()).isCloseTo(pe.trainTimeS() * 8 / 3600, within(1e-9 * pe.gpuHours()));
    }

    @Test
    void batchSizeMaxServesAtThePoolsConcurrency() {
        Estimate e = estimate("meta-llama/Llama-3.1-8B", "task", "infer", "framework", "vllm", "gpu",
                "H100-SXM-80GB", "prompt_len", "1000", "output_len", "1000", "batch_size", "max");
        double maxConc = e.memory().pool().orElseThrow().maxConcurrency();
        assertThat(e.workload().batchSize()).isEqualTo((int) Math.min(Math.floor(maxConc), 1024));
        assertThat(e.perf().orElseThrow().maxConcurrency()).isCloseTo(maxConc, within(1e-9));
    }

    @Test
    void ttftIsTheSteadyStateOfClientsInAClosedLoop() {
        String[] serve = {"task", "infer", "framework", "vllm", "gpu", "H100-SXM-80GB", "prompt_len", "2048",
            "output_len", "256"};
        // one client: its own prefill, nothing to wait for
        PerfEstimate one = perf("meta-llama/Llama-3.1-8B", concat(serve, "batch_size", "1"));
        assertThat(one.ttftS()).isEqualTo(one.figure("prefill_gpu_s"));
        assertThat(one.figure("ttft_burst_s")).isNaN();
        // 16 clients: own prefill p + half a decode step + the M/D/1 wait ρ·p / (2(1 − ρ)), ρ the prefill share of a
        // cycle (prefill of the 16 prompts + 256 decode steps)
        PerfEstimate many = perf("meta-llama/Llama-3.1-8B", concat(serve, "batch_size", "16"));
        double p = one.ttftS();
        double step = many.figure("decode_step_s");
        double rho = many.figure("prefill_gpu_s") / (many.figure("prefill_gpu_s") + 256 * step);
        assertThat(many.ttftS()).isCloseTo(p + rho * p / (2 * (1 - rho)) + step / 2, within(1e-12));
        // all 16 arriving at once wait longer: the median request of the wave sits behind 8.5 prompts' prefill
        assertThat(many.figure("ttft_burst_s")).isGreaterThan(many.ttftS());
    }

    @Test
    void estimateJsonCarriesThePerfContract() throws Exception {
        CliTest.Result train = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--gpu",
                "H100-SXM-80GB", "--gpus", "8", "--fsdp", "full_shard", "--batch-size", "2", "--seq-len", "8192",
                "--tokens", "20e9", "--json");
        assertThat(train.code()).isZero();
        JsonNode p = new ObjectMapper().readTree(train.out()).get("perf");
        for (String key : List.of("step_time_s", "tokens_per_s", "mfu", "model_tflops_per_gpu", "train_time_s",
                "gpu_hours", "compute_utilization", "memory_bandwidth_utilization")) {
            assertThat(p.get(key).isNumber()).as(key).isTrue();
        }
        CliTest.Result infer = CliTest.run("estimate", "meta-llama/Llama-3.1-70B-Instruct", "--task", "infer",
                "--framework", "vllm", "--gpu", "H100-SXM-80GB", "--gpus", "2", "--tp", "2", "--prompt-len", "1000",
                "--output-len", "1000", "--batch-size", "max", "--json");
        assertThat(infer.code()).as(infer.err()).isZero();
        JsonNode q = new ObjectMapper().readTree(infer.out()).get("perf");
        for (String key : List.of("ttft_s", "tpot_s", "output_tokens_per_s", "max_concurrency",
                "compute_utilization", "memory_bandwidth_utilization")) {
            assertThat(q.get(key).isNumber()).as(key).isTrue();
        }
        assertThat(q.get("figures").size()).isGreaterThan(4);
        q.get("figures").forEach(f -> assertThat(f.get("formula").asText()).isNotBlank());
    }

    @Test
    void badPerfInputsGetOneLineErrors() {
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--tokens",
                "lots"), "tokens");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--gpu", "H100",
                "--batch-size", "max"), "batch_size", "infer");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--gpu", "H100",
                "--matmul-efficiency", "1.5"), "matmul_efficiency");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "infer",
                "--batch-size", "max"), "batch_size", "gpu");
    }

    @Test
    void publishedDecodeRatesAreWithinTheInferenceBar() {
        List<ValidationResult> rs = new Validator(RESOLVER, GpuCatalog.builtIn()).run(Validator.builtIn().stream()
                .filter(c -> c.kind().equals("perf-decode")).toList());
        assertThat(rs).allSatisfy(r -> assertThat(r.predicted()).isPresent());
        // gpt-fast decode rates (A100, batch 1, bf16/int8/int4, TP 1–8): median |error| within the 20 %
        assertThat(ValidationReport.medianAbsError(rs)).isLessThan(0.20);
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void smallEagerStepsAreHostBoundAndTheStepIsTheLongerOfGpuAndHostTimePlusTheUnhiddenShare() {
        String[] small = {"task", "train", "gpu", "H200-SXM-141GB", "precision", "bf16", "batch_size", "2",
            "seq_len", "1024"};
        PerfEstimate p = perf("Qwen/Qwen2.5-0.5B", small);
        double gpu = p.figure("gpu_time_s");
        double host = p.figure("host_time_s");
        assertThat(host).isGreaterThan(gpu); // 24 layers of small kernels: the H200 runs them faster than Python issues
        assertThat(p.bound()).isEqualTo("host-bound");
        assertThat(p.stepTimeS()).isCloseTo(host + TrainingPerf.HOST_GPU_EXPOSED * gpu, within(1e-12));
        // the host term is kernels × the per-kernel cost: doubling the override doubles it exactly
        String[] slow = java.util.Arrays.copyOf(small, small.length + 2);
        slow[small.length] = "host_overhead_us";
        slow[small.length + 1] = "40";
        assertThat(perf("Qwen/Qwen2.5-0.5B", slow).figure("host_time_s")).isCloseTo(2 * host, within(1e-12));
        slow[small.length + 1] = "0";
        assertThat(perf("Qwen/Qwen2.5-0.5B", slow).stepTimeS()).isEqualTo(gpu); // no host: the GPU alone
        // an 8B step keeps the GPU busy: the host never sets its pace
        PerfEstimate big = perf("meta-llama/Llama-3.1-8B", "task", "train", "gpu", "H200-SXM-141GB", "precision",
                "bf16", "batch_size", "1", "seq_len", "2048", "checkpointing", "full");
        assertThat(big.figure("gpu_time_s")).isGreaterThan(big.figure("host_time_s"));
        assertThat(big.stepTimeS()).isCloseTo(big.figure("gpu_time_s") + TrainingPerf.HOST_GPU_EXPOSED
                * big.figure("host_time_s"), within(1e-12));
        assertThat(big.bound()).isNotEqualTo("host-bound");
    }

    @Test
    void optimizerTrafficFollowsTheImplementation() {
        // torch AdamW foreach: 20 accesses per parameter in its dtype; fused: 7 (bf16 parameters: 2 bytes each)
        String[] base = {"task", "train", "gpu", "H200-SXM-141GB", "precision", "bf16", "batch_size", "1",
            "seq_len", "512"};
        double foreach = perf("Qwen/Qwen2.5-0.5B", base).figure("optimizer_s");
        String[] fused = java.util.Arrays.copyOf(base, base.length + 2);
        fused[base.length] = "optimizer";
        fused[base.length + 1] = "adamw-fused";
        assertThat(perf("Qwen/Qwen2.5-0.5B", fused).figure("optimizer_s") / foreach).isCloseTo(7.0 / 20, within(1e-9));
    }

    @Test
    void firstGenerationFlashAttentionKeepsTheSameTensorsAtAboutHalfTheSpeed() {
        String[] base = {"task", "train", "gpu", "A100-SXM-80GB", "batch_size", "1", "seq_len", "32768",
            "checkpointing", "full"};
        String[] fa2 = java.util.stream.Stream.concat(java.util.Arrays.stream(base),
                java.util.stream.Stream.of("attention", "flash")).toArray(String[]::new);
        String[] fa1 = java.util.stream.Stream.concat(java.util.Arrays.stream(base),
                java.util.stream.Stream.of("attention", "triton")).toArray(String[]::new);
        Estimate two = estimate("openai-community/gpt2-medium", fa2);
        Estimate one = estimate("openai-community/gpt2-medium", fa1);
        assertThat(one.workload().attention()).isEqualTo(org.gpuplan.workload.AttentionImpl.FLASH1);
        assertThat(one.memory().peakAllocated()).isEqualTo(two.memory().peakAllocated());
        // attention dominates at 32k tokens: the step takes longer, by at most the kernels' speed ratio 0.60 / 0.325
        double ratio = one.perf().orElseThrow().stepTimeS() / two.perf().orElseThrow().stepTimeS();
        assertThat(ratio).isGreaterThan(1.4).isLessThan(0.60 / 0.325);
    }

    /**
     * The NVLink domain ends at the node: eight 1-GPU nodes all-reduce gradients over the network, eight GPUs in one
     * node over NVLink (2(n−1)/n · bytes / bandwidth with the catalog's link and network figures); a rack-scale
     * NVL72 domain spans its 4-GPU trays.
     */
    @Test
    void dataParallelTrafficLeavesTheNodeOnlyWhenTheNodeEnds() {
        String[] base = {"task", "train", "framework", "megatron", "zero", "1", "gpus", "8", "batch_size", "1",
            "seq_len", "2048"};
        java.util.function.BiFunction<String, String, Double> comm = (gpu, nodes) -> {
            String[] kv = java.util.Arrays.copyOf(base, base.length + 4);
            kv[base.length] = "gpu";
            kv[base.length + 1] = gpu;
            kv[base.length + 2] = "nodes";
            kv[base.length + 3] = nodes;
            return perf("meta-llama/Llama-3.1-8B", kv).figure("dp_comm_s");
        };
        var ic = GpuCatalog.builtIn().require("H100-SXM-80GB").interconnect();
        double oneNode = comm.apply("H100-SXM-80GB", "1");
        double eightNodes = comm.apply("H100-SXM-80GB", "8");
        assertThat(eightNodes / oneNode).isCloseTo(ic.linkGBs() / Math.min(ic.networkGBs(), ic.linkGBs()),
                within(0.05 * ic.linkGBs() / ic.networkGBs()));
        assertThat(comm.apply("GB200", "2")).isEqualTo(comm.apply("GB200", "1"));
    }
}
