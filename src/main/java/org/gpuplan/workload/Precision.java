package org.gpuplan.workload;

/** Weight dtype and autocast: *-mixed keeps fp32 weights and computes under autocast; bf16/fp16 are pure half-precision weights. */
public enum Precision implements Choice {
    FP32("fp32"),
    FP16_MIXED("fp16-mixed"),
    BF16_MIXED("bf16-mixed"),
    BF16("bf16"),
    FP16("fp16");

    private final String key;

    Precision(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        // PyTorch dtype names, as HF torch_dtype and vLLM --dtype take them (pure half-precision weights)
        return switch (this) {
            case FP32 -> java.util.List.of("float32", "float");
            case BF16 -> java.util.List.of("bfloat16");
            case FP16 -> java.util.List.of("float16", "half");
            default -> java.util.List.of();
        };
    }

    /** Bytes per stored weight: fp32 for fp32 and the mixed modes (fp32 master weights), 2 otherwise. */
    public int weightBytes() {
        return this == FP32 || this == FP16_MIXED || this == BF16_MIXED ? 4 : 2;
    }

    /** Bytes per element of activations: the autocast/compute dtype. */
    public int computeBytes() {
        return this == FP32 ? 4 : 2;
    }

    public boolean mixed() {
        return this == FP16_MIXED || this == BF16_MIXED;
    }
}
