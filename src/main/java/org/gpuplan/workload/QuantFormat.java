package org.gpuplan.workload;

import java.util.Optional;
import org.gpuplan.model.GgmlType;

/**
 * Weight quantization formats. Storage per weight includes the format's scales (and zeros), from the libraries'
 * layouts: bitsandbytes 4-bit stores 0.5 B + an fp32 absmax per 64 weights (double quantization: a uint8 absmax per
 * 64 plus an fp32 scale per 256 blocks); LLM.int8 1 B + an fp32 scale per output row; GPTQ/AWQ 4-bit with group size
 * 128 keep an fp16 scale and a packed 4-bit zero per group; FP8 one byte + a per-tensor fp32 scale; GGUF types use
 * their block layouts.
 */
public enum QuantFormat implements Choice {
    NONE("none"),
    INT8("int8"),
    NF4("nf4"),
    FP4("fp4"),
    GPTQ_4BIT("gptq-4bit"),
    AWQ_4BIT("awq-4bit"),
    FP8("fp8"),
    Q4_0("q4_0"),
    Q4_1("q4_1"),
    Q5_0("q5_0"),
    Q5_1("q5_1"),
    Q8_0("q8_0"),
    Q2_K("q2_k"),
    Q3_K_S("q3_k_s"),
    Q3_K_M("q3_k_m"),
    Q4_K_S("q4_k_s"),
    Q4_K_M("q4_k_m"),
    Q5_K_S("q5_k_s"),
    Q5_K_M("q5_k_m"),
    Q6_K("q6_k"),
    IQ4_XS("iq4_xs"),
    MXFP4("mxfp4");

    private final String key;

    QuantFormat(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        // vLLM --quantization names, bitsandbytes' names
        return switch (this) {
            case AWQ_4BIT -> java.util.List.of("awq");
            case GPTQ_4BIT -> java.util.List.of("gptq");
            case INT8 -> java.util.List.of("llm.int8", "bnb-int8");
            case NF4 -> java.util.List.of("bnb-nf4");
            default -> java.util.List.of();
        };
    }

    public boolean isBitsAndBytes4bit() {
        return this == NF4 || this == FP4;
    }

    public boolean isGguf() {
        return ordinal() >= Q4_0.ordinal() && this != MXFP4;
    }

    /** The GGML block type most Linear weights get in this llama.cpp file type. */
    public Optional<GgmlType> ggufBaseType() {
        return switch (this) {
            case Q4_0 -> Optional.of(GgmlType.Q4_0);
            case Q4_1 -> Optional.of(GgmlType.Q4_1);
            case Q5_0 -> Optional.of(GgmlType.Q5_0);
            case Q5_1 -> Optional.of(GgmlType.Q5_1);
            case Q8_0 -> Optional.of(GgmlType.Q8_0);
            case Q2_K -> Optional.of(GgmlType.Q2_K);
            case Q3_K_S, Q3_K_M -> Optional.of(GgmlType.Q3_K);
            case Q4_K_S, Q4_K_M -> Optional.of(GgmlType.Q4_K);
            case Q5_K_S, Q5_K_M -> Optional.of(GgmlType.Q5_K);
            case Q6_K -> Optional.of(GgmlType.Q6_K);
            case IQ4_XS -> Optional.of(GgmlType.IQ4_XS);
            default -> Optional.empty();
        };
    }
}
