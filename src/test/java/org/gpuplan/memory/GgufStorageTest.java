package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import org.gpuplan.model.GgmlType;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.plan.PlannerTest;
import org.gpuplan.workload.QuantFormat;
import org.junit.jupiter.api.Test;

/**
 * The types llama.cpp's quantizer stores matrices in (llama-quant.cpp): a row must hold whole blocks, so widths the
 * 256-wide K-quant blocks do not divide fall back to 32-wide legacy types, and to F16 when those do not divide either.
 */
class GgufStorageTest {

    @Test
    void blockWidthsDecideTheStoredType() {
        assertThat(GgufTypes.stored(GgmlType.Q4_K, 4096)).isEqualTo(GgmlType.Q4_K);
        // DeepSeek-V2-Lite / Qwen1.5-MoE / GLM-4.5-Air expert down-projections are 1,408 wide: 5.5 rows of 256
        assertThat(GgufTypes.stored(GgmlType.Q5_K, 1408)).isEqualTo(GgmlType.Q5_1);
        assertThat(GgufTypes.stored(GgmlType.Q6_K, 1408)).isEqualTo(GgmlType.Q8_0);
        assertThat(GgufTypes.stored(GgmlType.Q4_K, 1408)).isEqualTo(GgmlType.Q5_0);
        assertThat(GgufTypes.stored(GgmlType.Q3_K, 1408)).isEqualTo(GgmlType.Q4_0);
        assertThat(GgufTypes.stored(GgmlType.IQ4_XS, 1408)).isEqualTo(GgmlType.IQ4_NL);
        // gpt-oss's 2,880-wide matrices: 11.25 blocks of 256, 90 of 32
        assertThat(GgufTypes.stored(GgmlType.Q4_K, 2880)).isEqualTo(GgmlType.Q5_0);
        // nothing divides 100: F16
        assertThat(GgufTypes.stored(GgmlType.Q4_K, 100)).isEqualTo(GgmlType.F16);
        assertThat(GgufTypes.stored(GgmlType.Q8_0, 100)).isEqualTo(GgmlType.F16);
    }

    private static GgmlType type(String model, QuantFormat q, String module, int layer) {
        ModelSpec m = PlannerTest.spec(model);
        LinearModule lm = LinearModules.of(m).stream().filter(l -> l.name().equals(module)).findFirst().orElseThrow();
        return GgufTypes.type(q, q.ggufBaseType().orElseThrow(), lm, layer, layer, GgufTypes.Context.of(m));
    }

    @Test
    void theMixesFollowLlamaQuant() {
        String llama = "meta-llama/Llama-3.1-8B"; // 32 layers, GQA 4
        // Q4_K_M: attn_v and ffn_down in Q6_K in the use_more_bits layers (0-3, 28-31, every third between)
        assertThat(type(llama, QuantFormat.Q4_K_M, "v_proj", 0)).isEqualTo(GgmlType.Q6_K);
        assertThat(type(llama, QuantFormat.Q4_K_M, "v_proj", 4)).isEqualTo(GgmlType.Q4_K);
        assertThat(type(llama, QuantFormat.Q4_K_M, "down_proj", 6)).isEqualTo(GgmlType.Q6_K);
        assertThat(type(llama, QuantFormat.Q4_K_M, "q_proj", 0)).isEqualTo(GgmlType.Q4_K);
        // Q3_K_M: attn_v Q5_K in the first two layers then Q4_K, ffn_down Q5_K in the first 1/16 then Q4_K,
        // attn_output Q4_K
        assertThat(type(llama, QuantFormat.Q3_K_M, "v_proj", 1)).isEqualTo(GgmlType.Q5_K);
        assertThat(type(llama, QuantFormat.Q3_K_M, "v_proj", 2)).isEqualTo(GgmlType.Q4_K);
        assertThat(type(llama, QuantFormat.Q3_K_M, "down_proj", 1)).isEqualTo(GgmlType.Q5_K);
        assertThat(type(llama, QuantFormat.Q3_K_M, "down_proj", 2)).isEqualTo(GgmlType.Q4_K);
        assertThat(type(llama, QuantFormat.Q3_K_M, "o_proj", 9)).isEqualTo(GgmlType.Q4_K);
        assertThat(type(llama, QuantFormat.Q3_K_M, "up_proj", 9)).isEqualTo(GgmlType.Q3_K);
        // Q4_K_S: attn_v Q5_K in the first four layers, ffn_down in the first eighth
        assertThat(type(llama, QuantFormat.Q4_K_S, "v_proj", 3)).isEqualTo(GgmlType.Q5_K);
        assertThat(type(llama, QuantFormat.Q4_K_S, "down_proj", 4)).isEqualTo(GgmlType.Q4_K);
        // Q2_K with GQA >= 4: attn_v Q4_K, ffn_down and attn_output Q3_K
        assertThat(type(llama, QuantFormat.Q2_K, "v_proj", 9)).isEqualTo(GgmlType.Q4_K);
        assertThat(type(llama, QuantFormat.Q2_K, "down_proj", 9)).isEqualTo(GgmlType.Q3_K);
        // an 80-layer Llama is "70B": attn_v never below Q5_K
        assertThat(type("meta-llama/Llama-3.1-70B", QuantFormat.Q4_K_M, "v_proj", 11)).isEqualTo(GgmlType.Q5_K);
        // eight experts (Mixtral): attn_k and attn_v in Q8_0, attn_output Q5_K
        String mixtral = "mistralai/Mixtral-8x7B-v0.1";
        assertThat(type(mixtral, QuantFormat.Q4_K_M, "k_proj", 9)).isEqualTo(GgmlType.Q8_0);
        assertThat(type(mixtral, QuantFormat.Q4_K_M, "v_proj", 9)).isEqualTo(GgmlType.Q8_0);
        assertThat(type(mixtral, QuantFormat.Q4_K_M, "o_proj", 9)).isEqualTo(GgmlType.Q5_K);
        // the router is never quantized
        assertThat(type(mixtral, QuantFormat.Q4_K_M, "gate", 9)).isEqualTo(GgmlType.F32);
    }
}
