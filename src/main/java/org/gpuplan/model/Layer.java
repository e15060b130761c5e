package org.gpuplan.model;

/**
 * One Transformer block: whether its attention is restricted to a sliding window and whether its feed-forward block is
 * a mixture of experts (otherwise the model's dense {@link Mlp}).
 */
public record Layer(boolean slidingWindow, boolean moe) {
}
