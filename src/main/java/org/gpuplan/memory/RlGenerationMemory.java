package org.gpuplan.memory;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.Term;
import org.gpuplan.workload.Parallelism;
import org.gpuplan.workload.RlGeneration;
import org.gpuplan.workload.Trainer;
import org.gpuplan.workload.Workload;

/**
 * What TRL's GRPOTrainer adds to a training rank's memory: the completions are generated before the micro-steps that
 * train on them (trl/trainer/grpo_trainer.py, _generate_and_score_completions), either by transformers
 * {@code generate} on the training model, by a vLLM engine colocated in the training process, or by a vLLM server on
 * other GPUs.
 */
public final class RlGenerationMemory {

    private RlGenerationMemory() {
    }

    /** The rank's estimate with GRPO's generation phase and, for a colocated engine, its share of the GPU. */
    public static MemoryEstimate apply(ModelSpec m, ParameterBreakdown p, Workload w, Optional<Gpu> gpu,
                                       MemoryEstimate e) {
        if (!w.training() || w.trainer() != Trainer.GRPO) {
            return e;
        }
        RlGeneration rl = w.rl();
        long resident = e.bytes("weights") + (w.optimizer().paged() ? 0 : e.bytes("optimizer"));
        List<Term> terms = new ArrayList<>(e.terms());
        List<Phase> phases = new ArrayList<>();
        List<String> assumptions = new ArrayList<>(e.assumptions());
        long engine = 0;
        boolean engineAlways = false;
        Phase generation;
        switch (rl.mode()) {
            case TRANSFORMERS -> {
                long kv = KvCache.bytes(m, w, w.generationBatch(), w.seqLen(), w.precision().computeBytes());
                terms.add(new Term("kv_cache", "KV cache (generation)", kv, () -> "generation batch "
                        + w.generationBatch() + " × (prompt + completion) " + w.seqLen() + " tokens × "
                        + m.attentionLayerCount() + " attention layers, K and V in the compute dtype (transformers "
                        + "DynamicCache; alive only while the completions are generated)"));
                generation = transformersGenerate(m, p, w, resident);
            }
            case VLLM_COLOCATE -> {
                Gpu g = gpu.orElseThrow(() -> new InvalidInputException("gpu: a colocated vLLM engine takes "
                        + "vllm_gpu_memory_utilization of the GPU's memory; give --gpu (e.g. H100-SXM-80GB)"));
                engine = (long) Math.floor(rl.vllmMemoryUtilization() * g.cudaTotalBytes());
                engineAlways = rl.engineDuringTraining();
                terms.add(new Term("generation_engine", "vLLM engine (colocated)", engine, () -> String.format(
                        Locale.ROOT, "vllm_gpu_memory_utilization %.2f × %s total: the engine's own copy of the weights, "
                                + "its KV pool and profile peak fill that budget%s", rl.vllmMemoryUtilization(),
                        Bytes.gib(g.cudaTotalBytes()), rl.sleepMode() ? "; with vllm_enable_sleep_mode it sleeps "
                                + "while the model trains (weights to host memory, KV cache discarded)" : "; held "
                                + "through training (no sleep mode)")));
                generation = new Phase("generation (colocated vLLM, " + w.generationBatch() + " completions)",
                        resident + engine, List.of("weights", "optimizer", "vLLM engine"));
            }
            case VLLM_SERVER -> {
                generation = null;
                assumptions.add("GRPO with vllm_mode server: completions come from a vLLM server on other GPUs "
                        + "(trl vllm-serve); nothing of it is on the training GPUs");
            }
            default -> throw new IllegalStateException();
        }
        long always = engineAlways ? engine : 0;
        for (Phase ph : e.phases()) {
            phases.add(always == 0 ? ph : new Phase(ph.name(), ph.bytes() + always, plus(ph.contents(),
                    "vLLM engine")));
        }
        if (generation != null) {
            phases.add(generation);
        }
        Phase peak = phases.stream().max((x, y) -> Long.compare(x.bytes(), y.bytes())).orElseThrow();
        long delta = peak.bytes() - e.peakPhase().bytes();
        long allocated = e.peakAllocated() + delta;
        long reserved = e.peakReserved() + delta;
        long device = e.deviceUsed() + delta;
        // the three peaks move by what the new peak phase adds; each says why
        String why = always > 0 && peak != generation ? "the colocated vLLM engine, held through training"
                : "GRPO's generation phase";
        List<Term> explanations = new ArrayList<>();
        for (Term t : e.explanations()) {
            long value = switch (t.key()) {
                case "peak_allocated_bytes" -> allocated;
                case "peak_reserved_bytes" -> reserved;
                case "device_used_bytes" -> device;
                default -> t.value();
            };
            explanations.add(value == t.value() ? t : new Term(t.key(), t.label(), value, () -> t.formula()
                    + (peak.name().equals(e.peakPhase().name()) ? "" : "; the peak phase is now '" + peak.name() + "'")
                    + String.format(Locale.ROOT, " (%s: %+.2f GiB)", why, delta / (double) Bytes.GIB)));
        }
        assumptions.add("TRL GRPO: " + w.generationBatch() + " completions (per_device_train_batch_size × "
                + "steps_per_generation " + w.stepsPerGeneration() + ", by default gradient_accumulation_steps) of " + w.outputLen() + " tokens after "
                + "prompts of up to " + w.generationPrompt() + " are generated before the micro-steps; the log-probabilities "
                + "cover the completion tokens only (logits_to_keep); beta " + rl.beta() + (w.referenceForward()
                ? " keeps a reference model" : " (no reference model)") + "; every completion runs to max_completion_length (no early end of "
                + "sequence)");
        // sleep mode level 1 moves the engine's weights to pinned host memory while the model trains
        long host = e.hostBytes() + (rl.sleepMode() ? sixteenBitModel(p, w) : 0);
        return new MemoryEstimate(terms, phases, peak, allocated, reserved, device, e.pool(), explanations,
                assumptions, host);
    }

    // transformers generate on the training model (no grad): prefill over the prompts, then a growing DynamicCache
    // in the compute dtype (accelerate's autocast wraps forward); gradients are None (set to None after each step)
    private static Phase transformersGenerate(ModelSpec m, ParameterBreakdown p, Workload w, long resident) {
        int c = w.precision().computeBytes();
        long batch = w.generationBatch();
        long prompt = w.generationPrompt();
        long kvPrompt = KvCache.bytes(m, w, batch, prompt, c);
        long kv = KvCache.bytes(m, w, batch, w.seqLen(), c);
        long prefill = ActivationMemory.inferenceTransient(m, batch * prompt, c, w.attention(), prompt);
        long logits = batch * m.vocabSize() * (c + 4L); // last-position logits and their fp32 copy
        long catCopy = kv / Math.max(1, m.numLayers());
        // ZeRO-3 / FSDP full sharding gather the whole model for generation (TRL unwrap_model_for_generation,
        // ds3_gather_for_generation true by default)
        Parallelism par = w.parallelism();
        boolean sharded = !par.single() && (par.zero() == 3 || par.fsdp() == Parallelism.FsdpMode.FULL_SHARD
                || par.fsdp() == Parallelism.FsdpMode.HYBRID_SHARD);
        long gathered = sharded ? sixteenBitModel(p, w) : 0;
        long bytes = resident + gathered + Math.max(kvPrompt + prefill, kv + catCopy) + logits;
        return new Phase("generation (transformers generate, " + batch + " completions)", bytes,
                List.of("weights", "optimizer", "kv_cache (" + Bytes.gib(kv) + ")", "activations (prefill)",
                        "temporary (last-position logits)", sharded ? "the gathered model for generation" : ""));
    }

    /** The whole model in the compute dtype: what generation gathers, or a sleeping engine moves to the host. */
    private static long sixteenBitModel(ParameterBreakdown p, Workload w) {
        return Math.multiplyExact(p.totalCount(), (long) w.precision().computeBytes());
    }

    private static List<String> plus(List<String> contents, String more) {
        List<String> out = new ArrayList<>(contents);
        out.add(more);
        return out;
    }
}
