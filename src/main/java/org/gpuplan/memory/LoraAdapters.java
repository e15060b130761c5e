package org.gpuplan.memory;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.Term;
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.Workload;

/** LoRA adapters: lora_A (in×r) and lora_B (r×out) on every targeted Linear (peft tuners/lora/layer.py). */
public final class LoraAdapters {

    private LoraAdapters() {
    }

    /** Adapted modules: the workload's targets, or PEFT's default targets for the family. */
    public static List<LinearModule> targets(ModelSpec m, Workload w) {
        List<String> names = w.loraTargets().isEmpty() ? LinearModules.defaultLoraTargets(m) : w.loraTargets();
        List<LinearModule> all = LinearModules.nnLinear(m);
        boolean allLinear = names.stream().anyMatch(n -> n.equalsIgnoreCase("all-linear")
                || n.equalsIgnoreCase("all_linear"));
        List<LinearModule> out = new ArrayList<>();
        for (LinearModule lm : all) {
            if (allLinear ? !lm.name().equals("gate") || lm.out() > 1 : names.contains(lm.name())) {
                out.add(lm);
            }
        }
        java.util.Optional<LinearModule> head = LinearModules.lmHead(m);
        // the LM head is adapted only when named (torchtune calls it output), even next to all-linear
        boolean adaptHead = head.isPresent() && names.stream().anyMatch(n -> n.equals(head.get().name())
                || n.equals("output"));
        if (adaptHead) {
            out.add(head.get());
        }
        for (String n : names) {
            boolean known = allLinear && (n.equalsIgnoreCase("all-linear") || n.equalsIgnoreCase("all_linear"))
                    || all.stream().anyMatch(lm -> lm.name().equals(n))
                    || adaptHead && (n.equals(head.get().name()) || n.equals("output"));
            if (!known) {
                List<String> accepted = new ArrayList<>(List.of("all-linear"));
                accepted.addAll(all.stream().map(LinearModule::name).distinct().toList());
                head.ifPresent(lm -> accepted.add(lm.name()));
                throw new InvalidInputException("lora_targets: '" + n + "' is not a Linear module of this "
                        + m.family().modelType() + " model (accepted: " + String.join(", ", accepted) + ")");
            }
        }
        return out;
    }

    /** Σ r·(in + out) over adapted module instances, plus DoRA's magnitude vector (out per module). */
    public static long parameters(ModelSpec m, Workload w) {
        long r = w.loraRank();
        long magnitude = w.useDora() ? 1 : 0;
        return targets(m, w).stream().mapToLong(lm -> (r * (lm.in() + lm.out()) + magnitude * lm.out()) * lm.count())
                .sum();
    }

    /**
     * DoRA's column norm ‖W + s·B·A‖ in each adapted Linear's forward (peft tuners/lora/dora.py): the identity
     * (in²), its r-wide projection kept by B's graph (in·r), B·A (in·out), the scaled product and the sum (2·in·out),
     * plus the base weight cast (or dequantized) to the adapter dtype (in·out) when they differ, all in the adapter
     * dtype. Freed when the module returns: the largest adapted module's set is the transient. 0 without DoRA.
     */
    public static long doraNormBytes(ModelSpec m, Workload w) {
        if (!w.useDora()) {
            return 0;
        }
        long ab = bytesPerParameter(w);
        long r = w.loraRank();
        long copies = w.method() == org.gpuplan.workload.Method.QLORA || ab != w.precision().weightBytes() ? 4 : 3;
        return targets(m, w).stream().mapToLong(lm -> ab * (lm.in() * lm.in() + lm.in() * r
                + copies * lm.in() * lm.out())).max().orElse(0);
    }

    /**
     * vLLM's multi-LoRA slots on one tensor-parallel rank (vllm/lora/layers: lora_a_stacked (max_loras, 1, r, in) and
     * lora_b_stacked (max_loras, 1, out, r) per LoRA-capable Linear and slice, in the model dtype): column-parallel
     * projections (q, k, v, gate, up) keep A whole and split B's output over TP; row-parallel ones (o, down) split A's
     * input and keep B whole. Routed experts and routers are left out. 0 when LoRA serving is off.
     */
    public static long servingSlotBytes(ModelSpec m, Workload w, int tp) {
        org.gpuplan.workload.LoraSlots slots = w.loraSlots();
        if (!slots.enabled()) {
            return 0;
        }
        long r = slots.maxRank();
        double perLora = 0;
        for (LinearModule lm : LinearModules.nnLinear(m)) {
            if (lm.expert() || lm.name().equals("gate") || lm.name().equals("router")) {
                continue;
            }
            boolean rowParallel = lm.name().startsWith("o_proj") || lm.name().startsWith("down_proj")
                    || lm.name().equals("out_proj") || lm.name().equals("dense") || lm.name().equals("c_proj");
            double a = rowParallel ? (double) r * lm.in() / tp : (double) r * lm.in();
            double b = rowParallel ? (double) lm.out() * r : (double) lm.out() * r / tp;
            perLora += (a + b) * lm.count();
        }
        return (long) Math.ceil(perLora * slots.maxLoras() * w.precision().computeBytes());
    }

    /** The weights term with vLLM's LoRA slots on a rank of {@code tp}. */
    public static Term withServingSlots(Term weights, ModelSpec m, Workload w, int tp) {
        long slots = servingSlotBytes(m, w, tp);
        if (slots == 0) {
            return weights;
        }
        return new Term(weights.key(), weights.label(), weights.value() + slots, () -> weights.formula()
                + String.format(Locale.ROOT, "; + vLLM LoRA slots %s: %d adapters × rank %d × (A r·in + B out·r) "
                + "over the LoRA-capable Linear layers (q/k/v/o, gate/up/down; TP splits B of column-parallel and A of "
                + "row-parallel ones), in the model dtype", Bytes.mib(slots), w.loraSlots().maxLoras(),
                w.loraSlots().maxRank()));
    }

    /** Names modules_to_save accepts for the token embedding and for the LM head (HF and other families' names). */
    private static final List<String> EMBEDDING_NAMES = List.of("embed_tokens", "wte", "word_embeddings",
            "tok_embeddings", "embed_in");
    private static final List<String> HEAD_NAMES = List.of("lm_head", "embed_out", "output");

    /** Whether modules_to_save names the LM head, whose weight gradient then appears at the start of backward. */
    public static boolean headSaved(ModelSpec m, Workload w) {
        return savedModules(m, w)[1];
    }

    /**
     * PEFT modules_to_save (ModulesToSaveWrapper): each named module is deep-copied and the copy trains in the
     * module's own dtype beside the frozen original; the token embedding and the LM head are vocab × hidden each (a
     * tied LM head is copied apart from the embedding, as PEFT's deepcopy does). 0 when none is named.
     */
    public static long savedModuleParameters(ModelSpec m, Workload w) {
        boolean[] saved = savedModules(m, w);
        long matrix = (long) m.vocabSize() * m.hiddenSize();
        return (saved[0] ? matrix : 0) + (saved[1] ? matrix : 0);
    }

    /** Bytes per parameter of the saved copies: the base's unquantized dtype (fp32 after k-bit training's upcast). */
    public static int savedModuleBytes(Workload w) {
        return WeightMemory.kbitUpcast(w) ? 4 : w.precision().weightBytes();
    }

    private static boolean[] savedModules(ModelSpec m, Workload w) {
        boolean embed = false;
        boolean head = false;
        for (String n : w.modulesToSave()) {
            if (EMBEDDING_NAMES.contains(n)) {
                embed = true;
            } else if (HEAD_NAMES.contains(n) && LinearModules.lmHead(m).isPresent()) {
                head = true;
            } else {
                throw new InvalidInputException("modules_to_save: '" + n + "' is not modelled for this "
                        + m.family().modelType() + " model (accepted: embed_tokens" + (LinearModules.lmHead(m)
                        .isPresent() ? ", lm_head" : "") + ", or their names in other families: "
                        + String.join(", ", EMBEDDING_NAMES.subList(1, EMBEDDING_NAMES.size())) + ", "
                        + String.join(", ", HEAD_NAMES.subList(1, HEAD_NAMES.size())) + ")");
            }
        }
        return new boolean[] {embed, head};
    }

    /**
     * Bytes per adapter parameter, which its gradient and its AdamW states share: PEFT upcasts adapters to fp32
     * (autocast_adapter_dtype=True); torchtune builds them in the model dtype (training.set_default_dtype), so pure
     * bf16 training keeps bf16 adapters, gradients and states.
     */
    public static int bytesPerParameter(Workload w) {
        return w.framework() == Framework.TORCHTUNE ? w.precision().weightBytes() : 4;
    }

    public static Term term(ModelSpec m, Workload w) {
        long params = parameters(m, w);
        int bytes = bytesPerParameter(w);
        String names = String.join(", ", targets(m, w).stream().map(LinearModule::name).distinct().toList());
        return new Term("adapter_weights", "LoRA adapter weights", params * bytes,
                () -> String.format(Locale.ROOT, "r·(in+out)%s summed over targeted modules (%s) = %,d params × %d B "
                        + "(%s)", w.useDora() ? " + out (DoRA magnitude)" : "", names, params, bytes, w.framework() == Framework.TORCHTUNE
                        ? "torchtune builds adapters in the model dtype"
                        : "peft upcasts adapters to fp32: autocast_adapter_dtype=True"));
    }
}
