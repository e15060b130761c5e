package org.gpuplan.workload;

/** KV-cache element types; {@code auto} uses the model's compute dtype. Bytes per element include block scales. */
public enum KvDtype implements Choice {
    AUTO("auto", 0),
    FP32("fp32", 4),
    FP16("fp16", 2),
    BF16("bf16", 2),
    FP8("fp8", 1),
    FP8_E4M3("fp8-e4m3", 1),
    FP8_E5M2("fp8-e5m2", 1),
    INT8("int8", 1),
    Q8_0("q8_0", 34.0 / 32),
    Q4_0("q4_0", 18.0 / 32);

    private final String key;
    private final double bytes;

    KvDtype(String key, double bytes) {
        this.key = key;
        this.bytes = bytes;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        // PyTorch dtype names (vLLM --kv-cache-dtype, llama.cpp --cache-type-k f16)
        return switch (this) {
            case FP32 -> java.util.List.of("float32", "f32");
            case FP16 -> java.util.List.of("float16", "half", "f16");
            case BF16 -> java.util.List.of("bfloat16");
            default -> java.util.List.of();
        };
    }

    /** Bytes per cached element, {@code autoBytes} for {@code auto}. */
    public double bytes(double autoBytes) {
        return this == AUTO ? autoBytes : bytes;
    }
}
