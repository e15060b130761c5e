package org.gpuplan.memory;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.Term;
import org.gpuplan.workload.Method;
import org.gpuplan.workload.OptimizerKind;
import org.gpuplan.workload.Workload;

/**
 * Training on one GPU with transformers/PEFT/Trainer semantics: weights, gradients, optimizer states, saved
 * activations, the loss region and the optimizer's temporaries, combined per phase of a step.
 */
public final class TrainingMemory {

    private TrainingMemory() {
    }

    public static MemoryEstimate estimate(ModelSpec m, ParameterBreakdown p, Workload w, Optional<Gpu> gpu) {
        List<Term> terms = new ArrayList<>();
        List<String> assumptions = new ArrayList<>();
        Term weights = WeightMemory.weights(m, p, w);
        long weightBytes = weights.value();
        // a preference objective (TRL DPO/ORPO/CPO) runs each example's chosen and rejected sequences as one batch
        Workload seqs = w.sequences();
        boolean referenceForward = w.referenceForward();
        // DPO's reference model: a frozen copy for full fine-tuning (TRL create_reference_model deep-copies the policy
        // in its dtype); LoRA/QLoRA use the base with the adapters disabled, so no copy
        long referenceWeights = referenceForward && w.method() == Method.FULL ? weights.value() : 0;
        if (referenceWeights > 0) {
            Term policy = weights;
            weightBytes += referenceWeights;
            weights = new Term("weights", "weights", weightBytes, () -> policy.formula() + "; plus the "
                    + w.trainer().key().toUpperCase(Locale.ROOT) + " reference "
                    + "model, a frozen copy in the same dtype (TRL create_reference_model): " + Bytes.gib(
                    referenceWeights));
        }
        long trainable;
        int gradBytes;
        // PEFT modules_to_save: trainable full copies of the embedding / LM head in the base's unquantized dtype
        long savedParams = w.method() == Method.FULL ? 0 : LoraAdapters.savedModuleParameters(m, w);
        int savedBytes = LoraAdapters.savedModuleBytes(w);
        long savedModules = Math.multiplyExact(savedParams, (long) savedBytes);
        if (w.method() == Method.FULL) {
            trainable = p.totalCount();
            gradBytes = w.precision().weightBytes();
        } else {
            Term adapters = LoraAdapters.term(m, w);
            weightBytes += adapters.value() + savedModules;
            Term base = weights;
            weights = new Term("weights", "weights", weightBytes, () -> base.formula() + "; plus " + adapters.label()
                    + ": " + adapters.formula() + (savedParams > 0 ? String.format(Locale.ROOT, "; plus the "
                    + "modules_to_save copies (%s): %,d params × %d B", String.join(", ", w.modulesToSave()),
                    savedParams, savedBytes) : ""));
            trainable = LoraAdapters.parameters(m, w);
            gradBytes = LoraAdapters.bytesPerParameter(w);
        }
        terms.add(weights);
        long largestParam = Math.max((long) m.vocabSize() * m.hiddenSize(), LinearModules.of(m).stream()
                .mapToLong(lm -> lm.in() * lm.out()).max().orElse(0));
        Term grads = w.optimizerInBackward()
                ? new Term("gradients", "gradients", Math.min(trainable, largestParam) * gradBytes,
                () -> "optimizer in backward: each gradient is applied and freed as soon as it is produced; at most the "
                        + "largest parameter's gradient (" + Math.min(trainable, largestParam) + " × " + gradBytes
                        + " B) is alive")
                : new Term("gradients", "gradients", Math.multiplyExact(trainable, (long) gradBytes) + savedModules,
                () -> "trainable params × " + gradBytes + " B (gradients take the parameter dtype) = " + trainable + " × "
                        + gradBytes + (savedParams > 0 ? " + modules_to_save " + savedParams + " × " + savedBytes : ""));
        terms.add(grads);
        int stateBytes = w.method() == Method.FULL ? w.precision().weightBytes() : LoraAdapters.bytesPerParameter(w);
        Term optimizer = withSavedModules(optimizer(m, w, trainable, stateBytes), m, w, savedParams, savedBytes);
        boolean paged = w.optimizer().paged();
        terms.add(optimizer);
        ActivationMemory.Saved saved = ActivationMemory.training(m, seqs);
        terms.add(new Term("activations", "activations", saved.total(), () -> saved.formula() + String.format(Locale.ROOT,
                "; + embeddings, final norm, LM-head input and the loss (%s): %s; "
                        + "shared RoPE tables and masks %s", ActivationMemory.lossDescription(w)
                        + (m.head() instanceof org.gpuplan.model.Head.CausalLm lm && lm.logitSoftcap()
                        ? "; capped logits cap·tanh(logits / cap) keep the tanh output (c·V per token)" : ""),
                Bytes.gib(saved.outside()),
                Bytes.mib(saved.shared()))));
        // temporaries: autocast weight copies, optimizer foreach buffer, dequantized weights, loss transients
        long autocastCopies = w.precision().mixed() && w.method() == Method.FULL
                ? 2L * LinearModules.linearParameters(m) : 0;
        boolean foreach = (w.optimizer() == OptimizerKind.ADAMW) && !w.optimizerInBackward();
        long foreachTemp = foreach ? Math.multiplyExact(trainable, (long) stateBytes) + savedModules
                : w.optimizer() == OptimizerKind.ADAMW_HF ? Math.min(trainable, largestParam) * stateBytes : 0;
        long dequant = w.quant().isBitsAndBytes4bit() || w.quant().name().equals("INT8")
                ? LinearModules.nnLinear(m).stream().mapToLong(lm -> lm.in() * lm.out()).max().orElse(0)
                * w.precision().computeBytes() : 0;
        long lossTemp = Math.max(saved.lossForward(), saved.lossBackward());
        long doraNorm = LoraAdapters.doraNormBytes(m, w);
        long temporary = Math.max(autocastCopies + Math.max(lossTemp, doraNorm) + dequant + saved.recompute(),
                foreachTemp);
        terms.add(new Term("temporary", "temporaries", temporary, () -> String.format(Locale.ROOT,
                "largest of: forward/backward transients (autocast bf16 weight copies %s + loss logits %s + "
                        + "dequantized weight %s + recomputed layer %s%s) and the optimizer step's foreach buffer %s "
                        + "(torch.optim.AdamW foreach: one state-sized tensor list)", Bytes.gib(autocastCopies),
                Bytes.gib(lossTemp), Bytes.mib(dequant), Bytes.gib(saved.recompute()), doraNorm > 0
                        ? String.format(Locale.ROOT, "; or DoRA's weight norm of the largest adapted Linear %s: "
                        + "identity in², B·A, the base weight in the adapter dtype, the scaled sum", Bytes.mib(doraNorm))
                        : "", Bytes.gib(foreachTemp))));
        long nonTorch = paged ? optimizer.value() : 0;
        Term overhead = Overheads.overheadTerm(gpu, Overheads.context(w), nonTorch, "paged optimizer states (cudaMallocManaged)");
        terms.add(overhead);

        long w0 = weightBytes;
        long o = paged ? 0 : optimizer.value();
        long g = grads.value();
        long gAcc = (w.gradAccum() > 1 || !w.gradsToNone()) && !w.optimizerInBackward() ? g : 0;
        long act = saved.total();
        // (a fused linear loss has produced the LM head's gradient in forward: it is among the saved activations)
        boolean headGradInBackward = w.method() == Method.FULL
                && w.lossImpl() != org.gpuplan.workload.LossImpl.FUSED_LINEAR;
        // an untied LM head's gradient is the first one produced (an optimizer in backward applies and frees it)
        long lmHeadGrad = headGradInBackward && !w.optimizerInBackward() ? p.count("lm_head") * gradBytes
                : LoraAdapters.headSaved(m, w) && !w.optimizerInBackward()
                && w.lossImpl() != org.gpuplan.workload.LossImpl.FUSED_LINEAR
                ? (long) m.vocabSize() * m.hiddenSize() * savedBytes : 0;
        // a tied embedding's LM-head gradient waits in its AccumulateGrad input buffer until the embedding's own
        // backward, at the very end, adds its share: it is alive during the whole backward
        long tiedHeadGrad = headGradInBackward && m.embeddings().tied() ? p.count("embeddings") * gradBytes : 0;
        List<Phase> phases = new ArrayList<>();
        phases.add(new Phase("end of forward (loss)", w0 + o + gAcc + act + autocastCopies + saved.lossForward()
                + dequant, List.of("weights", "optimizer", gAcc > 0 ? "gradients (accumulating)" : "",
                "activations", "temporary (autocast copies, logits)")));
        String headGrad = tiedHeadGrad > 0 ? "gradients (the tied LM head's, held until the embedding's backward: "
                + Bytes.mib(tiedHeadGrad) + ")" : lmHeadGrad > gAcc ? "gradients (LM head)" : "";
        // the LM head's weight gradient appears once the loss's own transients are freed: the head's backward holds
        // only the c-byte logits gradient beside it (one chunk's with torchtune's chunked loss)
        long logitsGrad = Bytes.ceil((double) w.precision().computeBytes() * ActivationMemory.lossWidth(m)
                * seqs.logitTokens() / (w.lossImpl() == org.gpuplan.workload.LossImpl.CHUNKED
                ? ActivationMemory.LOSS_CHUNKS : 1));
        long headGradBytes = Math.max(0, lmHeadGrad - gAcc) + tiedHeadGrad;
        phases.add(new Phase("start of backward", w0 + o + gAcc + act + autocastCopies + dequant
                + Math.max(saved.lossBackward(), headGradBytes > 0 ? logitsGrad + headGradBytes : 0),
                List.of("weights", "optimizer", "activations", "temporary (loss gradients)", headGrad)));
        phases.add(new Phase("backward through the last layer", w0 + o + Math.max(gAcc, lmHeadGrad) + tiedHeadGrad
                + act + autocastCopies + saved.backwardWorkingSet() + dequant, List.of("weights", "optimizer",
                "activations", "temporary (gradients of the layer's largest activations)", headGrad)));
        if (referenceForward) {
            // TRL computes the reference log-probabilities after the policy's forward, whose saved tensors are still
            // alive: the reference's c-byte logits over the chosen and rejected sequences are its largest tensor
            long refLogits = Bytes.ceil((double) w.precision().computeBytes() * ActivationMemory.lossWidth(m)
                    * seqs.logitTokens());
            // GRPO scores the generation batch with the reference before the micro-steps: no saved activations yet
            boolean grpo = w.trainer() == org.gpuplan.workload.Trainer.GRPO;
            phases.add(new Phase("reference forward (no grad)", w0 + o + (grpo ? 0 : gAcc + act + autocastCopies)
                    + dequant + refLogits, List.of("weights", "optimizer", grpo ? "" : "activations",
                    "temporary (reference logits: " + Bytes.gib(refLogits) + ")")));
        }
        if (doraNorm > 0) {
            // the last layer's forward: every layer's saved tensors but not yet the loss's
            phases.add(new Phase("forward (DoRA weight norm, last layer)", w0 + o + gAcc + act - saved.outside()
                    + autocastCopies + dequant + doraNorm, List.of("weights", "optimizer", "activations",
                    "temporary (DoRA weight norm)")));
        }
        if (saved.recompute() > 0) {
            phases.add(new Phase("backward (recomputed layer)", w0 + o + saved.recompute() + dequant + doraNorm
                    + Math.max(saved.layersTotal() + saved.shared() + gAcc + lmHeadGrad + tiedHeadGrad, g),
                    List.of("weights", "optimizer", "checkpointed inputs or gradients", "recomputed layer")));
        }
        phases.add(new Phase("end of backward", w0 + o + g, List.of("weights", "optimizer", "gradients")));
        phases.add(new Phase("optimizer step", w0 + (paged ? 0 : optimizer.value()) + g + foreachTemp,
                List.of("weights", "optimizer", "gradients", foreach ? "temporary (foreach buffer)" : "")));
        Phase peak = phases.stream().max((x, y) -> Long.compare(x.bytes(), y.bytes())).orElseThrow();
        long ws = Overheads.cublasWorkspace(gpu);
        long peakAllocated = peak.bytes() + ws;
        long churn = peak.bytes() - w0 - o - (peak.name().startsWith("end of backward")
                || peak.name().startsWith("optimizer") ? 0 : gAcc);
        // a job that does not fit is not replayed: its reserved figure only says by how much it misses
        Optional<TrainingAllocations.Result> replay = gpu.isPresent() && peakAllocated > gpu.get()
                .cudaTotalBytes() ? Optional.empty() : replay(m, p, w, seqs, saved, gradBytes, stateBytes,
                gpu);
        long fragmentation = replay.map(TrainingAllocations.Result::slack)
                .orElseGet(() -> Bytes.ceil(Overheads.FRAGMENTATION * Math.max(0, churn)));
        long peakReserved = peakAllocated - ws + Overheads.cublasReserved(gpu) + fragmentation;
        long deviceUsed = peakReserved + Overheads.context(w) + nonTorch;
        List<Term> explanations = List.of(
                new Term("peak_allocated_bytes", "peak allocated", peakAllocated, () -> "largest phase ('" + peak.name()
                        + "') + cuBLAS workspace " + Bytes.mib(ws)),
                new Term("peak_reserved_bytes", "peak reserved", peakReserved, () -> replay.isPresent()
                        ? String.format(Locale.ROOT, "peak allocated + cuBLAS segment rounding + the caching "
                        + "allocator's slack %s: %d steps of this run's tensors (parameters, gradients, optimizer "
                        + "states, each layer's saved tensors, the loss's logits) replayed in order through PyTorch's "
                        + "allocator rules (%s) reach %s reserved at %s allocated; largest segments held: %s",
                        Bytes.gib(fragmentation),
                        TrainingAllocations.STEPS, CachingAllocator.rules(w.perf().expandableSegments()),
                        Bytes.gib(replay.get().peakReserved()),
                        Bytes.gib(replay.get().peakAllocated()), largestSegments(replay.get()))
                        : String.format(Locale.ROOT,
                        "peak allocated + cuBLAS segment rounding + %.0f %% of the transient bytes at the peak (%s) "
                                + "held as cached blocks by the caching allocator", Overheads.FRAGMENTATION * 100,
                        Bytes.gib(churn))),
                new Term("device_used_bytes", "device used (nvidia-smi)", deviceUsed, () -> "peak reserved + CUDA context "
                        + Bytes.mib(Overheads.context(w)) + (paged ? " + paged optimizer states in managed memory"
                        : "")));
        assumptions.add("transformers/PEFT/Trainer semantics: gradients set to None after each optimizer step, loss "
                + "computed inside forward (" + ActivationMemory.lossDescription(w) + ")");
        if (foreach) {
            assumptions.add("torch.optim.AdamW default (foreach) implementation: one state-sized temporary at the "
                    + "step; with adamw_torch_fused there is none");
        }
        if (w.trainer().paired()) {
            assumptions.add("TRL " + w.trainer().key().toUpperCase(java.util.Locale.ROOT) + ": each of the "
                    + w.batchSize() + " examples is a chosen and a rejected sequence of seq_len tokens, run as one batch "
                    + "of " + seqs.batchSize() + (referenceForward ? "; the reference log-probabilities come from "
                    + (w.method() == Method.FULL ? "a frozen copy of the model" : "the base with the adapters disabled")
                    + " after the policy's forward" : w.trainer().reference() ? "; reference log-probabilities "
                    + "precomputed" : ""));
        }
        if (seqs.paddingMask() && !w.attention().flashKernel()) {
            assumptions.add("batch_size > 1 pads sequences: a 4-D attention mask is passed, so SDPA repeats K/V to "
                    + "all heads (no native GQA) and keeps the mask (padded_batches false for packed or equal-length "
                    + "batches)");
        }
        assumptions.add("all sequences are seq_len tokens long (padding to the longest of the batch)");
        ActivationMemory.linearAttentionAssumption(m).ifPresent(assumptions::add);
        return new MemoryEstimate(terms, phases, peak, peakAllocated, peakReserved, deviceUsed, Optional.empty(),
                explanations, assumptions, saved.host());
    }

    private static String largestSegments(TrainingAllocations.Result r) {
        return r.segments().entrySet().stream().limit(4).map(e -> e.getValue() + " × " + Bytes.mib(e.getKey()))
                .collect(java.util.stream.Collectors.joining(", "));
    }

    /** The caching allocator's peaks over a replay of this run's tensors, where the run can be replayed. */
    static Optional<TrainingAllocations.Result> replay(ModelSpec m, ParameterBreakdown p, Workload w,
            Workload seqs, ActivationMemory.Saved saved, int gradBytes, int stateBytes, Optional<Gpu> gpu) {
        // not replayed (the share-of-transients rule stays): a DPO reference forward, and PEFT's modules_to_save,
        // whose vocabulary-sized trainable copies the replay places worse than the rule (+11..+15 % on the H200)
        if (!TrainingAllocations.replayable(m) || w.referenceForward() || !w.modulesToSave().isEmpty()) {
            return Optional.empty();
        }
        ActivationMemory.Loss loss = ActivationMemory.loss(m, seqs, seqs.logitTokens(),
                w.precision().computeBytes(), w.method() == Method.FULL);
        // sizes past any device (the estimate refuses them afterwards) are not replayed
        for (long bytes : new long[] {saved.total(), saved.recompute(), saved.backwardWorkingSet(), loss.saved(),
                loss.forward(), loss.backward(), Math.multiplyExact(p.totalCount(), 4L)}) {
            if (!MemoryEstimate.sane(bytes)) {
                return Optional.empty();
            }
        }
        TrainingAllocations.Inputs in = new TrainingAllocations.Inputs(TrainingAllocations.params(m, w, p), gradBytes,
                stateBytes, saved, loss, TrainingAllocations.capacity(gpu, w));
        return Optional.of(TrainingAllocations.replay(m, w, in));
    }

    static Term optimizer(ModelSpec m, Workload w, long trainable, int stateBytes) {
        return switch (w.optimizer()) {
            case ADAMW, ADAMW_FUSED, ADAMW_HF -> new Term("optimizer", "optimizer states",
                    Math.multiplyExact(trainable, 2L * stateBytes),
                    () -> "AdamW exp_avg + exp_avg_sq in the parameter dtype: 2 × " + stateBytes + " B × " + trainable);
            case ADAMW_8BIT, PAGED_ADAMW_8BIT -> new Term("optimizer", "optimizer states",
                    Bytes.ceil(trainable * (2 + 8.0 / 256)), () -> "8-bit Adam (bitsandbytes; torchao's AdamW8bit has the "
                    + "same layout): 2 uint8 states + 2 fp32 absmax per 256-element block = 2.031 B × " + trainable
                    + pagedNote(w));
            // bitsandbytes' 32-bit optimizers create fp32 states whatever the parameter dtype (Optimizer2State)
            case PAGED_ADAMW -> new Term("optimizer", "optimizer states", Math.multiplyExact(trainable, 8L),
                    () -> "bitsandbytes 32-bit AdamW: exp_avg + exp_avg_sq in fp32 = 2 × 4 B × " + trainable
                    + pagedNote(w));
            // torchao AdamW4bit: 4-bit codes packed two per byte, one fp32 scale per 128-element block, per state
            case ADAMW_4BIT -> new Term("optimizer", "optimizer states", Bytes.ceil(trainable * 2 * (0.5 + 4.0 / 128)),
                    () -> "torchao 4-bit AdamW: 2 states × (4-bit codes + an fp32 scale per 128-element block) = "
                    + "1.0625 B × " + trainable);
            case LION_8BIT -> new Term("optimizer", "optimizer states", Bytes.ceil(trainable * (1 + 4.0 / 256)),
                    () -> "bitsandbytes 8-bit Lion: 1 uint8 momentum + an fp32 absmax per 256-element block = "
                    + "1.016 B × " + trainable);
            case ADAFACTOR -> {
                long factored = adafactorElements(m, w);
                yield new Term("optimizer", "optimizer states", factored * 4, () -> "Adafactor (no first moment): factored "
                        + "second moment, rows + columns per matrix, fp32 = " + factored + " × 4 B");
            }
            case SGD -> new Term("optimizer", "optimizer states", 0, "plain SGD keeps no state");
            case SGD_MOMENTUM, LION -> new Term("optimizer", "optimizer states",
                    Math.multiplyExact(trainable, (long) stateBytes), () -> "one momentum buffer in the parameter dtype: "
                    + stateBytes + " B × " + trainable);
        };
    }

    /**
     * The optimizer states of the modules_to_save copies added to the adapters': the same optimizer over vocab ×
     * hidden matrices in their own dtype (Adafactor: a row and a column factor per matrix).
     */
    static Term withSavedModules(Term adapters, ModelSpec m, Workload w, long savedParams, int savedBytes) {
        if (savedParams == 0) {
            return adapters;
        }
        long matrices = savedParams / ((long) m.vocabSize() * m.hiddenSize());
        long saved = w.optimizer() == OptimizerKind.ADAFACTOR ? matrices * (m.vocabSize() + m.hiddenSize()) * 4L
                : optimizer(m, w, savedParams, savedBytes).value();
        return new Term("optimizer", "optimizer states", adapters.value() + saved, () -> adapters.formula()
                + String.format(Locale.ROOT, "; plus the modules_to_save copies' states (%,d params in %d-byte "
                + "parameters): %s", savedParams, savedBytes, Bytes.mib(saved)));
    }

    private static String pagedNote(Workload w) {
        return w.optimizer().paged() ? " (paged: managed memory, not counted by torch.cuda allocator statistics)" : "";
    }

    private static long adafactorElements(ModelSpec m, Workload w) {
        if (w.method() != Method.FULL) {
            long r = w.loraRank();
            return LoraAdapters.targets(m, w).stream().mapToLong(lm -> (lm.in() + r + r + lm.out()) * lm.count())
                    .sum();
        }
        long sum = LinearModules.of(m).stream().mapToLong(lm -> (lm.in() + lm.out()) * lm.count()).sum();
        sum += (long) m.vocabSize() + m.hiddenSize(); // embedding matrix
        sum += m.embeddings().tied() ? 0 : (long) m.vocabSize() + m.hiddenSize();
        sum += (long) (m.numLayers() * m.norms().perLayer() + 1) * m.hiddenSize(); // vectors keep a full state
        return sum;
    }
}
