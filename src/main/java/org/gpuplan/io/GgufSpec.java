package org.gpuplan.io;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.model.InvalidInputException;

/**
 * Derives an architecture from a GGUF header's {@code <arch>.*} keys by translating them into the HuggingFace
 * config.json fields of the matching family and reading that with {@link HfConfigParser}, so each family's rules stay
 * in one place. Key names from llama.cpp's {@code gguf-py/gguf/constants.py}.
 */
final class GgufSpec {

    /** llama.cpp architecture names → HuggingFace model_type. */
    private static final Map<String, String> MODEL_TYPES = Map.ofEntries(
            Map.entry("llama", "llama"), Map.entry("mistral", "mistral"), Map.entry("qwen2", "qwen2"),
            Map.entry("qwen2moe", "qwen2_moe"), Map.entry("qwen3", "qwen3"), Map.entry("qwen3moe", "qwen3_moe"),
            Map.entry("gemma", "gemma"), Map.entry("gemma2", "gemma2"), Map.entry("gemma3", "gemma3_text"),
            Map.entry("phi3", "phi3"), Map.entry("gpt2", "gpt2"), Map.entry("gptneox", "gpt_neox"),
            Map.entry("bert", "bert"), Map.entry("deepseek2", "deepseek_v3"), Map.entry("gpt-oss", "gpt_oss"),
            Map.entry("glm4moe", "glm4_moe"), Map.entry("llama4", "llama4_text"),
            Map.entry("qwen3next", "qwen3_next"), Map.entry("qwen35", "qwen3_5_text"),
            Map.entry("qwen35moe", "qwen3_5_moe_text"));

    private GgufSpec() {
    }

    static Optional<ParsedConfig> derive(GgufFile f, String name, List<String> warnings) {
        Optional<String> arch = f.architecture();
        if (arch.isEmpty()) {
            warnings.add("GGUF has no general.architecture; showing the tensor table only");
            return Optional.empty();
        }
        String a = arch.get();
        String modelType = MODEL_TYPES.get(a);
        if (modelType == null) {
            warnings.add("GGUF architecture '" + a + "' is not mapped to a known family; showing the tensor table "
                    + "only (known: " + String.join(", ", new java.util.TreeSet<>(MODEL_TYPES.keySet())) + ")");
            return Optional.empty();
        }
        ObjectNode c = HfConfigParser.JSON.createObjectNode();
        long experts = f.integer(a + ".expert_count").orElse(0L);
        if (modelType.equals("llama") && experts > 0) {
            modelType = "mixtral";
        }
        c.put("model_type", modelType);
        copy(f, c, a + ".embedding_length", "hidden_size");
        copy(f, c, a + ".block_count", "num_hidden_layers");
        copy(f, c, a + ".attention.head_count", "num_attention_heads");
        copy(f, c, a + ".attention.head_count_kv", "num_key_value_heads");
        copy(f, c, a + ".context_length", "max_position_embeddings");
        copy(f, c, a + ".attention.sliding_window", "sliding_window");
        boolean llama4 = modelType.equals("llama4_text");
        // Llama 4 names its routed (and shared) expert width intermediate_size and the dense layers' width
        // intermediate_size_mlp
        copy(f, c, a + ".feed_forward_length", llama4 ? "intermediate_size_mlp" : "intermediate_size");
        copy(f, c, a + ".expert_feed_forward_length", modelType.equals("gpt_oss") || llama4 ? "intermediate_size"
                : "moe_intermediate_size");
        copy(f, c, a + ".interleave_moe_layer_step", "interleave_moe_layer_step");
        copy(f, c, a + ".expert_shared_feed_forward_length", "shared_expert_intermediate_size");
        if (experts > 0) {
            c.put(modelType.equals("deepseek_v3") || modelType.equals("glm4_moe") ? "n_routed_experts"
                    : modelType.startsWith("qwen")
                    ? "num_experts" : "num_local_experts", experts);
        }
        copy(f, c, a + ".expert_used_count", "num_experts_per_tok");
        copy(f, c, a + ".expert_shared_count", "n_shared_experts");
        copy(f, c, a + ".leading_dense_block_count", "first_k_dense_replace");
        copy(f, c, a + ".attention.q_lora_rank", "q_lora_rank");
        copy(f, c, a + ".attention.kv_lora_rank", "kv_lora_rank");
        if (modelType.equals("deepseek_v3")) {
            // GGUFs converted for llama.cpp's MLA (PR #12801) write the latent's widths as key_length/value_length
            // (kv_lora_rank + rope, kv_lora_rank) and the per-head widths as key_length_mla/value_length_mla
            long rope = f.integer(a + ".rope.dimension_count").orElse(64L);
            long key = f.integer(a + ".attention.key_length_mla")
                    .orElse(f.integer(a + ".attention.key_length").orElse(192L));
            c.put("qk_rope_head_dim", rope);
            c.put("qk_nope_head_dim", key - rope);
            f.integer(a + ".attention.value_length_mla").or(() -> f.integer(a + ".attention.value_length"))
                    .ifPresent(v -> c.put("v_head_dim", v));
            c.put("num_nextn_predict_layers", f.integer(a + ".nextn_predict_layers").orElse(0L));
        } else {
            copy(f, c, a + ".attention.key_length", "head_dim");
        }
        if (modelType.equals("qwen3_next") || modelType.startsWith("qwen3_5")) {
            // Gated DeltaNet sizes in llama.cpp's ssm.* keys: group_count = key heads, time_step_rank = value heads,
            // state_size = head dim, inner_size = value heads × value head dim; block_count includes the MTP blocks
            mtpBlocksApart(f, c, a, "mtp_num_hidden_layers");
            copy(f, c, a + ".ssm.group_count", "linear_num_key_heads");
            copy(f, c, a + ".ssm.time_step_rank", "linear_num_value_heads");
            copy(f, c, a + ".ssm.state_size", "linear_key_head_dim");
            copy(f, c, a + ".ssm.conv_kernel", "linear_conv_kernel_dim");
            copy(f, c, a + ".full_attention_interval", "full_attention_interval");
            long inner = f.integer(a + ".ssm.inner_size").orElse(0L);
            long valueHeads = f.integer(a + ".ssm.time_step_rank").orElse(0L);
            if (inner > 0 && valueHeads > 0) {
                c.put("linear_value_head_dim", inner / valueHeads);
            }
        }
        if (modelType.equals("glm4_moe")) {
            // convert_hf_to_gguf writes the MTP layer as an extra block (block_count = layers + nextn); every GLM-4.5
            // release has q/k/v biases (attention_bias true)
            mtpBlocksApart(f, c, a, "num_nextn_predict_layers");
            c.put("attention_bias", true);
        }
        long vocab = f.integer(a + ".vocab_size")
                .orElse(f.arrayLengths().getOrDefault("tokenizer.ggml.tokens", 0L));
        if (vocab > 0) {
            c.put("vocab_size", vocab);
        }
        boolean hasOutput = f.tensors().elementsByTerm().getOrDefault("lm_head", 0L) > 0;
        c.put("tie_word_embeddings", !hasOutput);
        c.put("architectures", HfConfigParser.JSON.createArrayNode().add(a));
        try {
            ParsedConfig parsed = HfConfigParser.parse(new ConfigFields(c, name + " (GGUF metadata)"), name);
            warnings.addAll(parsed.warnings());
            return Optional.of(new ParsedConfig(parsed.spec(), f.fileType(), Optional.empty(), new ArrayList<>()));
        } catch (InvalidInputException e) {
            warnings.add("could not derive the architecture from the GGUF metadata (" + e.getMessage()
                    + "); showing the tensor table only");
            return Optional.empty();
        }
    }

    /** convert_hf_to_gguf writes MTP layers as extra blocks (block_count = layers + nextn_predict_layers). */
    private static void mtpBlocksApart(GgufFile f, ObjectNode c, String a, String mtpField) {
        long nextn = f.integer(a + ".nextn_predict_layers").orElse(0L);
        f.integer(a + ".block_count").ifPresent(b -> c.put("num_hidden_layers", Math.max(1, b - nextn)));
        c.put(mtpField, nextn);
    }

    private static void copy(GgufFile f, ObjectNode c, String key, String field) {
        f.integer(key).ifPresent(v -> c.put(field, v));
    }
}
