package org.gpuplan.memory;

import java.util.ArrayList;
import java.util.List;
import org.gpuplan.model.Attention;
import org.gpuplan.model.Family;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.Moe;

/**
 * The nn.Linear inventory of a model (the LM head excluded): what quantization libraries replace, what LoRA can
 * target, and the shapes of the matrices. Names follow each family's transformers modules.
 */
public final class LinearModules {

    private LinearModules() {
    }

    public static List<LinearModule> of(ModelSpec m) {
        List<LinearModule> out = new ArrayList<>();
        long h = m.hiddenSize();
        long layers = m.numLayers();
        long dense = layers - m.moeLayerCount();
        long moeLayers = m.moeLayerCount();
        Family f = m.family();
        if (m.attention() instanceof Attention.Latent l) {
            long a = l.numHeads();
            if (l.qLoraRank() > 0) {
                out.add(new LinearModule("q_a_proj", h, l.qLoraRank(), layers, false));
                out.add(new LinearModule("q_b_proj", l.qLoraRank(), a * l.qkHeadDim(), layers, false));
            } else {
                out.add(new LinearModule("q_proj", h, a * l.qkHeadDim(), layers, false));
            }
            out.add(new LinearModule("kv_a_proj_with_mqa", h, l.kvLoraRank() + l.qkRopeHeadDim(), layers, false));
            out.add(new LinearModule("kv_b_proj", l.kvLoraRank(), a * (l.qkNopeHeadDim() + l.vHeadDim()), layers,
                    false));
            out.add(new LinearModule("o_proj", a * l.vHeadDim(), h, layers, false));
        } else {
            Attention.Standard s = (Attention.Standard) m.attention();
            long q = (long) s.numHeads() * s.headDim();
            long kv = (long) s.numKvHeads() * s.headDim();
            if (m.linearLayerCount() > 0) {
                linearAttention(m, out);
            }
            long attn = m.attentionLayerCount(); // the linear-attention layers have their own projections
            // q_proj also produces the output gate (Qwen3-Next, Qwen3.5)
            long qOut = s.outputGate() ? 2 * q : q;
            switch (f) {
                case GPT2, GPT_BIGCODE -> {
                    out.add(new LinearModule("c_attn", h, q + 2 * kv, layers, false));
                    out.add(new LinearModule("c_proj", q, h, layers, false));
                }
                case GPT_NEOX -> {
                    out.add(new LinearModule("query_key_value", h, 3 * h, layers, false));
                    out.add(new LinearModule("dense", h, h, layers, false));
                }
                case BERT, ROBERTA -> {
                    out.add(new LinearModule("query", h, h, layers, false));
                    out.add(new LinearModule("key", h, h, layers, false));
                    out.add(new LinearModule("value", h, h, layers, false));
                    out.add(new LinearModule("dense", h, h, layers, false));
                }
                case PHI3 -> {
                    out.add(new LinearModule("qkv_proj", h, q + 2 * kv, layers, false));
                    out.add(new LinearModule("o_proj", q, h, layers, false));
                }
                default -> {
                    out.add(new LinearModule("q_proj", h, qOut, attn, false));
                    out.add(new LinearModule("k_proj", h, kv, attn, false));
                    out.add(new LinearModule("v_proj", h, kv, attn, false));
                    out.add(new LinearModule("o_proj", q, h, attn, false));
                }
            }
        }
        if (dense > 0 && m.mlp() != null) {
            long fsz = m.mlp().intermediateSize();
            switch (f) {
                case GPT2, GPT_BIGCODE -> {
                    out.add(new LinearModule("c_fc", h, fsz, dense, false));
                    out.add(new LinearModule("c_proj", fsz, h, dense, false));
                }
                case GPT_NEOX -> {
                    out.add(new LinearModule("dense_h_to_4h", h, fsz, dense, false));
                    out.add(new LinearModule("dense_4h_to_h", fsz, h, dense, false));
                }
                case BERT, ROBERTA -> {
                    out.add(new LinearModule("dense", h, fsz, dense, false));
                    out.add(new LinearModule("dense", fsz, h, dense, false));
                }
                case PHI3 -> {
                    out.add(new LinearModule("gate_up_proj", h, 2 * fsz, dense, false));
                    out.add(new LinearModule("down_proj", fsz, h, dense, false));
                }
                default -> {
                    out.add(new LinearModule("gate_proj", h, fsz, dense, false));
                    out.add(new LinearModule("up_proj", h, fsz, dense, false));
                    out.add(new LinearModule("down_proj", fsz, h, dense, false));
                }
            }
        }
        if (moeLayers > 0) {
            Moe moe = m.moe();
            long fe = moe.expertIntermediateSize();
            long n = moeLayers * moe.numExperts();
            boolean mixtral = f == Family.MIXTRAL;
            if (f == Family.LLAMA4 || f == Family.QWEN3_5_MOE) {
                // fused expert parameters: Llama4TextExperts gate_up_proj [E, h, 2f] and down_proj [E, f, h];
                // transformers 5 Qwen3_5MoeExperts the same transposed. Llama 4's router is a Linear; Qwen3.5's
                // (Qwen3_5MoeTopKRouter) holds a bare weight [E, h] it applies with F.linear
                out.add(new LinearModule("experts.gate_up_proj", h, 2 * fe, n, true, true));
                out.add(new LinearModule("experts.down_proj", fe, h, n, true, true));
                out.add(f == Family.LLAMA4 ? new LinearModule("router", h, moe.numExperts(), moeLayers, false)
                        : new LinearModule("gate.weight", h, moe.numExperts(), moeLayers, false, true));
            } else {
                out.add(new LinearModule(mixtral ? "w1" : "gate_proj", h, fe, n, true));
                out.add(new LinearModule(mixtral ? "w3" : "up_proj", h, fe, n, true));
                out.add(new LinearModule(mixtral ? "w2" : "down_proj", fe, h, n, true));
                out.add(new LinearModule("gate", h, moe.numExperts(), moeLayers, false));
            }
            if (moe.sharedIntermediateSize() > 0) {
                long fs = moe.sharedIntermediateSize();
                out.add(new LinearModule("gate_proj", h, fs, moeLayers, false));
                out.add(new LinearModule("up_proj", h, fs, moeLayers, false));
                out.add(new LinearModule("down_proj", fs, h, moeLayers, false));
            }
        }
        return out;
    }

    /**
     * Gated DeltaNet projections: Qwen3-Next fuses q, k, v, z into in_proj_qkvz and b, a into in_proj_ba; Qwen3.5
     * keeps in_proj_qkv, in_proj_z, in_proj_b and in_proj_a. (The conv1d is not a Linear.)
     */
    private static void linearAttention(ModelSpec m, List<LinearModule> out) {
        var g = m.linearAttention();
        long h = m.hiddenSize();
        long n = m.linearLayerCount();
        if (g.fusedProjections()) {
            out.add(new LinearModule("in_proj_qkvz", h, 2 * g.keyDim() + 2 * g.valueDim(), n, false));
            out.add(new LinearModule("in_proj_ba", h, 2L * g.numValueHeads(), n, false));
        } else {
            out.add(new LinearModule("in_proj_qkv", h, 2 * g.keyDim() + g.valueDim(), n, false));
            out.add(new LinearModule("in_proj_z", h, g.valueDim(), n, false));
            out.add(new LinearModule("in_proj_b", h, g.numValueHeads(), n, false));
            out.add(new LinearModule("in_proj_a", h, g.numValueHeads(), n, false));
        }
        out.add(new LinearModule("out_proj", g.valueDim(), h, n, false));
    }

    /** PEFT's default LoRA targets for a family (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
    public static List<String> defaultLoraTargets(ModelSpec m) {
        return switch (m.family()) {
            case GPT2, GPT_BIGCODE -> List.of("c_attn");
            case GPT_NEOX -> List.of("query_key_value");
            case BERT, ROBERTA -> List.of("query", "value");
            case PHI3 -> List.of("qkv_proj");
            default -> m.attention() instanceof Attention.Latent l && l.qLoraRank() > 0
                    ? List.of("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj")
                    : List.of("q_proj", "v_proj");
        };
    }

    /**
     * The LM head as a LoRA target: transformers names it lm_head (GPT-NeoX embed_out), torchtune output
     * (apply_lora_to_output). It is not in the inventory above because quantization libraries keep it in 16-bit and
     * PEFT's all-linear leaves the output layer out; PEFT adapts it only when named.
     */
    public static java.util.Optional<LinearModule> lmHead(ModelSpec m) {
        if (!(m.head() instanceof org.gpuplan.model.Head.CausalLm)) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new LinearModule(m.family() == Family.GPT_NEOX ? "embed_out" : "lm_head",
                m.hiddenSize(), m.vocabSize(), 1, false));
    }

    /** The modules that are nn.Linear (what PEFT adapts and bitsandbytes quantizes): all but fused expert tensors. */
    public static List<LinearModule> nnLinear(ModelSpec m) {
        return of(m).stream().filter(lm -> !lm.fusedParameter()).toList();
    }

    /** Parameters bitsandbytes quantizes (nn.Linear modules only). */
    public static long nnLinearParameters(ModelSpec m) {
        return nnLinear(m).stream().mapToLong(LinearModule::parameters).sum();
    }

    /** Total parameters held by Linear modules (what GPTQ/AWQ/FP8 quantize, fused experts included). */
    public static long linearParameters(ModelSpec m) {
        return of(m).stream().mapToLong(LinearModule::parameters).sum();
    }
}
