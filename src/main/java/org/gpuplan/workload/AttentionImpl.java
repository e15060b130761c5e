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
}
