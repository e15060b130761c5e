package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import org.gpuplan.model.GgmlType;
import org.junit.jupiter.api.Test;

/**
 * The types llama.cpp's quantizer stores matrices in (llama-quant.cpp): a row must hold whole blocks, so widths the
 * 256-wide K-quant blocks do not divide fall back to 32-wide legacy types, and to F16 when those do not divide either.
 */
class GgufStorageTest {

    @Test
    void blockWidthsDecideTheStoredType() {
        assertThat(WeightMemory.stored(GgmlType.Q4_K, 4096)).isEqualTo(GgmlType.Q4_K);
        // DeepSeek-V2-Lite / Qwen1.5-MoE / GLM-4.5-Air expert down-projections are 1,408 wide: 5.5 rows of 256
        assertThat(WeightMemory.stored(GgmlType.Q5_K, 1408)).isEqualTo(GgmlType.Q5_1);
        assertThat(WeightMemory.stored(GgmlType.Q6_K, 1408)).isEqualTo(GgmlType.Q8_0);
        assertThat(WeightMemory.stored(GgmlType.Q4_K, 1408)).isEqualTo(GgmlType.Q5_0);
        assertThat(WeightMemory.stored(GgmlType.Q3_K, 1408)).isEqualTo(GgmlType.Q4_0);
        assertThat(WeightMemory.stored(GgmlType.IQ4_XS, 1408)).isEqualTo(GgmlType.IQ4_NL);
        // gpt-oss's 2,880-wide matrices: 11.25 blocks of 256, 90 of 32
        assertThat(WeightMemory.stored(GgmlType.Q4_K, 2880)).isEqualTo(GgmlType.Q5_0);
        // nothing divides 100: F16
        assertThat(WeightMemory.stored(GgmlType.Q4_K, 100)).isEqualTo(GgmlType.F16);
        assertThat(WeightMemory.stored(GgmlType.Q8_0, 100)).isEqualTo(GgmlType.F16);
    }
}
