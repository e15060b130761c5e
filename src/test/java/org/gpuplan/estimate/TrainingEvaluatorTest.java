package org.gpuplan.estimate;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Checkpointing;
import org.gpuplan.workload.Choice;
import org.gpuplan.workload.Parallelism;
import org.gpuplan.workload.TrainingLayout;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/**
 * The search evaluator gives exactly the estimator's numbers: over thousands of seeded random multi-GPU training
 * workloads (models dense, MoE, sliding-window, encoder-free GPT-2; every training framework, method, optimizer,
 * sharding, pipeline schedule, offload, checkpointing), the same validity, fit, device memory and step time.
 */
class TrainingEvaluatorTest {

    static final List<String> MODELS = List.of("meta-llama/Llama-3.1-8B", "mistralai/Mixtral-8x7B-v0.1",
            "Qwen/Qwen3-30B-A3B", "google/gemma-2-9b", "openai-community/gpt2", "meta-llama/Llama-3.1-70B-Instruct",
            "deepseek-ai/DeepSeek-V3");
    static final List<String> GPUS = List.of("H100-SXM-80GB", "A100-SXM-40GB", "RTX-4090", "H200-SXM-141GB");

    private static String pick(Random r, String... options) {
        return options[r.nextInt(options.length)];
    }

    @Test
    void evaluatorAgreesWithTheEstimatorOnRandomLayouts() {
        Random r = new Random(7);
        Map<String, ModelSpec> specs = new HashMap<>();
        int compared = 0;
        int valid = 0;
        int fitting = 0;
        // a pool of variants, each evaluated under many layouts by one evaluator per GPU (as a search does, so the
        // memoized parts are reused across layouts), and by a fresh evaluator
        List<Map<String, String>> pool = new java.util.ArrayList<>();
        for (int i = 0; i < 60; i++) {
            String model = MODELS.get(r.nextInt(MODELS.size()));
            Map<String, String> variant = new HashMap<>();
            variant.put("model", model);
            variant.put("task", "train");
            variant.put("framework", pick(r, "fsdp", "megatron", "deepspeed", "hf", "torchtune"));
            String method = pick(r, "full", "full", "lora", "qlora");
            variant.put("method", method);
            variant.put("optimizer", pick(r, "adamw", "adamw", "adamw-8bit", "paged-adamw-8bit", "sgd", "adafactor",
                    "adamw-fused"));
            if (r.nextInt(4) == 0) {
                variant.put("precision", method.equals("full") ? pick(r, "bf16", "fp16-mixed", "fp32") : "bf16");
            }
            variant.put("seq_len", pick(r, "512", "2048", "8192", "32768"));
            if (r.nextInt(4) == 0) {
                variant.put("compile", "true");
            }
            if (r.nextInt(6) == 0) {
                variant.put("loss_impl", pick(r, "eager", "chunked", "fused-linear"));
            }
            if (r.nextInt(6) == 0) {
                variant.put("attention", "eager");
            }
            if (r.nextInt(6) == 0) {
                variant.put("tp_comm_overlap", "true");
            }
            if (r.nextInt(3) == 0) {
                variant.put("tokens", "1e9");
            }
            pool.add(variant);
        }
        Map<String, TrainingEvaluator> shared = new HashMap<>();
        for (int i = 0; i < 4000; i++) {
            int vi = r.nextInt(pool.size());
            Map<String, String> variant = pool.get(vi);
            String model = variant.get("model");
            ModelSpec spec = specs.computeIfAbsent(model, MemoryTermsTest::spec);
            Gpu gpu = GpuCatalog.builtIn().require(GPUS.get(r.nextInt(GPUS.size())));
            // the layout
            int tp = 1 << r.nextInt(4);
            int pp = 1 << r.nextInt(4);
            int cp = r.nextInt(4) == 0 ? 2 : 1;
            int dp = 1 << r.nextInt(5);
            int gpus = tp * pp * cp * dp;
            if (gpus < 2) {
                gpus = 2;
                dp = 2;
            }
            int ep = spec.moe() != null && r.nextBoolean() ? 1 << r.nextInt(3) : 1;
            TrainingLayout l = new TrainingLayout();
            l.gpus = gpus;
            l.nodes = gpus >= 16 && r.nextBoolean() ? gpus / 8 : 1;
            l.tp = tp;
            l.pp = pp;
            l.cp = cp;
            l.ep = ep;
            String shard = pick(r, "none", "zero1", "zero2", "zero3", "full_shard", "shard_grad_op", "hybrid_shard",
                    "no_shard");
            l.zero = shard.startsWith("zero") ? shard.charAt(4) - '0' : 0;
            l.fsdp = shard.startsWith("zero") || shard.equals("none") ? Parallelism.FsdpMode.NONE
                    : Choice.parse(Parallelism.FsdpMode.class, "fsdp", shard);
            l.sequenceParallel = tp > 1 && r.nextBoolean();
            l.virtualPp = pp > 1 && r.nextInt(3) == 0 ? 2 : 1;
            l.ppSchedule = l.virtualPp > 1 ? Parallelism.PpSchedule.INTERLEAVED
                    : r.nextInt(4) == 0 ? Parallelism.PpSchedule.GPIPE : Parallelism.PpSchedule.ONE_F_ONE_B;
            l.offloadOptimizer = r.nextInt(8) == 0 ? Parallelism.Offload.CPU : Parallelism.Offload.NONE;
            l.offloadParams = r.nextInt(10) == 0 ? Parallelism.Offload.CPU : Parallelism.Offload.NONE;
            l.batchSize = 1 << r.nextInt(4);
            l.checkpointing = Checkpointing.values()[r.nextInt(Checkpointing.values().length)];
            if (r.nextBoolean()) {
                l.globalBatchSize = l.batchSize * dp * (1 + r.nextInt(8));
                l.gradAccum = 1;
            } else {
                l.globalBatchSize = 0;
                l.gradAccum = 1 + r.nextInt(4);
            }

            Map<String, String> full = new HashMap<>(variant);
            full.put("gpus", String.valueOf(l.gpus));
            full.put("nodes", String.valueOf(l.nodes));
            full.put("tp", String.valueOf(tp));
            full.put("pp", String.valueOf(pp));
            full.put("cp", String.valueOf(cp));
            full.put("ep", String.valueOf(ep));
            full.put("zero", String.valueOf(l.zero));
            full.put("fsdp", l.fsdp.key());
            full.put("sequence_parallel", String.valueOf(l.sequenceParallel));
            full.put("virtual_pp", String.valueOf(l.virtualPp));
            full.put("pp_schedule", l.ppSchedule.key());
            full.put("offload_optimizer", l.offloadOptimizer.key());
            full.put("offload_params", l.offloadParams.key());
            full.put("batch_size", String.valueOf(l.batchSize));
            full.put("checkpointing", l.checkpointing.key());
            full.put("global_batch_size", String.valueOf(l.globalBatchSize));
            full.put("grad_accum", String.valueOf(l.gradAccum));

            Workload proto;
            try {
                Map<String, String> v = new HashMap<>(variant);
                v.put("gpus", "2");
                proto = WorkloadParser.parse(v);
            } catch (InvalidInputException e) {
                continue; // the variant itself is refused (not a layout question)
            }
            Estimate expected;
            try {
                expected = Estimator.estimate(model, spec, WorkloadParser.parse(full), Optional.of(gpu));
            } catch (InvalidInputException e) {
                expected = null;
            }
            TrainingEvaluator ev = new TrainingEvaluator(spec, gpu, 1);
            ev.setVariant(0, proto);
            TrainingEvaluator.Result got = ev.evaluate(0, l, new TrainingEvaluator.Result());
            TrainingEvaluator reused = shared.computeIfAbsent(vi + "|" + gpu.name(), k -> {
                TrainingEvaluator e = new TrainingEvaluator(spec, gpu, 1);
                e.setVariant(0, proto);
                return e;
            });
            TrainingEvaluator.Result again = reused.evaluate(0, l, new TrainingEvaluator.Result());
            String what = model + " on " + gpu.name() + " " + new java.util.TreeMap<>(full);
            compared++;
            assertThat(got.valid).as(what).isEqualTo(expected != null);
            assertThat(again.valid).as(what).isEqualTo(expected != null);
            if (expected == null) {
                continue;
            }
            valid++;
            assertThat(got.deviceUsedBytes).as(what).isEqualTo(expected.memory().deviceUsed());
            assertThat(got.requiredBytes).as(what).isEqualTo(expected.fit().orElseThrow().requiredBytes());
            assertThat(got.fits).as(what).isEqualTo(expected.fit().orElseThrow().fits());
            assertThat(got.stepS).as(what).isEqualTo(expected.perf().orElseThrow().stepTimeS());
            assertThat(got.tokensPerS).as(what).isEqualTo(expected.perf().orElseThrow().tokensPerS());
            fitting += got.fits ? 1 : 0;
            assertThat(again.deviceUsedBytes).as(what).isEqualTo(got.deviceUsedBytes);
            assertThat(again.requiredBytes).as(what).isEqualTo(got.requiredBytes);
            assertThat(again.tokensPerS).as(what).isEqualTo(got.tokensPerS);
        }
        // the random space must exercise all three outcomes
        assertThat(compared).isGreaterThan(3000);
        assertThat(valid).isGreaterThan(500);
        assertThat(fitting).isGreaterThan(100);
        assertThat(valid - fitting).isGreaterThan(100);
        assertThat(compared - valid).isGreaterThan(100);
    }
}
