package org.gpuplan.model;

/**
 * One Transformer block: whether its attention is restricted to a sliding window, whether its feed-forward block is
 * a mixture of experts (otherwise the model's dense {@link Mlp}) and whether its token mixer is linear attention
 * ({@link GatedDeltaNet}) instead of softmax attention.
 */
public record Layer(boolean slidingWindow, boolean moe, boolean linearAttention) {

    public Layer(boolean slidingWindow, boolean moe) {
        this(slidingWindow, moe, false);
    }
}
