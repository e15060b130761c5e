package org.gpuplan.model;

/**
 * Gated DeltaNet linear attention, the recurrent layers of Qwen3-Next and Qwen3.5 (transformers
 * modeling_qwen3_next.py Qwen3NextGatedDeltaNet): projections to queries and keys (numKeyHeads × keyHeadDim each), to
 * values and the output gate z (numValueHeads × valueHeadDim each) and to the per-value-head b and a; a depthwise causal
 * conv1d without bias over q, k and v (convKernel taps); per-head dt_bias and A_log; a gated RMSNorm over valueHeadDim;
 * out_proj. It caches a state of constant size per sequence (the conv window and the recurrent matrix) instead of keys
 * and values per token.
 *
 * @param fusedProjections Qwen3-Next's in_proj_qkvz / in_proj_ba (Qwen3.5: in_proj_qkv, in_proj_z, in_proj_b,
 *                         in_proj_a); the same parameters, other module names
 * @param fp32State        the config asks serving engines to keep the recurrent state in fp32 (Qwen3.5
 *                         mamba_ssm_dtype float32); otherwise they keep it in the model dtype
 */
public record GatedDeltaNet(int numKeyHeads, int numValueHeads, int keyHeadDim, int valueHeadDim, int convKernel,
                            boolean fusedProjections, boolean fp32State) {
    public GatedDeltaNet {
        Checks.range(numKeyHeads, 1, Attention.MAX_DIM, "linear_num_key_heads");
        Checks.range(numValueHeads, 1, Attention.MAX_DIM, "linear_num_value_heads");
        Checks.range(keyHeadDim, 1, Attention.MAX_DIM, "linear_key_head_dim");
        Checks.range(valueHeadDim, 1, Attention.MAX_DIM, "linear_value_head_dim");
        Checks.range(convKernel, 1, 1024, "linear_conv_kernel_dim");
        if (numValueHeads % numKeyHeads != 0) {
            throw new InvalidInputException("linear_num_value_heads (" + numValueHeads
                    + ") must be a multiple of linear_num_key_heads (" + numKeyHeads + ")");
        }
    }

    /** Width of the queries (and of the keys). */
    public long keyDim() {
        return (long) numKeyHeads * keyHeadDim;
    }

    /** Width of the values (and of the output gate). */
    public long valueDim() {
        return (long) numValueHeads * valueHeadDim;
    }

    /** Channels of the causal conv1d: q, k and v. */
    public long convDim() {
        return 2 * keyDim() + valueDim();
    }

    /** Elements of the conv window a sequence carries: (kernel − 1) · conv channels. */
    public long convStateElements() {
        return (convKernel - 1L) * convDim();
    }

    /** Elements of the recurrent state a sequence carries: value heads · key dim · value dim. */
    public long recurrentStateElements() {
        return (long) numValueHeads * keyHeadDim * valueHeadDim;
    }
}
