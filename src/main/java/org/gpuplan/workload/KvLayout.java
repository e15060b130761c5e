package org.gpuplan.workload;

/**
 * How an engine lays out the KV cache of a multi-head latent attention model (DeepSeek-V2/V3, Kimi): the compressed
 * latent that MLA was designed to cache, or the per-head K and V that engines without MLA support rebuild from it.
 * Standard attention has one layout (K and V per KV head) and takes only {@code auto}.
 */
public enum KvLayout implements Choice {
    /** What the engine does today: transformers caches per-head K and V; vLLM, SGLang, TensorRT-LLM and llama.cpp the latent. */
    AUTO("auto"),
    /** The latent vector, kv_lora_rank + qk_rope_head_dim elements per token per layer, on every TP rank. */
    LATENT("latent"),
    /**
     * The latent as K plus a separate kv_lora_rank-wide V cache: llama.cpp's MLA builds from PR #12801 (April 2025)
     * until V became a view of K (PR #19067, January 2026).
     */
    LATENT_V("latent+v"),
    /**
     * K and V per attention head, split over TP ranks: vLLM before its MLA support (0.6.x and older, V padded to the
     * q/k head dim for FlashAttention), llama.cpp with a GGUF converted before MLA support (no attn_k_b tensors).
     */
    PER_HEAD("per-head");

    private final String key;

    KvLayout(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        return switch (this) {
            case LATENT_V -> java.util.List.of("latent-v");
            case PER_HEAD -> java.util.List.of("mha", "per_head");
            default -> java.util.List.of();
        };
    }
}
