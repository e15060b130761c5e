package org.gpuplan.plan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import org.gpuplan.cli.CliTest;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.hardware.PriceCatalog;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Parallelism;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

public class PlannerTest {

    static final ModelResolver RESOLVER = new ModelResolver(ModelCatalog.builtIn(),
            ResolveOptions.fromEnvironment(Map.of(), false));

    public static ModelSpec spec(String id) {
        return RESOLVER.resolve(id).spec().orElseThrow();
    }

    static Map<String, String> keys(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    static Planner.Result plan(String model, Map<String, String> fixed, OptionalDouble deadline) {
        Map<String, String> f = new LinkedHashMap<>(fixed);
        f.put("model", model);
        PlanRequest req = new PlanRequest(model, spec(model), f, PlanRequest.Objective.COST, deadline,
                OptionalDouble.empty(), 1024, List.of(), List.of(), Optional.empty(), false, Set.of(),
                OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty());
        return Planner.plan(req, GpuCatalog.builtIn(), PriceCatalog.builtIn(), p -> { });
    }

    @Test
    void plansTrlTrainersOnTransformersShardedByAccelerate() {
        // full-parameter DPO with precomputed reference log-probabilities: the plans run on transformers (sharded with
        // FSDP or ZeRO where they use several GPUs), and every plan is the estimator's own answer that fits
        Planner.Result dpo = plan("meta-llama/Llama-3.1-8B", keys("task", "train", "trainer", "dpo",
                "precompute_ref_log_probs", "true", "tokens", "2e8"),
                OptionalDouble.of(48 * 3600));
        assertThat(dpo.plans()).isNotEmpty();
        for (Plan p : dpo.plans()) {
            assertThat(p.estimate().workload().trainer()).isEqualTo(org.gpuplan.workload.Trainer.DPO);
            assertThat(p.estimate().workload().framework()).isEqualTo(org.gpuplan.workload.Framework.HF);
            assertThat(p.estimate().fit().orElseThrow().fits()).isTrue();
        }
        // GRPO: the step time a plan reports includes the generation of each step's completions
        Planner.Result grpo = plan("Qwen/Qwen2.5-7B", keys("task", "train", "trainer", "grpo", "method", "lora",
                "tokens", "1e8"), OptionalDouble.of(24 * 3600));
        assertThat(grpo.plans()).isNotEmpty();
        var perf = grpo.plans().get(0).estimate().perf().orElseThrow();
        assertThat(perf.figure("generation_s")).isPositive().isLessThan(perf.stepTimeS());
    }

    @Test
    void neverProposesAPlanThatDoesNotFitOrMissesTheDeadline() {
        Planner.Result r = plan("meta-llama/Llama-3.1-8B", keys("task", "train", "tokens", "1e9", "seq_len", "4096"),
                OptionalDouble.of(24 * 3600));
        assertThat(r.plans()).isNotEmpty();
        for (Plan p : r.plans()) {
            assertThat(p.estimate().fit().orElseThrow().fits()).as(p.workload().toString()).isTrue();
            assertThat(p.timeS()).isLessThanOrEqualTo(24 * 3600);
            assertThat(p.costUsd()).isPositive();
        }
        // ranked by cost
        for (int i = 1; i < r.plans().size(); i++) {
            assertThat(r.plans().get(i).costUsd()).isGreaterThanOrEqualTo(r.plans().get(i - 1).costUsd());
        }
    }

    @Test
    void thePruningBoundNeverRejectsALayoutThatFits() {
        java.util.Random rnd = new java.util.Random(11);
        List<String> models = List.of("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B-Instruct",
                "Qwen/Qwen2.5-14B", "mistralai/Mixtral-8x7B-v0.1");
        List<String> gpus = List.of("RTX-4090", "L40S", "A100-SXM-80GB", "H100-SXM-80GB");
        int checked = 0;
        for (int i = 0; i < 600; i++) {
            String model = models.get(rnd.nextInt(models.size()));
            var gpu = GpuCatalog.builtIn().require(gpus.get(rnd.nextInt(gpus.size())));
            String method = List.of("full", "lora", "qlora").get(rnd.nextInt(3));
            String opt = List.of("adamw", "adamw-8bit", "sgd").get(rnd.nextInt(3));
            int tp = 1 << rnd.nextInt(3);
            int pp = 1 << rnd.nextInt(2);
            int dp = 1 << rnd.nextInt(3);
            int cp = 1 << rnd.nextInt(2);
            String[] shard = List.<String[]>of(new String[0], new String[] {"fsdp", "full_shard"},
                    new String[] {"fsdp", "no_shard"}, new String[] {"fsdp", "shard_grad_op"},
                    new String[] {"fsdp", "hybrid_shard"}, new String[] {"zero", "1"}, new String[] {"zero", "2"},
                    new String[] {"zero", "3"}).get(rnd.nextInt(8));
            if (dp == 1) {
                shard = new String[0];
            }
            long params = org.gpuplan.model.ParameterCounter.count(spec(model)).totalCount();
            double bound = Planner.lowerBoundBytes(params, method, opt, tp, pp, dp * cp, shard, Map.of());
            Map<String, String> k = keys("model", model, "task", "train", "framework",
                    shard.length == 2 && shard[0].equals("zero") ? "deepspeed" : "fsdp", "method", method,
                    "optimizer", opt, "batch_size", "1", "seq_len", "1024", "checkpointing", "full");
            if (cp > 1) {
                k.put("cp", String.valueOf(cp));
            }
            int n = tp * pp * dp * cp;
            if (n > 1) {
                k.put("gpus", String.valueOf(n));
                k.put("nodes", String.valueOf(Math.max(1, n / 8)));
            }
            if (tp > 1) {
                k.put("tp", String.valueOf(tp));
            }
            if (pp > 1) {
                k.put("pp", String.valueOf(pp));
            }
            if (shard.length == 2) {
                k.put(shard[0], shard[1]);
            }
            Optional<Estimate> e = new Candidates(model, spec(model)).estimate(k, gpu);
            if (e.isPresent()) {
                checked++;
                assertThat(e.get().memory().deviceUsed()).as(k.toString()).isGreaterThanOrEqualTo((long) bound);
            }
        }
        assertThat(checked).isGreaterThan(300);
    }

    @Test
    void everyPlanIsReproducibleFromItsWorkload() {
        Planner.Result r = plan("meta-llama/Llama-3.1-8B", keys("task", "train", "gpu", "H100-SXM-80GB", "gpus", "8",
                "seq_len", "8192", "global_batch_size", "16"), OptionalDouble.empty());
        for (Plan p : r.plans().subList(0, 5)) {
            Workload w = WorkloadParser.parse(p.workload());
            Estimate again = Estimator.estimate("x", spec("meta-llama/Llama-3.1-8B"), w,
                    w.gpu().map(GpuCatalog.builtIn()::require));
            assertThat(again.memory().deviceUsed()).isEqualTo(p.estimate().memory().deviceUsed());
            assertThat(again.perf().orElseThrow().stepTimeS()).isEqualTo(p.estimate().perf().orElseThrow().stepTimeS());
        }
    }

    @Test
    void torchtitansPublishedLayoutsAreAmongTheTopCandidates() {
        // torchtitan benchmarks: Llama 3.1 8B on 8 H100 with FSDP 8 (no TP), seq 8192, global batch 16
        Planner.Result small = plan("meta-llama/Llama-3.1-8B", keys("task", "train", "framework", "fsdp", "gpu",
                "H100-SXM-80GB", "gpus", "8", "seq_len", "8192", "global_batch_size", "16"), OptionalDouble.empty());
        assertThat(small.plans().subList(0, 5)).anySatisfy(p -> {
            Parallelism par = p.estimate().workload().parallelism();
            assertThat(par.tp()).isEqualTo(1);
            assertThat(par.pp()).isEqualTo(1);
            assertThat(par.fsdp()).isEqualTo(Parallelism.FsdpMode.FULL_SHARD);
        });
        // Llama 3.1 405B on 512 H100: FSDP 8 × TP 8 × PP 8, seq 8192, global batch 256
        Planner.Result big = plan("meta-llama/Llama-3.1-405B", keys("task", "train", "framework", "fsdp", "gpu",
                "H100-SXM-80GB", "gpus", "512", "seq_len", "8192", "global_batch_size", "256", "tokens", "1e10"),
                OptionalDouble.empty());
        assertThat(big.plans().subList(0, Math.min(5, big.plans().size()))).anySatisfy(p -> {
            Parallelism par = p.estimate().workload().parallelism();
            assertThat(par.tp()).isEqualTo(8);
            assertThat(par.pp()).isEqualTo(8);
            assertThat(par.dp()).isEqualTo(8);
        });
    }

    @Test
    void megatronsPublishedLayoutIsAmongTheTopCandidates() {
        // Megatron-LM's H100 weak-scaling table: the 70B GPT (h 8192, 84 layers, 64 heads, vocab 131072) on 768 GPUs
        // runs TP 8 × PP 2 × DP 48 with a global batch of 384 sequences of 4096 tokens
        String config = "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"n_embd\": 8192, "
                + "\"n_layer\": 84, \"n_head\": 64, \"vocab_size\": 131072, \"n_positions\": 4096, "
                + "\"tie_word_embeddings\": false}";
        ModelSpec gpt = org.gpuplan.io.HfConfigParser.parse(config, "gpt-70b", "test").spec();
        Map<String, String> f = keys("model", "gpt-70b", "task", "train", "framework", "megatron", "gpu",
                "H100-SXM-80GB", "gpus", "768", "nodes", "96", "seq_len", "4096", "global_batch_size", "384",
                "tp_comm_overlap", "true", "attention", "flash", "tokens", "1e10");
        PlanRequest req = new PlanRequest("gpt-70b", gpt, f, PlanRequest.Objective.COST, OptionalDouble.empty(),
                OptionalDouble.empty(), 1024, List.of(), List.of(), Optional.empty(), false, Set.of(),
                OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty());
        Planner.Result r = Planner.plan(req, GpuCatalog.builtIn(), PriceCatalog.builtIn(), p -> { });
        assertThat(r.plans().subList(0, 3)).anySatisfy(p -> {
            Parallelism par = p.estimate().workload().parallelism();
            assertThat(par.tp()).isEqualTo(8);
            assertThat(par.pp()).isEqualTo(2);
            assertThat(par.dp()).isEqualTo(48);
        });
    }

    @Test
    void fullFineTuneOfAn8bModelOnA24GbCardNeedsTorchtunesLowMemoryRecipe() {
        // torchtune's single-device low-memory full fine-tune: bf16, paged 8-bit AdamW, optimizer in backward,
        // activation checkpointing
        Map<String, String> job = keys("model", "meta-llama/Llama-3.1-8B", "task", "train", "precision", "bf16",
                "batch_size", "1", "seq_len", "2048");
        List<Changes.Change> changes = Changes.toFit("m", spec("meta-llama/Llama-3.1-8B"), job,
                GpuCatalog.builtIn().require("RTX-4090"));
        Changes.Change first = changes.get(0);
        assertThat(first.fits()).isTrue();
        assertThat(first.keys()).containsEntry("optimizer_in_backward", "true").containsEntry("checkpointing", "full");
        assertThat(first.keys().getOrDefault("method", "full")).isEqualTo("full");
        assertThat(first.keys().get("optimizer")).contains("8bit");
        // no single change keeps a full fine-tune and fits
        assertThat(changes.stream().filter(c -> !c.description().startsWith("together")
                && !c.keys().getOrDefault("method", "full").contains("lora")
                && c.keys().getOrDefault("gpus", "1").equals("1")))
                .noneMatch(Changes.Change::fits);
    }

    @Test
    void llamaCppChangesAreLlamaCppSettings() {
        // a 70B Q4_K_M GGUF does not fit a 24 GB card: llama.cpp's answer is -ngl, the largest count that fits
        Map<String, String> job = keys("model", "meta-llama/Llama-3.1-70B-Instruct", "task", "infer", "framework",
                "llama.cpp", "quant", "q4_k_m", "seq_len", "32768", "batch_size", "2");
        ModelSpec m = spec("meta-llama/Llama-3.1-70B-Instruct");
        org.gpuplan.hardware.Gpu gpu = GpuCatalog.builtIn().require("RTX-4090");
        List<Changes.Change> changes = Changes.toFit("m", m, job, gpu);
        Changes.Change first = changes.get(0);
        assertThat(first.fits()).isTrue();
        int ngl = Integer.parseInt(first.keys().get("n_gpu_layers"));
        assertThat(ngl).isEqualTo(FitSearch.largest("m", m, job, gpu, "n_gpu_layers").value()).isBetween(1, 79);
        // with layers on the host the CPU sets the pace: no GPU-only runtime passed off as the slowdown
        assertThat(first.estimate().perf()).isEmpty();
        assertThat(first.slowdown()).isNaN();
        assertThat(changes).extracting(Changes.Change::description)
                .anyMatch(d -> d.startsWith("q8_0 KV cache")).anyMatch(d -> d.startsWith("3-bit GGUF"))
                .anyMatch(d -> d.startsWith("half the parallel sequences"))
                .noneMatch(d -> d.contains("FP8") || d.contains("AWQ") || d.contains("tensor parallelism"));
    }

    /** The changes offered to fit a Llama-3.1-8B job on an RTX 4090. */
    static List<Changes.Change> changesOn4090(Map<String, String> job) {
        return Changes.toFit("m", spec("meta-llama/Llama-3.1-8B"), job, GpuCatalog.builtIn().require("RTX-4090"));
    }

    /** What the Llama-3.1-8B job needs on an RTX 4090 as it is. */
    static long requiredOn4090(Map<String, String> job) {
        return Changes.required(new Candidates("m", spec("meta-llama/Llama-3.1-8B"), true)
                .estimate(job, GpuCatalog.builtIn().require("RTX-4090")).orElseThrow());
    }

    /** The first single change (not a combination) that sets key to value. */
    static Changes.Change single(List<Changes.Change> changes, String key, String value) {
        return changes.stream().filter(c -> value.equals(c.keys().get(key))
                && !c.description().startsWith("together")).findFirst().orElseThrow();
    }

    /**
     * A one-GPU PyTorch job is offered expandable segments: the allocator replay then grows one segment per pool, so
     * the job needs no more and usually less (the replay's fragmentation goes), at the same speed.
     */
    @Test
    void expandableSegmentsAreOfferedToOneGpuPyTorchJobs() {
        Map<String, String> job = keys("model", "meta-llama/Llama-3.1-8B", "task", "train", "method", "lora",
                "batch_size", "4", "seq_len", "4096");
        Changes.Change expandable = single(changesOn4090(job), "expandable_segments", "true");
        assertThat(Changes.required(expandable.estimate())).isLessThanOrEqualTo(requiredOn4090(job));
        assertThat(expandable.slowdown()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
        Map<String, String> multi = keys("model", "meta-llama/Llama-3.1-8B", "task", "train", "gpus", "2",
                "zero", "3", "batch_size", "1", "seq_len", "4096");
        assertThat(Changes.options(multi, spec("meta-llama/Llama-3.1-8B")))
                .noneMatch(o -> o[1].equals("expandable_segments"));
    }

    @Test
    void aFusedLinearLossIsOfferedWhereTheLogitsDominate() {
        // Llama-3.1-8B LoRA, 4 × 4096 tokens: V·n = 128,256 × 16,384 logits; the eager loss holds 12 B per logit at the
        // start of backward, Liger's fused loss none of them
        Map<String, String> job = keys("model", "meta-llama/Llama-3.1-8B", "task", "train", "method", "lora",
                "batch_size", "4", "seq_len", "4096");
        List<Changes.Change> changes = changesOn4090(job);
        long base = requiredOn4090(job);
        Changes.Change fused = single(changes, "loss_impl", "fused-linear");
        assertThat(base - Changes.required(fused.estimate())).isGreaterThanOrEqualTo(8L * 128_256 * 16_384);
        assertThat(changes.get(0).fits()).isTrue();
        assertThat(changes.get(0).keys()).containsEntry("loss_impl", "fused-linear");
    }

    @Test
    void packedSequencesAreOfferedForPaddedBatches() {
        // Llama-3.1-8B LoRA, 4 × 4096 tokens, SDPA: a padded batch's mask makes every layer keep K/V repeated to all
        // 32 heads (2·c·(32 − 8)·128 more per token) and a mask copy (c·s per token); packing drops both
        Map<String, String> job = keys("model", "meta-llama/Llama-3.1-8B", "task", "train", "method", "lora",
                "batch_size", "4", "seq_len", "4096");
        List<Changes.Change> changes = changesOn4090(job);
        long base = requiredOn4090(job);
        Changes.Change packed = single(changes, "padded_batches", "false");
        assertThat(base - Changes.required(packed.estimate()))
                .isGreaterThanOrEqualTo((2L * 2 * 24 * 128 + 2L * 4096) * 16_384 * 32);
        // one sequence, flash attention (in any spelling) or an explicit false: nothing to offer
        for (String[] other : new String[][] {{"batch_size", "1"}, {"attention", "flash"},
                {"attention", "flash_attention_2"}, {"padded_batches", "false"}}) {
            Map<String, String> j = new java.util.HashMap<>(job);
            j.put(other[0], other[1]);
            assertThat(changesOn4090(j)).noneMatch(c -> c.description().startsWith("packed sequences"));
        }
    }

    @Test
    void doraLigerAndSavedModulesAreOfferedAsChanges() {
        // a DoRA job with a trainable LM head: plain LoRA drops DoRA's two output-wide tensors per adapted Linear,
        // "adapters only" the head's copy, gradient and states, Liger the norms' fp32 copies and the logits
        Map<String, String> job = keys("model", "meta-llama/Llama-3.1-8B", "task", "train", "method", "dora",
                "modules_to_save", "lm_head", "batch_size", "4", "seq_len", "4096");
        List<Changes.Change> changes = changesOn4090(job);
        long base = requiredOn4090(job);
        Changes.Change lora = single(changes, "use_dora", "false");
        assertThat(lora.keys()).containsEntry("method", "lora");
        // q_proj and v_proj (PEFT's default targets): 6 B × (4,096 + 1,024) per token and layer, 16,384 tokens
        assertThat(base - Changes.required(lora.estimate())).isGreaterThanOrEqualTo(6L * (4096 + 1024) * 32 * 16_384);
        Changes.Change adaptersOnly = changes.stream().filter(c -> "".equals(c.keys().get("modules_to_save")))
                .findFirst().orElseThrow();
        assertThat(base - Changes.required(adaptersOnly.estimate())).isPositive();
        Changes.Change liger = single(changes, "use_liger_kernel", "true");
        assertThat(Changes.required(liger.estimate())).isLessThan(base);
        assertThat(liger.slowdown()).isLessThan(1.0); // fused kernels move fewer bytes
    }

    @Test
    void selectiveCheckpointingIsOfferedOnlyWhereTheFrameworkHasIt() {
        var gpu = GpuCatalog.builtIn().require("RTX-4090");
        Map<String, String> hf = keys("model", "meta-llama/Llama-3.1-8B", "task", "train", "method", "lora",
                "batch_size", "1", "seq_len", "2048");
        assertThat(Changes.toFit("m", spec("meta-llama/Llama-3.1-8B"), hf, gpu))
                .noneMatch(c -> "selective".equals(c.keys().get("checkpointing")));
        Map<String, String> titan = keys("model", "meta-llama/Llama-3.1-8B", "task", "train", "framework",
                "torchtitan", "gpus", "2", "fsdp", "full_shard", "batch_size", "2", "seq_len", "8192");
        assertThat(Changes.toFit("m", spec("meta-llama/Llama-3.1-8B"), titan, gpu))
                .anyMatch(c -> "selective".equals(c.keys().get("checkpointing")));
        // and the time a selective recomputation costs matches what the memory model keeps: the attention core
        // outside torchtitan (no matmuls re-run), every other matmul under torchtitan's op-level kind
        Workload w = WorkloadParser.parse(keys("model", "m", "task", "train", "method", "lora", "batch_size", "1",
                "seq_len", "2048", "checkpointing", "selective"));
        var e = Estimator.estimate("m", spec("meta-llama/Llama-3.1-8B"), w, Optional.of(gpu)).perf().orElseThrow();
        double forward = e.figure("forward_s");
        assertThat(e.figure("recompute_s")).isPositive().isLessThan(0.2 * forward);
    }

    @Test
    void fitFindsTheLargestValueThatFits() {
        Map<String, String> job = keys("model", "meta-llama/Llama-3.1-8B", "task", "train", "method", "qlora",
                "batch_size", "1");
        var gpu = GpuCatalog.builtIn().require("RTX-4090");
        FitSearch.Result r = FitSearch.largest("m", spec("meta-llama/Llama-3.1-8B"), job, gpu, "seq_len");
        assertThat(r.value()).isGreaterThan(2048);
        assertThat(r.estimate().fit().orElseThrow().fits()).isTrue();
        Map<String, String> more = new LinkedHashMap<>(job);
        more.put("seq_len", String.valueOf(r.value() + 1));
        more.put("gpu", gpu.name());
        Workload w = WorkloadParser.parse(more);
        assertThat(Estimator.estimate("m", spec("meta-llama/Llama-3.1-8B"), w, Optional.of(gpu)).fit().orElseThrow()
                .fits()).isFalse();
    }

    @Test
    void concurrencyThatFitsAnEngineIsWhatItsKvPoolHolds() {
        Map<String, String> job = keys("model", "Qwen/Qwen2.5-7B", "task", "infer", "framework", "vllm", "prompt_len",
                "1000", "output_len", "500");
        var gpu = GpuCatalog.builtIn().require("L40S");
        FitSearch.Result r = FitSearch.largest("m", spec("Qwen/Qwen2.5-7B"), job, gpu, "batch_size");
        double pool = r.estimate().memory().pool().orElseThrow().maxConcurrency();
        assertThat(r.value()).isEqualTo((int) Math.floor(pool));
    }

    @Test
    void servingPlansMeetTheTargetsAndTheRate() {
        Map<String, String> f = keys("model", "Qwen/Qwen2.5-7B", "task", "serve", "prompt_len", "1500", "output_len",
                "300");
        PlanRequest req = new PlanRequest("Qwen/Qwen2.5-7B", spec("Qwen/Qwen2.5-7B"), f, PlanRequest.Objective.COST,
                OptionalDouble.empty(), OptionalDouble.empty(), 64, List.of(), List.of(), Optional.empty(), false,
                Set.of(), OptionalDouble.of(20), OptionalDouble.of(0.5), OptionalDouble.of(0.040));
        Planner.Result r = Planner.plan(req, GpuCatalog.builtIn(), PriceCatalog.builtIn(), p -> { });
        assertThat(r.plans()).isNotEmpty();
        for (Plan p : r.plans()) {
            var pe = p.estimate().perf().orElseThrow();
            assertThat(pe.ttftS()).isLessThanOrEqualTo(0.5);
            assertThat(pe.tpotS()).isLessThanOrEqualTo(0.040);
            assertThat(p.replicas() * pe.figure("requests_per_s")).isGreaterThanOrEqualTo(20 * 0.999);
            assertThat(p.estimate().fit().orElseThrow().fits()).isTrue();
        }
    }

    @Test
    void costPerMillionTokensCountsTheOutputTheRuntimeModelGenerated() {
        // only seq_len given: the runtime model splits it into prompt and output halves, and so must the cost
        Map<String, String> f = keys("model", "Qwen/Qwen2.5-7B", "task", "serve", "framework", "vllm", "seq_len",
                "4096");
        PlanRequest req = new PlanRequest("Qwen/Qwen2.5-7B", spec("Qwen/Qwen2.5-7B"), f, PlanRequest.Objective.COST,
                OptionalDouble.empty(), OptionalDouble.empty(), 8, List.of(), List.of(), Optional.empty(), false,
                Set.of(), OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty());
        Planner.Result r = Planner.plan(req, GpuCatalog.builtIn(), PriceCatalog.builtIn(), p -> { });
        assertThat(r.plans()).isNotEmpty();
        for (Plan p : r.plans()) {
            var pe = p.estimate().perf().orElseThrow();
            double tokensPerHour = p.replicas() * pe.figure("requests_per_s") * 2048 * 3600;
            assertThat(p.usdPerMillionTokens()).isCloseTo(p.hourlyUsd() / tokensPerHour * 1e6,
                    org.assertj.core.api.Assertions.withinPercentage(1e-6));
        }
    }

    @Test
    void enginesWithoutAKvPoolAreServedAtWhatFitsAndTheSmallestConcurrencyThatCarriesTheRate() {
        Map<String, String> f = keys("model", "Qwen/Qwen2.5-7B", "task", "serve", "framework", "hf", "prompt_len",
                "500", "output_len", "100");
        PlanRequest req = new PlanRequest("Qwen/Qwen2.5-7B", spec("Qwen/Qwen2.5-7B"), f, PlanRequest.Objective.COST,
                OptionalDouble.empty(), OptionalDouble.empty(), 8, List.of(), List.of(), Optional.empty(), false,
                Set.of(), OptionalDouble.of(1), OptionalDouble.empty(), OptionalDouble.empty());
        Planner.Result r = Planner.plan(req, GpuCatalog.builtIn(), PriceCatalog.builtIn(), p -> { });
        assertThat(r.plans()).isNotEmpty();
        for (Plan p : r.plans()) {
            assertThat(p.estimate().fit().orElseThrow().fits()).isTrue();
            var pe = p.estimate().perf().orElseThrow();
            assertThat(p.replicas() * pe.figure("requests_per_s")).isGreaterThanOrEqualTo(0.999);
            if (p.replicas() == 1 && p.estimate().workload().batchSize() > 1) {
                // one sequence fewer would no longer carry the rate
                Map<String, String> fewer = new LinkedHashMap<>(p.workload());
                fewer.put("batch_size", String.valueOf(p.estimate().workload().batchSize() - 1));
                Workload w = WorkloadParser.parse(fewer);
                Estimate e = Estimator.estimate("q", spec("Qwen/Qwen2.5-7B"), w, p.estimate().gpu());
                assertThat(e.perf().orElseThrow().figure("requests_per_s")).isLessThan(1.0);
            }
        }
    }

    @Test
    void anAbsurdRequestRateNeverExceedsTheGpuLimit() {
        Map<String, String> f = keys("model", "meta-llama/Llama-3.1-8B", "task", "serve");
        PlanRequest req = new PlanRequest("m", spec("meta-llama/Llama-3.1-8B"), f, PlanRequest.Objective.COST,
                OptionalDouble.empty(), OptionalDouble.empty(), 1024, List.of(), List.of(), Optional.empty(), false,
                Set.of(), OptionalDouble.of(1e9), OptionalDouble.empty(), OptionalDouble.empty());
        Planner.Result r = Planner.plan(req, GpuCatalog.builtIn(), PriceCatalog.builtIn(), p -> { });
        assertThat(r.plans()).allSatisfy(p -> assertThat(p.gpus()).isBetween(1, 1024));
    }

    @Test
    void planAndFitJsonContracts() throws Exception {
        CliTest.Result r = CliTest.run("plan", "meta-llama/Llama-3.1-8B", "--task", "train", "--method", "lora",
                "--tokens", "2e8", "--deadline", "48h", "--region", "eu", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode plans = new ObjectMapper().readTree(r.out()).get("plans");
        assertThat(plans.size()).isPositive();
        for (JsonNode p : plans) {
            for (String k : List.of("workload", "memory", "perf", "cost_usd", "hourly_usd", "provider", "region",
                    "instance")) {
                assertThat(p.has(k)).as(k).isTrue();
            }
            assertThat(p.get("workload").get("method").asText()).isEqualTo("lora");
            // the dollars follow from the offer: cost = hourly × time
            assertThat(p.get("cost_usd").asDouble()).isCloseTo(p.get("hourly_usd").asDouble()
                    * p.get("time_s").asDouble() / 3600, org.assertj.core.api.Assertions.within(0.01 + 0.001
                    * p.get("cost_usd").asDouble()));
            assertThat(p.get("cost_formula").asText()).contains("hourly").contains("cost");
        }
        CliTest.Result fit = CliTest.run("fit", "meta-llama/Llama-3.1-8B", "--task", "train", "--method", "qlora",
                "--gpu", "RTX-4090", "--max", "seq-len", "--json");
        assertThat(fit.code()).as(fit.err()).isZero();
        JsonNode f = new ObjectMapper().readTree(fit.out());
        assertThat(f.get("seq_len").asInt()).isPositive();
        assertThat(f.get("memory").get("device_used_bytes").asLong()).isPositive();
        // without --max, fit looks for the micro-batch (for serving: the concurrent sequences)
        CliTest.Result batch = CliTest.run("fit", "Qwen/Qwen2.5-7B", "--task", "infer", "--framework", "vllm",
                "--gpu", "L4", "--json");
        assertThat(batch.code()).as(batch.err()).isZero();
        JsonNode b = new ObjectMapper().readTree(batch.out());
        int most = b.get("batch_size").asInt();
        assertThat(most).isPositive();
        CliTest.Result explicit = CliTest.run("fit", "Qwen/Qwen2.5-7B", "--task", "infer", "--framework", "vllm",
                "--gpu", "L4", "--max", "concurrency", "--json");
        assertThat(new ObjectMapper().readTree(explicit.out()).get("batch_size").asInt()).isEqualTo(most);
        // llama.cpp's -ngl: the most layers a 24 GB card holds of a 70B Q4_K_M at 8k, and one more does not fit
        CliTest.Result layers = CliTest.run("fit", "meta-llama/Llama-3.1-70B", "--task", "infer", "--framework",
                "llama.cpp", "--quant", "q4_k_m", "--gpu", "RTX-4090", "--seq-len", "8192", "--max", "gpu-layers",
                "--json");
        assertThat(layers.code()).as(layers.err()).isZero();
        int ngl = new ObjectMapper().readTree(layers.out()).get("n_gpu_layers").asInt();
        assertThat(ngl).isBetween(1, 80);
        Workload more = WorkloadParser.parse(keys("model", "m", "task", "infer", "framework", "llama.cpp", "quant",
                "q4_k_m", "seq_len", "8192", "n_gpu_layers", String.valueOf(ngl + 1)));
        assertThat(Estimator.estimate("m", spec("meta-llama/Llama-3.1-70B"), more,
                GpuCatalog.builtIn().find("RTX-4090")).fit().orElseThrow().fits()).isFalse();
    }

    @Test
    void badPlanInputsGetOneLineErrors() {
        CliTest.assertOneLineError(CliTest.run("plan", "meta-llama/Llama-3.1-8B", "--deadline", "soon"), "deadline");
        CliTest.assertOneLineError(CliTest.run("plan", "meta-llama/Llama-3.1-8B", "--objective", "fun"), "objective");
        CliTest.assertOneLineError(CliTest.run("plan", "meta-llama/Llama-3.1-8B", "--allow", "magic"), "allow");
        CliTest.assertOneLineError(CliTest.run("fit", "meta-llama/Llama-3.1-8B", "--gpu", "L4", "--max", "width"),
                "max");
        CliTest.assertOneLineError(CliTest.run("fit", "meta-llama/Llama-3.1-8B", "--max", "seq-len"), "gpu");
    }
}
