package org.gpuplan.plan;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.model.ModelSpec;

/**
 * "What to change to fit": single changes to a job that does not fit, each with its new peak and its cost in
 * speed; when no single change suffices, the cheapest combination found greedily (adding the change that saves the
 * most memory per unit of slowdown until the job fits).
 */
public final class Changes {

    /**
     * One change.
     *
     * @param description what to do, in words
     * @param keys        the workload keys it sets
     * @param estimate    the estimate with the change
     * @param slowdown    step time (or time per token) relative to the original; NaN when unknown
     */
    public record Change(String description, Map<String, String> keys, Estimate estimate, double slowdown) {
        public boolean fits() {
            return Candidates.fits(estimate);
        }
    }

    private Changes() {
    }

    /** Candidate single changes of a training or serving job. */
    static List<String[]> options(Map<String, String> job, ModelSpec spec) {
        List<String[]> o = new ArrayList<>();
        boolean train = !"infer".equals(job.getOrDefault("task", "train"))
                && !"serve".equals(job.getOrDefault("task", "train"));
        int batch = intOf(job.get("batch_size"), 1);
        int seq = intOf(job.get("seq_len"), train ? 2048 : 4096);
        int gpus = intOf(job.get("gpus"), 1);
        // the workload's own reading of the keys (any accepted spelling)
        org.gpuplan.workload.Workload parsed = org.gpuplan.workload.WorkloadParser.parse(job);
        // one-GPU PyTorch runs (training, transformers generate) whose reserved memory comes from the allocator replay:
        // expandable segments cut the caching allocator's fragmentation at no cost in speed
        boolean replayed = parsed.parallelism().single() && !parsed.perf().expandableSegments()
                && (train || parsed.framework() == org.gpuplan.workload.Framework.HF);
        if (replayed) {
            o.add(new String[] {"PyTorch's expandable segments (PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True: "
                + "less fragmentation)", "expandable_segments", "true"});
        }
        if (train) {
            if (batch > 1) {
                o.add(new String[] {"micro-batch 1 with gradient accumulation ×" + batch + " (same global batch)",
                    "batch_size", "1", "grad_accum", String.valueOf(batch * intOf(job.get("grad_accum"), 1))});
            }
            if (!"full".equals(job.get("checkpointing"))) {
                o.add(new String[] {"full activation checkpointing", "checkpointing", "full"});
                // only Megatron-LM and torchtitan (fsdp) have a selective mode; transformers checkpoints whole layers
                if (parsed.framework() == org.gpuplan.workload.Framework.MEGATRON
                        || parsed.framework() == org.gpuplan.workload.Framework.FSDP) {
                    o.add(new String[] {"selective activation checkpointing", "checkpointing", "selective"});
                }
            }
            if ("torchtune".equals(job.get("framework")) && !"true".equals(job.get("activation_offloading"))) {
                o.add(new String[] {"activation offloading to host memory (torchtune enable_activation_offloading)",
                    "activation_offloading", "true"});
            }
            String precision = job.getOrDefault("precision", job.getOrDefault("method", "full").equals("full")
                    && !"torchtune".equals(job.get("framework")) ? "bf16-mixed" : "bf16");
            if (precision.endsWith("-mixed") || precision.equals("fp32")) {
                o.add(new String[] {"bf16 weights, gradients and optimizer states (no fp32 master copy, as torchtune)",
                    "precision", "bf16"});
            }
            String opt = job.getOrDefault("optimizer", "adamw");
            if (!opt.contains("8bit") && !opt.contains("4bit") && !opt.equals("sgd")) {
                o.add(new String[] {"8-bit AdamW (bitsandbytes)", "optimizer", "adamw-8bit"});
                o.add(new String[] {"paged 8-bit AdamW (bitsandbytes)", "optimizer", "paged-adamw-8bit"});
            }
            if (!"true".equals(job.get("optimizer_in_backward"))) {
                o.add(new String[] {"optimizer step in backward (torchtune optimizer_in_bwd)",
                    "optimizer_in_backward", "true"});
            }
            // (the job has been parsed already: a value here is one of the accepted spellings)
            boolean fusedLoss = job.containsKey("loss_impl") && org.gpuplan.workload.Choice.parse(
                    org.gpuplan.workload.LossImpl.class, "loss_impl", job.get("loss_impl"))
                    == org.gpuplan.workload.LossImpl.FUSED_LINEAR;
            String framework = job.getOrDefault("framework", "hf");
            boolean liger = "true".equalsIgnoreCase(job.getOrDefault("use_liger_kernel", "false"));
            if (!fusedLoss && !"megatron".equals(framework)) {
                // the logits and their fp32 copies are the largest tensors of a step for 128k–256k vocabularies
                o.add(new String[] {"fused linear cross-entropy (Liger kernel: HF use_liger_kernel=True; torchtune "
                    + "LinearCrossEntropyLoss)", "loss_impl", "fused-linear"});
            }
            boolean hfFamily = List.of("hf", "transformers", "peft", "trl").contains(framework);
            if (hfFamily && parsed.paddingMask() && !parsed.attention().flashKernel()) {
                // a padded batch's 4-D mask makes SDPA repeat K/V to all heads and keep the mask in every layer
                o.add(new String[] {"packed sequences without padding (TRL packing / padding_free: no 4-D mask)",
                    "padded_batches", "false"});
            }
            if (!liger && spec.mlp() != null && hfFamily
                    && !job.containsKey("loss_impl")) {
                // Liger also fuses the RMSNorms and the gated MLP of Llama-style blocks
                o.add(new String[] {"Liger kernels (use_liger_kernel: fused RMSNorm, SwiGLU and linear "
                    + "cross-entropy)", "use_liger_kernel", "true"});
            }
            if (trainer(job) == org.gpuplan.workload.Trainer.GRPO) {
                // TRL GRPO: a colocated vLLM engine can sleep while the model trains, or move to other GPUs
                boolean colocated = job.containsKey("vllm_mode") ? job.get("vllm_mode").trim()
                        .equalsIgnoreCase("colocate") : "true".equalsIgnoreCase(job.getOrDefault("use_vllm", "false"));
                if (colocated && !"true".equalsIgnoreCase(job.getOrDefault("vllm_enable_sleep_mode", "false"))) {
                    o.add(new String[] {"vLLM sleep mode while training (vllm_enable_sleep_mode)",
                        "vllm_enable_sleep_mode", "true"});
                }
                if (!job.containsKey("vllm_mode") || !job.get("vllm_mode").trim().equalsIgnoreCase("server")) {
                    o.add(new String[] {"generation on a vLLM server on other GPUs (vllm_mode server)", "use_vllm",
                        "true", "vllm_mode", "server", "vllm_enable_sleep_mode", ""});
                }
            }
            String method = job.getOrDefault("method", "full");
            boolean dora = "true".equalsIgnoreCase(job.getOrDefault("use_dora", "false")) || method.equals("dora")
                    || method.equals("qdora");
            if (dora) {
                // DoRA keeps two output-wide tensors per adapted Linear and a weight-norm transient
                o.add(new String[] {"plain LoRA instead of DoRA (use_dora false)", "use_dora", "false", "method",
                    method.equals("qdora") || method.equals("qlora") ? "qlora" : "lora"});
            }
            if (job.containsKey("modules_to_save") && !job.get("modules_to_save").isBlank()) {
                o.add(new String[] {"adapters only (no modules_to_save copies of the embedding / LM head)",
                    "modules_to_save", ""});
            }
            if (method.equals("full")) {
                o.add(new String[] {"LoRA instead of full fine-tuning", "method", "lora"});
            }
            if (!method.equals("qlora")) {
                o.add(new String[] {"QLoRA (4-bit NF4 base)", "method", "qlora", "quant", "nf4"});
            }
            if (gpus > 1 && !job.containsKey("zero") && !job.containsKey("fsdp")) {
                o.add(new String[] {"shard parameters, gradients and optimizer states (FSDP full_shard)",
                    "fsdp", "full_shard"});
            }
            if (gpus > 1) {
                o.add(new String[] {"offload optimizer states to CPU (FSDP full_shard + CPU offload)",
                    "fsdp", "full_shard", "offload_optimizer", "cpu"});
            }
            // TRL's trainers stay on transformers (accelerate shards them with FSDP)
            boolean trl = trlTrainer(job);
            o.add(new String[] {"twice the GPUs, fully sharded (" + 2 * gpus + " GPUs, FSDP full_shard)",
                "gpus", String.valueOf(2 * gpus), "fsdp", "full_shard", "framework",
                trl ? "hf" : job.getOrDefault("framework", "fsdp").equals("hf") ? "fsdp"
                        : job.getOrDefault("framework", "fsdp")});
        } else if (parsed.framework() == org.gpuplan.workload.Framework.LLAMA_CPP) {
            llamaCppOptions(parsed, spec, o, batch);
        } else {
            o.add(new String[] {"FP8 weights", "quant", "fp8"});
            o.add(new String[] {"4-bit AWQ weights", "quant", "awq-4bit"});
            o.add(new String[] {"FP8 KV cache", "kv_dtype", "fp8"});
            o.add(new String[] {"tensor parallelism over " + 2 * gpus + " GPUs", "gpus", String.valueOf(2 * gpus),
                "tp", String.valueOf(2 * gpus)});
            if (batch > 1) {
                o.add(new String[] {"half the concurrent sequences (" + batch / 2 + ")", "batch_size",
                    String.valueOf(batch / 2)});
            }
        }
        if (seq > 256) {
            o.add(new String[] {"half the sequence length (" + seq / 2 + " tokens)", "seq_len", String.valueOf(seq / 2)});
        }
        if (train && batch > 1) {
            o.add(new String[] {"half the micro-batch (" + batch / 2 + ")", "batch_size", String.valueOf(batch / 2)});
        }
        return o;
    }

    /**
     * What a llama.cpp user changes: the KV cache type (-ctk/-ctv), flash attention, a smaller GGUF type, routed
     * experts in host memory, fewer parallel sequences; the largest -ngl that fits is added by {@link #toFit}.
     */
    private static void llamaCppOptions(org.gpuplan.workload.Workload w, ModelSpec spec, List<String[]> o,
                                        int batch) {
        String kv = w.kvDtype().key();
        if (!kv.startsWith("q")) {
            o.add(new String[] {"q8_0 KV cache (-ctk q8_0 -ctv q8_0)", "kv_dtype", "q8_0"});
        }
        if (!kv.equals("q4_0")) {
            o.add(new String[] {"q4_0 KV cache (-ctk q4_0 -ctv q4_0)", "kv_dtype", "q4_0"});
        }
        if (!w.attention().flashKernel()) {
            o.add(new String[] {"flash attention (-fa on: no KQ matrix in the compute buffer)", "attention", "flash"});
        }
        String q = w.quant().key();
        if (!q.startsWith("q4") && !q.startsWith("q3") && !q.startsWith("q2") && !q.startsWith("iq")) {
            o.add(new String[] {"4-bit GGUF weights (Q4_K_M)", "quant", "q4_k_m"});
        }
        if (!q.startsWith("q3") && !q.startsWith("q2") && !q.startsWith("iq")) {
            o.add(new String[] {"3-bit GGUF weights (Q3_K_M)", "quant", "q3_k_m"});
        }
        if (spec.moe() != null && w.gpuLayers().cpuMoeLayers(spec.numLayers()) < spec.numLayers()) {
            o.add(new String[] {"routed experts in host memory (--cpu-moe)", "n_cpu_moe", "all"});
        }
        if (batch > 1) {
            o.add(new String[] {"half the parallel sequences (" + batch / 2 + ")", "batch_size",
                String.valueOf(batch / 2)});
        }
    }

    /**
     * The changes that make {@code job} fit {@code gpu}, best first (fits, then least slowdown); when none fits
     * alone, one greedy combination is added at the top.
     */
    public static List<Change> toFit(String modelName, ModelSpec spec, Map<String, String> job, Gpu gpu) {
        Candidates c = new Candidates(modelName, spec, true);
        Estimate base = c.estimate(job, gpu).orElseThrow(() -> new org.gpuplan.model.InvalidInputException(
                "plan: the workload is not valid for " + gpu.name()));
        double baseTime = time(base);
        List<Change> singles = new ArrayList<>();
        for (String[] opt : options(job, spec)) {
            Map<String, String> k = new LinkedHashMap<>(job);
            for (int i = 1; i < opt.length; i += 2) {
                k.put(opt[i], opt[i + 1]);
            }
            c.estimate(k, gpu).ifPresent(e -> singles.add(new Change(opt[0], k, e, time(e) / baseTime)));
        }
        if (base.workload().framework() == org.gpuplan.workload.Framework.LLAMA_CPP
                && !base.workload().partialOffload(spec.numLayers())) {
            // llama.cpp's own answer to a model larger than the card: the last N layers on the GPU (-ngl N)
            FitSearch.Result r = FitSearch.largest(modelName, spec, job, gpu, "n_gpu_layers");
            if (r.value() > 0 && r.value() <= spec.numLayers()) {
                Map<String, String> k = new LinkedHashMap<>(job);
                k.put("n_gpu_layers", String.valueOf(r.value()));
                singles.add(new Change("-ngl " + r.value() + ": the last " + r.value() + " of " + spec.numLayers()
                        + " layers on the GPU, the rest in host memory (much slower)", k, r.estimate(),
                        time(r.estimate()) / baseTime));
            }
        }
        List<Change> out = new ArrayList<>(singles.stream()
                .sorted(Comparator.comparing((Change ch) -> !ch.fits()).thenComparingDouble(Change::slowdown))
                .toList());
        // a combination that keeps the method (full stays full) and the hardware, as torchtune's low-memory recipes do
        boolean sameMethodFits = singles.stream().anyMatch(ch -> ch.fits()
                && ch.keys().getOrDefault("method", "full").equals(job.getOrDefault("method", "full"))
                && ch.keys().getOrDefault("gpus", "1").equals(job.getOrDefault("gpus", "1")));
        if (!sameMethodFits) {
            combination(c, job, gpu, base, baseTime, spec).ifPresent(ch -> out.add(0, ch));
        }
        return out;
    }

    /**
     * Every combination of the changes that keep the method, the hardware and the data (optimizer: 8-bit or paged;
     * bf16 states; optimizer in backward; selective or full checkpointing; micro-batch 1 with accumulation; sharding
     * and offload on several GPUs; a fused linear cross-entropy): the one that fits with the least slowdown, then the fewest changes. At most a few
     * hundred estimates.
     */
    private static Optional<Change> combination(Candidates c, Map<String, String> job, Gpu gpu, Estimate base,
                                                double baseTime, ModelSpec spec) {
        List<List<String[]>> groups = new ArrayList<>();
        List<String[]> singles = options(job, spec);
        groups.add(pick(singles, "8-bit AdamW", "paged 8-bit AdamW"));
        groups.add(pick(singles, "bf16 weights"));
        groups.add(pick(singles, "optimizer step in backward"));
        groups.add(pick(singles, "selective activation checkpointing", "full activation checkpointing"));
        groups.add(pick(singles, "micro-batch 1"));
        groups.add(pick(singles, "shard parameters", "offload optimizer"));
        groups.add(pick(singles, "fused linear cross-entropy"));
        Change best = null;
        int bestCount = Integer.MAX_VALUE;
        int combos = 1;
        for (List<String[]> g : groups) {
            combos *= g.size() + 1;
        }
        for (int code = 1; code < combos; code++) {
            Map<String, String> k = new LinkedHashMap<>(job);
            List<String> names = new ArrayList<>();
            int rest = code;
            for (List<String[]> g : groups) {
                int choice = rest % (g.size() + 1);
                rest /= g.size() + 1;
                if (choice > 0) {
                    String[] opt = g.get(choice - 1);
                    names.add(opt[0]);
                    for (int i = 1; i < opt.length; i += 2) {
                        k.put(opt[i], opt[i + 1]);
                    }
                }
            }
            Optional<Estimate> e = c.estimate(k, gpu);
            if (e.isEmpty() || !Candidates.fits(e.get())) {
                continue;
            }
            double slow = time(e.get()) / baseTime;
            boolean better = best == null || slow < best.slowdown() - 1e-9
                    || (Math.abs(slow - best.slowdown()) <= 1e-9 && names.size() < bestCount);
            if (better) {
                best = new Change("together: " + String.join(" + ", names), k, e.get(), slow);
                bestCount = names.size();
            }
        }
        return Optional.ofNullable(best);
    }

    private static List<String[]> pick(List<String[]> options, String... prefixes) {
        List<String[]> out = new ArrayList<>();
        for (String p : prefixes) {
            options.stream().filter(o -> o[0].startsWith(p)).findFirst().ifPresent(out::add);
        }
        return out;
    }

    /** The bytes that decide whether it fits (device memory less paged optimizer states). */
    static long required(Estimate e) {
        return e.fit().map(Estimate.Fit::requiredBytes).orElse(e.memory().deviceUsed());
    }

    /** Seconds per trained token (training) or per output token (serving): what a change costs in speed. */
    private static double time(Estimate e) {
        return e.perf().map(p -> e.workload().training() ? 1 / p.tokensPerS() : p.tpotS()).orElse(Double.NaN);
    }

    /** What to change when the job as given does not fit its GPU (empty when it fits or names no GPU). */
    public static List<Change> whenNotFitting(org.gpuplan.estimate.Job j) {
        if (j.gpu().isEmpty()) {
            return List.of();
        }
        Estimate base = org.gpuplan.estimate.Estimator.estimate(j.loaded().name(), j.spec(), j.workload(), j.gpu());
        // a serving pool that cannot hold one sequence is a job that does not run, whatever the memory says
        boolean starts = base.memory().pool().map(p -> p.holdsOneSequence(base.workload().seqLen())).orElse(true);
        return base.fit().map(Estimate.Fit::fits).orElse(true) && starts ? List.of()
                : toFit(j.loaded().name(), j.spec(), j.keys(), j.gpu().get());
    }

    /** The job's TRL trainer (sft when none is given). */
    static org.gpuplan.workload.Trainer trainer(Map<String, String> job) {
        return job.containsKey("trainer") ? org.gpuplan.workload.Choice.parse(org.gpuplan.workload.Trainer.class,
                "trainer", job.get("trainer")) : org.gpuplan.workload.Trainer.SFT;
    }

    /** Whether the job trains with a TRL trainer other than plain next-token SFT (DPO, ORPO, CPO, GRPO). */
    static boolean trlTrainer(Map<String, String> job) {
        return trainer(job) != org.gpuplan.workload.Trainer.SFT;
    }

    static int intOf(String s, int fallback) {
        try {
            return s == null ? fallback : (int) Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return fallback;
        }
    }
}
