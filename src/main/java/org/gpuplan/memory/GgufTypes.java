package org.gpuplan.memory;

import java.util.List;
import org.gpuplan.model.Attention;
import org.gpuplan.model.Family;
import org.gpuplan.model.GgmlType;
import org.gpuplan.model.Layer;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.QuantFormat;

/**
 * The type llama.cpp's quantizer gives each matrix of a model for a file type (llama-quant.cpp,
 * llama_tensor_get_type_impl, without an importance matrix): the base type of the file type, with the mixes' choices
 * for attn_v-like tensors (attn_v, fused attn_qkv, MLA's attn_kv_b), attn_k, attn_output and ffn_down by layer, the
 * 8-expert (Mixtral) and 70B rules, the router in F32, and the fallback for widths a block does not divide.
 */
final class GgufTypes {

    private GgufTypes() {
    }

    /** What llama.cpp's rules look at in a matrix's name. */
    enum Category { ATTN_V, ATTN_K, ATTN_OUTPUT, FFN_DOWN, ROUTER, OTHER }

    static Category category(LinearModule lm) {
        return switch (lm.name()) {
            case "v_proj", "qkv_proj", "query_key_value", "c_attn", "kv_b_proj" -> Category.ATTN_V;
            case "k_proj" -> Category.ATTN_K;
            case "o_proj" -> Category.ATTN_OUTPUT;
            case "down_proj", "w2", "dense_4h_to_h" -> Category.FFN_DOWN;
            case "router", "gate", "gate.weight" -> Category.ROUTER;
            default -> Category.OTHER;
        };
    }

    /** The model facts the rules use. */
    record Context(int layers, int attentionLayers, int ffnDownTensors, boolean moe, int experts, int gqa,
                   boolean seventyB) {
        static Context of(ModelSpec m) {
            List<Layer> ls = m.layers();
            int attention = (int) ls.stream().filter(l -> !l.linearAttention()).count();
            int moeLayers = (int) ls.stream().filter(Layer::moe).count();
            boolean shared = m.moe() != null && m.moe().sharedIntermediateSize() > 0;
            // ffn_down tensors: a dense layer's, or a MoE layer's experts (and its shared expert)
            int downs = ls.size() - moeLayers + moeLayers * (shared ? 2 : 1);
            int gqa = m.attention() instanceof Attention.Standard s ? s.numHeads() / Math.max(1, s.numKvHeads()) : 1;
            int experts = m.moe() == null ? 0 : m.moe().numExperts();
            // llama.cpp names an 80-layer Llama "70B" (LLM_TYPE_70B)
            boolean seventyB = m.family() == Family.LLAMA && ls.size() == 80;
            return new Context(ls.size(), attention, downs, moeLayers > 0, experts, gqa, seventyB);
        }
    }

    /**
     * The stored type of {@code lm} in layer {@code layer} ({@code attentionIndex}: its index among the attention
     * layers) of a file of type {@code q}.
     */
    static GgmlType type(QuantFormat q, GgmlType base, LinearModule lm, int layer, int attentionIndex, Context c) {
        Category cat = category(lm);
        if (cat == Category.ROUTER) {
            return GgmlType.F32; // ffn_gate_inp is never quantized
        }
        GgmlType t = base;
        switch (cat) {
            case ATTN_V -> {
                t = switch (q) {
                    case Q2_K -> c.gqa() >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
                    case Q3_K_M -> attentionIndex < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
                    case IQ4_XS -> c.gqa() >= 4 ? GgmlType.Q5_K : base;
                    case Q4_K_M, Q5_K_M -> useMoreBits(attentionIndex, c.attentionLayers())
                            ? GgmlType.Q6_K : base;
                    case Q4_K_S -> attentionIndex < 4 ? GgmlType.Q5_K : base;
                    default -> base;
                };
                if (c.seventyB() && (t == GgmlType.Q3_K || t == GgmlType.Q4_K)) {
                    t = GgmlType.Q5_K;
                }
                if (c.experts() == 8) {
                    t = GgmlType.Q8_0;
                }
            }
            case ATTN_K -> t = c.experts() == 8 ? GgmlType.Q8_0 : base;
            case ATTN_OUTPUT -> {
                if (c.experts() == 8) {
                    t = switch (q) {
                        case Q2_K, Q3_K_S, Q3_K_M, Q4_K_S, Q4_K_M, IQ4_XS -> GgmlType.Q5_K;
                        default -> base;
                    };
                } else {
                    t = switch (q) {
                        case Q2_K -> GgmlType.Q3_K;
                        case Q3_K_M -> GgmlType.Q4_K;
                        default -> base;
                    };
                }
            }
            case FFN_DOWN -> {
                // dense models count ffn_down tensors in order; MoE models take the layer from the name against the
                // count of all ffn_down tensors
                int i = layer;
                int n = c.moe() ? c.ffnDownTensors() : c.layers();
                t = switch (q) {
                    case Q2_K -> GgmlType.Q3_K;
                    case Q3_K_M -> i < n / 16 ? GgmlType.Q5_K : GgmlType.Q4_K;
                    case Q4_K_M, Q5_K_M -> useMoreBits(i, n) ? GgmlType.Q6_K : base;
                    case Q4_K_S -> i < n / 8 ? GgmlType.Q5_K : base;
                    case IQ4_XS -> i < n / 8 ? GgmlType.Q5_K : base;
                    default -> base;
                };
            }
            default -> t = base;
        }
        return stored(t, lm.in());
    }

    /**
     * The type llama.cpp stores a matrix of {@code ncols} input columns in when it asks for {@code target}: a row must
     * hold whole blocks, so a width the block does not divide falls back (llama-quant.cpp tensor_type_fallback: the
     * 256-wide K-quants to a 32-wide legacy type, e.g. DeepSeek-V2-Lite's 1,408-wide expert down-projections), and to
     * F16 when even that does not divide.
     */
    static GgmlType stored(GgmlType target, long ncols) {
        if (ncols % target.blockSize() == 0) {
            return target;
        }
        GgmlType fallback = switch (target) {
            case IQ4_XS -> GgmlType.IQ4_NL;
            case Q2_K, Q3_K -> GgmlType.Q4_0;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> GgmlType.F16;
        };
        return ncols % fallback.blockSize() == 0 ? fallback : GgmlType.F16;
    }

    // llama.cpp use_more_bits(i, n): i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
    static boolean useMoreBits(int i, int n) {
        return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    }
}
