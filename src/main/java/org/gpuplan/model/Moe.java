package org.gpuplan.model;

/**
 * A mixture-of-experts feed-forward block.
 *
 * @param numExperts            routed experts per MoE layer
 * @param topK                  routed experts each token uses
 * @param expertIntermediateSize intermediate size of one routed expert (all experts are gated MLPs)
 * @param sharedIntermediateSize intermediate size of the always-on shared expert MLP, 0 when there is none
 *                               (DeepSeek: n_shared_experts × moe_intermediate_size; Qwen2-MoE:
 *                               shared_expert_intermediate_size)
 * @param sharedExpertGate      a sigmoid gate Linear(hidden, 1) on the shared expert (Qwen2-MoE)
 * @param routerBias            the router Linear has a bias (gpt-oss)
 * @param routerScoreCorrection a per-expert score-correction bias vector (DeepSeek-V3 {@code e_score_correction_bias})
 * @param expertBias            biases inside each expert (gpt-oss)
 */
public record Moe(int numExperts, int topK, int expertIntermediateSize, int sharedIntermediateSize,
                  boolean sharedExpertGate, boolean routerBias, boolean routerScoreCorrection, boolean expertBias) {
    public Moe {
        Checks.range(numExperts, 1, 1 << 20, "number of experts");
        Checks.range(topK, 1, numExperts, "experts per token");
        Checks.range(expertIntermediateSize, 1, Attention.MAX_DIM, "expert intermediate size");
        Checks.range(sharedIntermediateSize, 0, Attention.MAX_DIM, "shared expert intermediate size");
    }
}
