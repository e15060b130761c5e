package org.gpuplan.io;

import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The header of a GGUF file: its metadata key/values (scalars, short strings and short numeric arrays; long arrays and
 * strings are recorded by length only) and its tensor table, summarised.
 */
public record GgufFile(int version, Map<String, Object> metadata, Map<String, Long> arrayLengths,
                       TensorSummary tensors) {

    public GgufFile {
        metadata = Collections.unmodifiableMap(new TreeMap<>(metadata));
        arrayLengths = Collections.unmodifiableMap(new TreeMap<>(arrayLengths));
    }

    public Optional<String> string(String key) {
        Object v = metadata.get(key);
        return v instanceof String s ? Optional.of(s) : Optional.empty();
    }

    /** An integer value; for a per-layer array the largest entry. */
    public Optional<Long> integer(String key) {
        Object v = metadata.get(key);
        if (v instanceof Long l) {
            return Optional.of(l);
        }
        if (v instanceof Boolean) {
            return Optional.empty();
        }
        if (v instanceof long[] arr && arr.length > 0) {
            long max = arr[0];
            for (long x : arr) {
                max = Math.max(max, x);
            }
            return Optional.of(max);
        }
        return Optional.empty();
    }

    public Optional<String> architecture() {
        return string("general.architecture");
    }

    /** llama.cpp's {@code general.file_type} as its name (e.g. Q4_K_M), from {@code llama_ftype}. */
    public Optional<String> fileType() {
        return integer("general.file_type").map(GgufFile::fileTypeName);
    }

    static String fileTypeName(long id) {
        String[] names = {"F32", "F16", "Q4_0", "Q4_1", "Q4_1_SOME_F16", "Q4_2", "Q4_3", "Q8_0", "Q5_0", "Q5_1",
            "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ2_XXS",
            "IQ2_XS", "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ3_M", "IQ2_S", "IQ2_M",
            "IQ4_XS", "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "MXFP4_MOE"};
        return id >= 0 && id < names.length ? names[(int) id] : "type " + id;
    }
}
