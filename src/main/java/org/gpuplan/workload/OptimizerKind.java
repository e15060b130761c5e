package org.gpuplan.workload;

/**
 * Optimizers and their state layouts. {@code adamw} is torch.optim.AdamW's default foreach implementation (one
 * state-sized temporary at the step), {@code adamw-fused} its fused kernel (none), {@code adamw-hf} the per-parameter
 * AdamW of older transformers releases (Trainer's adamw_hf; one parameter-sized temporary at a time). The 8-bit and
 * paged kinds are bitsandbytes' (Trainer's adamw_bnb_8bit, paged_adamw_8bit, paged_adamw_32bit, lion_8bit);
 * {@code adamw-4bit} is torchao's AdamW4bit (Trainer's adamw_torch_4bit).
 */
public enum OptimizerKind implements Choice {
    ADAMW("adamw"),
    ADAMW_FUSED("adamw-fused"),
    ADAMW_HF("adamw-hf"),
    ADAMW_8BIT("adamw-8bit"),
    PAGED_ADAMW_8BIT("paged-adamw-8bit"),
    PAGED_ADAMW("paged-adamw"),
    ADAMW_4BIT("adamw-4bit"),
    ADAFACTOR("adafactor"),
    SGD("sgd"),
    SGD_MOMENTUM("sgd-momentum"),
    LION("lion"),
    LION_8BIT("lion-8bit");

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
            case ADAMW_8BIT -> java.util.List.of("adamw_bnb_8bit", "adamw8bit", "adamw_torch_8bit");
            case PAGED_ADAMW_8BIT -> java.util.List.of("paged_adamw8bit");
            case PAGED_ADAMW -> java.util.List.of("paged_adamw_32bit", "paged_adamw32bit");
            case ADAMW_4BIT -> java.util.List.of("adamw_torch_4bit");
            case LION -> java.util.List.of("lion_32bit");
            default -> java.util.List.of();
        };
    }

    /**
     * bitsandbytes' paged optimizers keep their states in CUDA managed memory: nvidia-smi shows them, torch's
     * allocator statistics do not, and they page out to the host instead of failing when the GPU is full.
     */
    public boolean paged() {
        return this == PAGED_ADAMW_8BIT || this == PAGED_ADAMW;
    }
}
