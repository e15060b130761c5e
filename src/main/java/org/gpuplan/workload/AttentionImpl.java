package org.gpuplan.workload;

/** Attention kernel: eager materialises the s x s probabilities; sdpa/flash keep only a log-sum-exp. */
public enum AttentionImpl implements Choice {
    EAGER("eager"),
    SDPA("sdpa"),
    FLASH("flash");

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
        // transformers' attn_implementation values
        return this == FLASH ? java.util.List.of("flash_attention_2", "flash_attention_3", "flash-attn", "fa2", "fa3")
                : java.util.List.of();
    }
}
