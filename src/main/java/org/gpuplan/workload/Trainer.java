package org.gpuplan.workload;

/**
 * What a training step optimizes, as TRL's trainers run it: supervised next-token loss, or a preference objective
 * whose step runs each prompt's chosen and rejected completions through the model together (twice the sequences),
 * some against a frozen reference model's log-probabilities.
 */
public enum Trainer implements Choice {
    /** Next-token cross-entropy (pre-training, SFTTrainer, Trainer). */
    SFT("sft", false, false),
    /** DPOTrainer: chosen + rejected concatenated into one batch, and the reference model's log-probabilities. */
    DPO("dpo", true, true),
    /** ORPOTrainer: chosen + rejected concatenated, no reference model. */
    ORPO("orpo", true, false),
    /** CPOTrainer (also SimPO as its loss_type): chosen + rejected concatenated, no reference model. */
    CPO("cpo", true, false),
    /**
     * GRPOTrainer: batch_size completions of prompt + completion tokens, log-probabilities row-wise; a reference model
     * only when beta > 0, and the completions generated before the step (see {@link RlGeneration}).
     */
    GRPO("grpo", false, false);

    private final String key;
    private final boolean paired;
    private final boolean reference;

    Trainer(String key, boolean paired, boolean reference) {
        this.key = key;
        this.paired = paired;
        this.reference = reference;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        return switch (this) {
            case SFT -> java.util.List.of("causal-lm", "pretrain", "clm");
            case CPO -> java.util.List.of("simpo");
            default -> java.util.List.of();
        };
    }

    /** Each example is a chosen and a rejected sequence, both run in the step's forward and backward. */
    public boolean paired() {
        return paired;
    }

    /** The loss compares with a frozen reference model's log-probabilities. */
    public boolean reference() {
        return reference;
    }
}
