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

    // Qwen3.5 text configs, the keys that fix the caches (partial copies: 9B public code copy (index id) 68974578642,
    // 27B 54606761696, 35B-A3B 65784375222)
    private static ModelSpec qwen35(int hidden, int layers, int heads, int kvHeads, int valueHeads, boolean moe) {
        String json = "{\"model_type\":\"" + (moe ? "qwen3_5_moe_text" : "qwen3_5_text") + "\",\"hidden_size\":" + hidden
                + ",\"num_hidden_layers\":" + layers + ",\"intermediate_size\":12288,\"num_attention_heads\":" + heads
                + ",\"num_key_value_heads\":" + kvHeads + ",\"head_dim\":256,\"linear_num_key_heads\":16,"
                + "\"linear_num_value_heads\":" + valueHeads + ",\"linear_key_head_dim\":128,\"linear_value_head_dim\":128,"
                + "\"linear_conv_kernel_dim\":4,\"full_attention_interval\":4,\"vocab_size\":248320,"
                + "\"attn_output_gate\":true,\"mamba_ssm_dtype\":\"float32\",\"num_experts\":256,"
                + "\"num_experts_per_tok\":8,\"moe_intermediate_size\":512,\"shared_expert_intermediate_size\":512}";
        return org.gpuplan.io.HfConfigParser.parse(json, "q", "q").spec();
    }

    private static org.gpuplan.memory.HybridPages pages(ModelSpec m, int tp) {
        var w = MemoryTermsTest.workload("task", "infer", "framework", "vllm");
        long tokenBytes = 2L * Math.max(1, ((org.gpuplan.model.Attention.Standard) m.attention()).numKvHeads() / tp)
                * ((org.gpuplan.model.Attention.Standard) m.attention()).headDim() * 2;
        return org.gpuplan.memory.HybridPages.of(m, w, tokenBytes, tp, m.attentionLayerCount(), m.linearLayerCount());
    }

    @Test
    void vllmSizesTheAttentionBlockToHoldALinearLayersState() {
        // "Setting attention block size to N tokens", "Padding mamba page size by P %" in vLLM logs: Qwen3-Next TP 2
        // 544 / 1.49 % (public code copy (index id) 7292846353; its state in bf16), Qwen3.5-9B 528 (66202049190),
        // -27B 784 / 0.13 % (53942682719), -35B-A3B 1056 / 0.76 % (56699148270; states in fp32, mamba_ssm_dtype)
        var next = pages(MemoryTermsTest.spec("Qwen/Qwen3-Next-80B-A3B-Instruct"), 2);
        assertThat(next.blockSize()).isEqualTo(544);
        assertThat(100 * next.statePadding()).isCloseTo(1.49, org.assertj.core.api.Assertions.within(0.005));
        assertThat(pages(qwen35(4096, 32, 16, 4, 32, false), 1).blockSize()).isEqualTo(528);
        var q27 = pages(qwen35(5120, 64, 24, 4, 48, false), 1);
        assertThat(q27.blockSize()).isEqualTo(784);
        assertThat(100 * q27.statePadding()).isCloseTo(0.13, org.assertj.core.api.Assertions.within(0.005));
        var q35 = pages(qwen35(2048, 40, 16, 2, 32, true), 1);
        assertThat(q35.blockSize()).isEqualTo(1056);
        assertThat(100 * q35.statePadding()).isCloseTo(0.76, org.assertj.core.api.Assertions.within(0.005));
        // Qwen3-Next TP 2: 44.59 GiB for the cache made 7,162 blocks of 12 layers' pages (groups of 12: 1 attention,
        // 3 linear); later vLLM reports such a pool as blocks × block tokens (4,455,808 tokens = 8,191 × 544)
        assertThat(next.groupSize()).isEqualTo(12);
        assertThat(next.attentionGroups() + next.linearGroups()).isEqualTo(4);
        assertThat(next.blocks((long) (44.59 * (1L << 30)))).isEqualTo(7162);
    }

    @Test
    void llamaCppKeepsTheRecurrentStateInF32AndTheKvCacheOnlyForAttentionLayers() {
        // llama_memory_recurrent / llama_kv_cache lines: Qwen3.5-9B -np 4: 201.00 MiB (R 9.00 + S 192.00), KV
        // 4224.00 MiB for 135,168 cells in 8 layers (public code copy (index id) 59045670747); Qwen3.5-27B, one
        // sequence: 149.62 MiB, KV 1536.00 MiB for 24,576 cells in 16 layers (68664296548)
        Estimate nine = org.gpuplan.estimate.Estimator.estimate("q9", qwen35(4096, 32, 16, 4, 32, false),
                MemoryTermsTest.workload("task", "infer", "framework", "llama.cpp", "quant", "q4_k_m", "kv_dtype",
                        "fp16", "seq_len", "33792", "batch_size", "4"), java.util.Optional.empty());
        assertThat(nine.memory().bytes("recurrent_state")).isEqualTo(201L << 20);
        assertThat(nine.memory().bytes("kv_cache")).isEqualTo(4224L << 20);
        Estimate big = org.gpuplan.estimate.Estimator.estimate("q27", qwen35(5120, 64, 24, 4, 48, false),
                MemoryTermsTest.workload("task", "infer", "framework", "llama.cpp", "quant", "q4_k_m", "kv_dtype",
                        "fp16", "seq_len", "24576"), java.util.Optional.empty());
        assertThat(big.memory().bytes("recurrent_state") / (double) (1 << 20)).isCloseTo(149.62,
                org.assertj.core.api.Assertions.within(0.005));
        assertThat(big.memory().bytes("kv_cache")).isEqualTo(1536L << 20);
        // the state stays in every phase: the peak grows by it
        assertThat(big.memory().peakAllocated()).isGreaterThan(big.memory().bytes("weights")
                + big.memory().bytes("kv_cache") + big.memory().bytes("recurrent_state"));
    }

    @Test
    void qwen35CountsItsViTAndMtpLayer() {
        // GGUF general.parameter_count u64 = 35951822704 for the Qwen3.5/3.6-35B-A3B architecture (ollama PR
        // #16031): language model + MTP layer + vision tower; the config as in public code copy (index id)
        // 65784375222
        String json = """
                {"architectures":["Qwen3_5MoeForConditionalGeneration"],"model_type":"qwen3_5_moe",
                 "text_config":{"model_type":"qwen3_5_moe_text","num_hidden_layers":40,"full_attention_interval":4,
                  "hidden_size":2048,"vocab_size":248320,"num_attention_heads":16,"num_key_value_heads":2,
                  "head_dim":256,"attn_output_gate":true,"linear_num_key_heads":16,"linear_num_value_heads":32,
                  "linear_key_head_dim":128,"linear_value_head_dim":128,"linear_conv_kernel_dim":4,
                  "num_experts":256,"num_experts_per_tok":8,"moe_intermediate_size":512,
                  "shared_expert_intermediate_size":512,"tie_word_embeddings":false,"mtp_num_hidden_layers":1},
                 "vision_config":{"depth":27,"hidden_size":1152,"intermediate_size":4304,"out_hidden_size":2048,
                  "in_channels":3,"patch_size":16,"temporal_patch_size":2,"spatial_merge_size":2,
                  "num_position_embeddings":2304,"deepstack_visual_indexes":[]}}""";
        ModelSpec m = org.gpuplan.io.HfConfigParser.parse(json, "q35", "q35").spec();
        var b = org.gpuplan.model.ParameterCounter.count(m);
        assertThat(b.totalCount() + b.mtp().value()).isEqualTo(35_951_822_704L);
        assertThat(m.linearLayerCount()).isEqualTo(30);
    }

    @Test
    void aGatedDeltaNetLayerSavesWhatTheFlaFastPathKeepsInPlaceOfTheAttention() {
        // Qwen3-Next: K = 16 × 128, V = 32 × 128, C = 2K + V = 8192, Hk 16, Hv 32; bf16 LoRA, SDPA, one sequence.
        // Delta-net mixer: 2·(C + 2K + 3V + 65·Hv) + 8·Hk + 8·Hv = 53,696 B per token (BlockActivations javadoc);
        // the attention it replaces: q, K, V, output 2·(4096 + 1024) + 2·4096 + log-sum-exp 4·16 = 18,496, q/k norms
        // 4·18·256 + 4·18 = 18,504, the output gate's sigmoid 2·4096 = 8,192, and SDPA's 16-byte RNG state per layer
        ModelSpec next = MemoryTermsTest.spec("Qwen/Qwen3-Next-80B-A3B-Instruct");
        var w = MemoryTermsTest.workload("task", "train", "method", "lora", "precision", "bf16", "attention", "sdpa",
                "batch_size", "1", "seq_len", "4096");
        var saved = org.gpuplan.memory.ActivationMemory.training(next, w);
        int linear = -1;
        int attention = -1;
        for (int i = 0; i < next.numLayers(); i++) {
            if (next.layers().get(i).linearAttention()) {
                linear = i;
            } else {
                attention = i;
            }
        }
        long n = 4096;
        long perTokenDelta = 53_696 - 18_496 - 18_504 - 8_192;
        assertThat(saved.perLayer().get(linear) - saved.perLayer().get(attention)).isEqualTo(perTokenDelta * n - 16);
        long total = 0;
        for (long layer : saved.perLayer()) {
            total += layer;
        }
        assertThat(saved.layersTotal()).isEqualTo(total);
        // an estimate runs end to end and names the layers it swapped
        MemoryEstimate e = MemoryTermsTest.estimate("Qwen/Qwen3-Next-80B-A3B-Instruct", "H200-SXM-141GB", "task",
                "train", "method", "qlora", "batch_size", "1", "seq_len", "4096").memory();
        assertThat(e.peakAllocated()).isGreaterThan(e.bytes("weights_bytes"));
        assertThat(e.assumptions()).anyMatch(a -> a.contains("flash-linear-attention"));
    }

    @Test
    void deepSeekV32CachesFp8DsMlaAndTheIndexerKeyPerToken() {
        // SGLang PR #11309 (8 × B200, TP 8): 'KV Cache is allocated. #tokens: 975424, KV size: 43.67 GB' = 61 layers ×
        // 788 B: the fp8_ds_mla latent (512 fp8 + 4 fp32 scales + 64 bf16 rope = 656 B) and the indexer's fp8 key
        // with its fp32 scale (132 B)
        ModelSpec v32 = MemoryTermsTest.spec("deepseek-ai/DeepSeek-V3.2");
        var w = MemoryTermsTest.workload("task", "infer", "framework", "sglang");
        assertThat(org.gpuplan.memory.KvCache.tokenBytesPerLayer(v32, w, 2, 8)).isEqualTo(788);
        assertThat(61 * 788.0 * 975_424 / (1L << 30)).isCloseTo(43.67, org.assertj.core.api.Assertions.within(0.005));
        // asked for bf16, the latent is 576 × 2 B; transformers caches per-head K and V plus the indexer key
        var bf16 = MemoryTermsTest.workload("task", "infer", "framework", "sglang", "kv_dtype", "bf16");
        assertThat(org.gpuplan.memory.KvCache.tokenBytesPerLayer(v32, bf16, 2, 8)).isEqualTo(1152 + 132);
    }
    @Test
    void qwen35MoeExpertsAreFusedParametersAndOtherMoeQloraWarnsAboutTransformers5() {
        // transformers 5 Qwen3_5MoeExperts: gate_up_proj [E, 2f, h] and down_proj [E, h, f] are nn.Parameters and the
        // router a bare weight; bitsandbytes quantizes nn.Linear only, PEFT's k-bit preparation upcasts the rest
        ModelSpec q35 = MemoryTermsTest.spec("Qwen/Qwen3.5-35B-A3B");
        long fused = LinearModules.of(q35).stream().filter(LinearModule::fusedParameter)
                .mapToLong(LinearModule::parameters).sum();
        // 40 layers × 256 experts × 3 × 2048 × 512 + 40 routers × 256 × 2048
        assertThat(fused).isEqualTo(40L * 256 * 3 * 2048 * 512 + 40L * 256 * 2048);
        assertThat(LinearModules.nnLinear(q35)).noneMatch(LinearModule::fusedParameter);
        var qlora = MemoryTermsTest.estimate("Qwen/Qwen3.5-35B-A3B", "H100-SXM-80GB", "task", "train", "method",
                "qlora");
        assertThat(qlora.memory().terms().stream().filter(t -> t.key().equals("weights")).findFirst().orElseThrow()
                .formula()).contains("bitsandbytes leaves them unquantized");
        assertThat(qlora.warnings()).noneMatch(w -> w.contains("transformers 5"));
        // Mixtral's experts are modelled as transformers 4.x Linear modules: the estimate says what 5 would add
        var mixtral = MemoryTermsTest.estimate("mistralai/Mixtral-8x7B-v0.1", "H100-SXM-80GB", "task", "train",
                "method", "qlora");
        long experts = 32L * 8 * 3 * 4096 * 14336;
        double extraGib = experts * (4 - (0.5 + 1.0 / 64 + 4.0 / (64 * 256))) / (double) (1L << 30);
        assertThat(mixtral.warnings()).anyMatch(w -> w.contains("transformers 5")
                && w.contains(String.format(java.util.Locale.ROOT, "%.1f GiB", extraGib)));
    }
}
