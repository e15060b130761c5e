package org.gpuplan.model;

import java.util.Arrays;
import java.util.Optional;

/**
 * GGML tensor types as stored in GGUF files, with their block layout. Bits per weight include the per-block scales
 * and minimums, e.g. Q4_0 stores 32 weights in 18 bytes (4.5 bits), Q4_K 256 weights in 144 bytes (4.5 bits).
 * Ids and block sizes from ggml's {@code ggml.h} enum {@code ggml_type} and the {@code block_*} structs of
 * {@code ggml-common.h}.
 */
public enum GgmlType {
    F32(0, 1, 4), F16(1, 1, 2), Q4_0(2, 32, 18), Q4_1(3, 32, 20), Q5_0(6, 32, 22), Q5_1(7, 32, 24),
    Q8_0(8, 32, 34), Q8_1(9, 32, 36), Q2_K(10, 256, 84), Q3_K(11, 256, 110), Q4_K(12, 256, 144),
    Q5_K(13, 256, 176), Q6_K(14, 256, 210), Q8_K(15, 256, 292), IQ2_XXS(16, 256, 66), IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98), IQ1_S(19, 256, 50), IQ4_NL(20, 32, 18), IQ3_S(21, 256, 110), IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136), I8(24, 1, 1), I16(25, 1, 2), I32(26, 1, 4), I64(27, 1, 8), F64(28, 1, 8),
    IQ1_M(29, 256, 56), BF16(30, 1, 2), TQ1_0(34, 256, 54), TQ2_0(35, 256, 66), MXFP4(39, 32, 17);

    private final int id;
    private final int blockSize;
    private final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    public int id() {
        return id;
    }

    public int blockSize() {
        return blockSize;
    }

    public int blockBytes() {
        return blockBytes;
    }

    /** Stored bits per weight, scales included. */
    public double bitsPerWeight() {
        return blockBytes * 8.0 / blockSize;
    }

    /** Bytes a tensor of {@code elements} weights occupies (whole blocks). */
    public long bytesFor(long elements) {
        long blocks = elements / blockSize + (elements % blockSize == 0 ? 0 : 1);
        return Math.multiplyExact(blocks, (long) blockBytes);
    }

    public static Optional<GgmlType> byId(long id) {
        return Arrays.stream(values()).filter(t -> t.id == id).findFirst();
    }

    /** Looks a type up by name, case-insensitively ("q4_k" → Q4_K). */
    public static Optional<GgmlType> byName(String name) {
        return Arrays.stream(values()).filter(t -> t.name().equalsIgnoreCase(name)).findFirst();
    }
}
