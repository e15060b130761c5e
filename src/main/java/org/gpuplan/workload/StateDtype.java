package org.gpuplan.workload;

/**
 * The dtype a serving engine keeps linear-attention (Gated DeltaNet, Mamba) recurrent states in: vLLM
 * --mamba-ssm-cache-dtype, SGLang --mamba-ssm-dtype. AUTO follows the engine: the config's mamba_ssm_dtype in vLLM
 * and TensorRT-LLM (else the model dtype), fp32 in SGLang.
 */
public enum StateDtype implements Choice {
    AUTO("auto", 0),
    FLOAT32("float32", 4),
    BFLOAT16("bfloat16", 2),
    FLOAT16("float16", 2);

    private final String key;
    private final int bytes;

    StateDtype(String key, int bytes) {
        this.key = key;
        this.bytes = bytes;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        return switch (this) {
            case FLOAT32 -> java.util.List.of("fp32");
            case BFLOAT16 -> java.util.List.of("bf16");
            case FLOAT16 -> java.util.List.of("fp16", "half");
            case AUTO -> java.util.List.of();
        };
    }

    /** Bytes per element; 0 for AUTO (the engine decides). */
    public int bytes() {
        return bytes;
    }
}
