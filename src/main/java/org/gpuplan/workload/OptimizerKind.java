package org.gpuplan.workload;

/**
 * Optimizers and their state layouts. {@code adamw} is torch.optim.AdamW's default foreach implementation (one
 * state-sized temporary at the step), {@code adamw-fused} its fused kernel (none), {@code adamw-hf} the per-parameter
 * AdamW of older transformers releases (Trainer's adamw_hf; one parameter-sized temporary at a time).
 */
public enum OptimizerKind implements Choice {
    ADAMW("adamw"),
    ADAMW_FUSED("adamw-fused"),
    ADAMW_HF("adamw-hf"),
    ADAMW_8BIT("adamw-8bit"),
    PAGED_ADAMW_8BIT("paged-adamw-8bit"),
    ADAFACTOR("adafactor"),
    SGD("sgd"),
    SGD_MOMENTUM("sgd-momentum"),
    LION("lion");

    private final String key;

    OptimizerKind(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        // transformers TrainingArguments optim values
        return switch (this) {
            case ADAMW -> java.util.List.of("adamw_torch");
            case ADAMW_FUSED -> java.util.List.of("adamw_torch_fused");
            case ADAMW_8BIT -> java.util.List.of("adamw_bnb_8bit", "adamw8bit");
            case PAGED_ADAMW_8BIT -> java.util.List.of("paged_adamw8bit");
            case LION -> java.util.List.of("lion_32bit");
            default -> java.util.List.of();
        };
    }
}
