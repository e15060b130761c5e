package org.gpuplan.workload;

/**
 * How the training loss (LM head logits → cross-entropy) is computed; it decides the largest transient tensors of a
 * step for 128k–256k vocabularies.
 */
public enum LossImpl implements Choice {
    /** F.cross_entropy(logits.float(), labels) in eager PyTorch: fp32 copy, saved fp32 log-softmax. */
    EAGER("eager", "eager cross-entropy: 16-bit logits, an fp32 copy and the saved fp32 log-softmax (4·V per token)"),
    /**
     * The loss under torch.compile (torchtitan compiles it with training.compile; HF models compile it with their
     * forward): upcast, log-softmax and NLL fuse into one reduction, only the 16-bit logits are kept for backward.
     */
    COMPILED("compiled", "compiled cross-entropy: the 16-bit logits kept for backward (c·V per token), one 16-bit "
            + "gradient at backward"),
    /**
     * torchtune CEWithChunkedOutputLoss (8 chunks): each chunk is upcast and fed to cross_entropy separately, so the
     * fp32 copy is 1/8 of the logits, but every chunk's fp32 log-softmax is still saved.
     */
    CHUNKED("chunked", "chunked cross-entropy (8 chunks, torchtune): saved fp32 log-softmax (4·V per token), fp32 "
            + "copy and backward transients of one chunk"),
    /**
     * Fused linear cross-entropy (Liger FLCE, torchtune LinearCrossEntropyLoss, Cut Cross-Entropy): the LM head and
     * the loss run chunk by chunk and the gradients are computed in forward; the full logits never exist.
     */
    /**
     * TRL's selective_log_softmax (DPO, ORPO, CPO): each row's log-softmax in the logits' dtype, gathered at the
     * labels; the 16-bit log-softmax rows are kept for backward, no fp32 copy of the logits exists.
     */
    ROWWISE("rowwise", "row-wise log-softmax in the logits' dtype (TRL selective_log_softmax): the c-byte log-softmax "
            + "kept (c·V per token) beside the c-byte logits in forward, two c-byte gradients at backward"),
    FUSED_LINEAR("fused-linear", "fused linear cross-entropy (Liger): no full logits; the input gradient (c·h per "
            + "token) and, for a trainable LM head, its weight gradient are kept from forward");

    private final String key;
    private final String description;

    LossImpl(String key, String description) {
        this.key = key;
        this.description = description;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        // the libraries users know these by
        return this == FUSED_LINEAR ? java.util.List.of("liger", "cut-cross-entropy", "cce") : java.util.List.of();
    }

    /** What this implementation keeps, in words (for explanations). */
    public String description() {
        return description;
    }
}
