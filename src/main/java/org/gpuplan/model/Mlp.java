package org.gpuplan.model;

/**
 * A dense feed-forward block.
 *
 * @param gated        gate, up and down projections (SwiGLU/GeGLU); otherwise up and down only (GPT-2, BERT)
 * @param bias         biases on the projections
 * @param fusedGateUp  gate and up share one matrix (Phi-3); same count, other module names
 * @param activation   the activation function named by the config, for display
 */
public record Mlp(int intermediateSize, boolean gated, boolean bias, boolean fusedGateUp, String activation) {
    public Mlp {
        Checks.range(intermediateSize, 1, Attention.MAX_DIM, "intermediate_size");
        activation = activation == null ? "unknown" : activation;
    }
}
