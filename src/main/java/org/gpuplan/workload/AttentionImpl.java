package org.gpuplan.workload;

/**
 * Attention kernel: eager materialises the s x s probabilities; sdpa and the FlashAttention kernels keep only a
 * log-sum-exp. {@code flash} is FlashAttention-2 (or a later generation); {@code flash1} the first generation —
 * FlashAttention 1.x and the Triton FlashAttention kernel of the same era (llm-foundry's {@code attn_impl: triton}) —
 * which keeps the same tensors but runs at about half of FlashAttention-2's speed.
 */
public enum AttentionImpl implements Choice {
    EAGER("eager"),
    SDPA("sdpa"),
    FLASH("flash"),
    FLASH1("flash1");

    private final String key;

    AttentionImpl(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        // transformers' attn_implementation values; llm-foundry's attn_impl
        return switch (this) {
            case FLASH -> java.util.List.of("flash_attention_2", "flash_attention_3", "flash-attn", "fa2", "fa3");
            case FLASH1 -> java.util.List.of("fa1", "flash-attn-1", "triton");
            default -> java.util.List.of();
        };
    }

    /** A FlashAttention kernel (any generation): no s x s tensor, a per-row log-sum-exp saved for backward. */
    public boolean flashKernel() {
        return this == FLASH || this == FLASH1;
    }
}
