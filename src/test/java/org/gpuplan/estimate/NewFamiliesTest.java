package org.gpuplan.estimate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.gpuplan.memory.LinearModule;
import org.gpuplan.memory.LinearModules;
import org.gpuplan.memory.MemoryEstimate;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.junit.jupiter.api.Test;

/** GLM-4.5 (glm4_moe) and Llama 4 as the libraries build them, and windowed KV caches across GPUs. */
class NewFamiliesTest {

    @Test
    void llama4ChunkedLayersAreEveryLayerButEachFourthAndMoeLayersFollowTheInterleaveStep() {
        ModelSpec scout = MemoryTermsTest.spec("meta-llama/Llama-4-Scout-17B-16E-Instruct");
        ModelSpec maverick = MemoryTermsTest.spec("meta-llama/Llama-4-Maverick-17B-128E-Instruct");
        // no_rope_layers default: layers 3, 7, ..., 47 are NoPE with global attention, the rest attend in 8,192-token
        // chunks
        assertThat(scout.slidingWindow()).isEqualTo(8192);
        for (int i = 0; i < 48; i++) {
            assertThat(scout.layers().get(i).slidingWindow()).as("layer %d", i).isEqualTo((i + 1) % 4 != 0);
            assertThat(scout.layers().get(i).moe()).as("Scout layer %d", i).isTrue();
            assertThat(maverick.layers().get(i).moe()).as("Maverick layer %d", i).isEqualTo(i % 2 == 1);
        }
        assertThat(maverick.mlp().intermediateSize()).isEqualTo(16384); // intermediate_size_mlp
    }

    @Test
    void llama4FusedExpertsAreNeitherLoraTargetsNorQuantizedByBitsandbytes() {
        ModelSpec scout = MemoryTermsTest.spec("meta-llama/Llama-4-Scout-17B-16E-Instruct");
        long fused = LinearModules.of(scout).stream().filter(LinearModule::fusedParameter)
                .mapToLong(LinearModule::parameters).sum();
        // 48 layers × 16 experts × 3 × 5,120 × 8,192
        assertThat(fused).isEqualTo(48L * 16 * 3 * 5120 * 8192);
        assertThat(LinearModules.linearParameters(scout) - LinearModules.nnLinearParameters(scout)).isEqualTo(fused);
        Estimate nf4 = MemoryTermsTest.estimate("meta-llama/Llama-4-Scout-17B-16E-Instruct", "H200-SXM-141GB",
                "task", "infer", "quant", "nf4", "seq_len", "512");
        Estimate fp8 = MemoryTermsTest.estimate("meta-llama/Llama-4-Scout-17B-16E-Instruct", "H200-SXM-141GB",
                "task", "infer", "framework", "vllm", "quant", "fp8", "seq_len", "512");
        // all-linear adapts q/k/v/o, the router and the shared experts: r·(in + out) per module with r = 8
        long r = 8;
        long perLayer = r * ((5120 + 5120) + 2 * (5120 + 1024) + (5120 + 5120) + (5120 + 16) + 2 * (5120 + 8192)
                + (8192 + 5120));
        assertThat(org.gpuplan.memory.LoraAdapters.parameters(scout, MemoryTermsTest.workload("task", "train",
                "method", "lora", "lora_rank", "8", "lora_targets", "all-linear"))).isEqualTo(48 * perLayer);
        // nf4 leaves the fused experts in bf16; FP8 serving quantizes them
        assertThat(nf4.memory().bytes("weights")).isGreaterThan(2 * fused);
        long linear = LinearModules.linearParameters(scout);
        long total = fp8.parameters().totalCount();
        assertThat(fp8.memory().bytes("weights")).isEqualTo(linear + 2 * (total - linear));
        assertThatThrownBy(() -> MemoryTermsTest.estimate("meta-llama/Llama-4-Scout-17B-16E-Instruct",
                "H200-SXM-141GB", "task", "train", "method", "lora", "lora_targets", "experts.gate_up_proj"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("lora_targets");
    }

    @Test
    void glmAttentionHasQkvBiasesButNoOutputBiasAndItsFirstLayersAreDense() {
        ModelSpec air = MemoryTermsTest.spec("zai-org/GLM-4.5-Air");
        ModelSpec glm = MemoryTermsTest.spec("zai-org/GLM-4.7");
        var a = (org.gpuplan.model.Attention.Standard) air.attention();
        assertThat(a.qkvBias()).isTrue();
        assertThat(a.outputBias()).isFalse();
        assertThat(a.qkNorm()).isFalse();
        assertThat(((org.gpuplan.model.Attention.Standard) glm.attention()).qkNorm()).isTrue();
        assertThat(air.moeLayerCount()).isEqualTo(45);
        assertThat(glm.moeLayerCount()).isEqualTo(89);
        assertThat(glm.moe().sharedIntermediateSize()).isEqualTo(1536);
        assertThat(glm.moe().routerScoreCorrection()).isTrue();
    }

    @Test
    void aShardedWindowedCacheIsTheSingleGpuCacheSplitOverTensorParallelRanks() {
        String[] base = {"task", "infer", "framework", "vllm", "seq_len", "8192", "batch_size", "4"};
        Estimate one = MemoryTermsTest.estimate("google/gemma-2-9b", "H100-SXM-80GB", base);
        Estimate two = MemoryTermsTest.estimate("google/gemma-2-9b", "H100-SXM-80GB",
                ShardingPropertiesTest.workload(base, "gpus", "2", "tp", "2"));
        // Gemma-2-9B: 8 KV heads split 4 + 4; half the layers keep at most 4,096 of the 8,192 tokens
        assertThat(two.memory().bytes("kv_cache")).isEqualTo(one.memory().bytes("kv_cache") / 2);
        MemoryEstimate.KvPool pool = two.memory().pool().orElseThrow();
        double perSequence = 0.75 * 8192;
        assertThat(pool.maxConcurrency()).isCloseTo(pool.capacityTokens() / perSequence,
                org.assertj.core.api.Assertions.within(1e-9));
    }
}
