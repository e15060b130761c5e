package org.gpuplan.io;

import java.util.Locale;

/**
 * Sorts stored tensors into the same terms as {@code ParameterCounter}, from HuggingFace names
 * ({@code model.layers.3.self_attn.q_proj.weight}) or GGUF names ({@code blk.3.attn_q.weight}).
 */
enum TensorCategory {
    EMBEDDINGS("embeddings"),
    ATTENTION("attention"),
    MLP("mlp"),
    ROUTER("router"),
    EXPERTS("experts"),
    SHARED_EXPERTS("shared_experts"),
    NORMS("norms"),
    LM_HEAD("lm_head"),
    POOLER("pooler"),
    TASK_HEAD("task_head"),
    MTP("mtp"),
    QUANT_SCALES("quantization_scales"),
    VISION("vision"),
    OTHER("other");

    private static final String[] LAYER_PREFIXES = {"layers.", "h.", "layer.", "blk.", "block.", "blocks."};

    private final String key;

    TensorCategory(String key) {
        this.key = key;
    }

    String key() {
        return key;
    }

    /** The block index a tensor name belongs to ({@code model.layers.12.…}, {@code blk.12.…}), or -1. */
    static int layerIndex(String name) {
        for (String prefix : LAYER_PREFIXES) {
            int from = 0;
            while (true) {
                int at = name.indexOf(prefix, from);
                if (at < 0) {
                    break;
                }
                if (at == 0 || name.charAt(at - 1) == '.') {
                    int start = at + prefix.length();
                    int end = start;
                    while (end < name.length() && end - start < 9 && Character.isDigit(name.charAt(end))) {
                        end++;
                    }
                    if (end > start && end < name.length() && name.charAt(end) == '.') {
                        return Integer.parseInt(name, start, end, 10);
                    }
                }
                from = at + 1;
            }
        }
        return -1;
    }

    /**
     * @param mainLayers number of main-model blocks when known (tensors of later blocks are MTP modules), else -1
     */
    static TensorCategory of(String name, int mainLayers) {
        return of(name, layerIndex(name), mainLayers);
    }

    static TensorCategory of(String name, int layer, int mainLayers) {
        String n = name.toLowerCase(Locale.ROOT);
        if (mainLayers > 0 && layer >= mainLayers) {
            return MTP;
        }
        if (n.contains("vision") || n.contains("visual") || n.contains("multi_modal_projector")) {
            return VISION;
        }
        if (n.endsWith("_scale_inv") || n.endsWith(".scales") || n.endsWith(".qzeros") || n.endsWith(".g_idx")
                || n.endsWith("weight_scale") || n.endsWith("input_scale") || n.endsWith(".absmax")
                || n.endsWith(".quant_map") || n.endsWith(".quant_state.bitsandbytes__nf4")
                || n.endsWith(".quant_state.bitsandbytes__fp4") || n.endsWith("_scales")) {
            return QUANT_SCALES;
        }
        if (n.contains("q_norm") || n.contains("k_norm") || n.contains("q_a_layernorm") || n.contains("kv_a_layernorm")
                || n.contains("attn_q_a_norm") || n.contains("attn_kv_a_norm")) {
            return ATTENTION;
        }
        if (n.contains("norm") || n.contains("ln_") || n.contains("layernorm")) {
            return NORMS;
        }
        if (n.contains("shared_expert") || n.contains("_shexp")) {
            return SHARED_EXPERTS;
        }
        if (n.contains("experts") || n.contains("_exps")) {
            return EXPERTS;
        }
        if (n.contains("mlp.gate.") || n.contains("block_sparse_moe.gate.") || n.contains("mlp.router.")
                || n.contains("ffn_gate_inp") || n.contains("exp_probs_b") || n.contains("e_score_correction_bias")) {
            return ROUTER;
        }
        if (n.contains("embed_tokens") || n.contains("wte.") || n.contains("wpe.") || n.contains("word_embeddings")
                || n.contains("position_embeddings") || n.contains("token_type_embeddings")
                || n.contains("embed_in.") || n.startsWith("token_embd") || n.startsWith("position_embd")
                || n.startsWith("token_types")) {
            return EMBEDDINGS;
        }
        if (n.startsWith("lm_head.weight") || n.startsWith("embed_out.") || n.equals("output.weight")
                || n.startsWith("cls.predictions.decoder.weight")) {
            return LM_HEAD;
        }
        if (n.contains("pooler")) {
            return POOLER;
        }
        if (n.startsWith("cls.") || n.contains("classifier") || n.contains("qa_outputs") || n.startsWith("lm_head.")
                || n.startsWith("score.")) {
            return TASK_HEAD;
        }
        if (n.contains("attn") || n.contains("attention") || n.contains("sinks")) {
            return ATTENTION;
        }
        if (n.contains("mlp") || n.contains("ffn") || n.contains("intermediate") || n.contains("output.dense")) {
            return MLP;
        }
        return OTHER;
    }
}
