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

    /**
     * Whether eager PyTorch runs the activation as several ops: transformers writes gelu_new and gelu_fast out as
     * pow, scalar muls, add, tanh, add one, 0.5·x and a product (each keeping tensors for backward), where erf GELU,
     * gelu_pytorch_tanh, ReLU and SiLU are one kernel.
     */
    public boolean multiOpActivation() {
        String a = activation.toLowerCase(java.util.Locale.ROOT);
        return a.equals("gelu_new") || a.equals("gelu_fast");
    }
}
