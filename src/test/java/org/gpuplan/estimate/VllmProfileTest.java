package org.gpuplan.estimate;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** vLLM's start-up profile: what it subtracts before sizing the KV pool. */
class VllmProfileTest {

    private static Estimate vllm(String model, String gpu, String... more) {
        String[] base = {"task", "infer", "framework", "vllm", "seq_len", "8192", "gpu_memory_utilization", "0.95",
            "max_num_batched_tokens", "8192", "max_num_seqs", "1024"};
        return MemoryTermsTest.estimate(model, gpu, ShardingPropertiesTest.workload(base, more));
    }

    @Test
    void theSamplerRunDominatesForALargeVocabularyAndHoldsItsBytesPerEntry() {
        // Gemma-2: 1,024 sampled rows × 256,000 entries; FlashInfer keeps 14 B per entry, PyTorch's sort 32 B
        long rows = 1024L * 256_000;
        assertThat(vllm("google/gemma-2-2b", "H100-SXM-80GB").memory().bytes("activations")).isEqualTo(14 * rows);
        assertThat(vllm("google/gemma-2-2b", "H100-SXM-80GB", "sampler", "torch").memory().bytes("activations"))
                .isEqualTo(32 * rows);
    }

    @Test
    void theForwardCountsWhenItIsTheLargerAndFewRowsAreSampled() {
        Estimate few = vllm("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", "max_num_seqs", "4");
        assertThat(few.memory().bytes("activations")).isGreaterThan(4L * 128_256 * 14);
    }

    @Test
    void everyTensorParallelRankSamplesTheWholeVocabulary() {
        long one = vllm("Qwen/Qwen3-32B", "H100-SXM-80GB").memory().bytes("activations");
        long two = vllm("Qwen/Qwen3-32B", "H100-SXM-80GB", "gpus", "2", "tp", "2").memory().bytes("activations");
        assertThat(two).isEqualTo(one).isEqualTo(1024L * 151_936 * 14);
    }

    @Test
    void theForwardGrowsByTheMlpTransientsAndTheResidualStreamPerToken() {
        // Llama-3.1-8B: c·(2h + 3f + h) = 2 × (8,192 + 43,008 + 4,096) = 110,592 B per token. vLLM issue #10517 (an
        // RTX 3090, V0 without chunked prefill): peak_torch_memory 17.06 GiB at max_model_len 20,000 and 17.98 GiB
        // at 29,000, i.e. 109,760 B per token (2-decimal GiB rounding: ±1.2 %)
        var spec = MemoryTermsTest.spec("meta-llama/Llama-3.1-8B");
        assertThat(org.gpuplan.memory.ActivationMemory.servingForward(spec, 1000, 2, 1)).isEqualTo(110_592_000L);
        double measured = (17.98 - 17.06) * (1L << 30) / 9000;
        assertThat(110_592.0).isCloseTo(measured, org.assertj.core.api.Assertions.withinPercentage(1.5));
        // tensor parallelism splits the projections' outputs, not the residual stream
        assertThat(org.gpuplan.memory.ActivationMemory.servingForward(spec, 1000, 2, 2))
                .isEqualTo(1000L * 2 * (2 * 4096 + 3 * 14336 / 2 + 4096));
    }

    @Test
    void fusedMoeCachesAreHiddenWideAndDoNotShrinkWithTensorParallelism() {
        // DeepSeek-V2.5 on TP 8: the shared experts' and the experts' outputs (2h) and fused_moe's caches
        // k·(max(2I/tp, h) + I/tp) = 6 × (5,120 + 192), beside the residual stream 2h
        var spec = MemoryTermsTest.spec("deepseek-ai/DeepSeek-V2.5");
        assertThat(org.gpuplan.memory.ActivationMemory.servingForward(spec, 8192, 2, 8))
                .isEqualTo(8192L * 2 * (2 * 5120 + 2 * 5120 + 6 * (5120 + 192)));
    }

    @Test
    void everyPipelineStageGetsTheBlocksOfTheTightestOne() {
        // DeepSeek-V2-Lite on 2 × 2 L4: the engine allocates the same number of blocks on every worker
        Estimate e = vllm("deepseek-ai/DeepSeek-V2-Lite", "L4", "gpus", "4", "tp", "2", "pp", "2", "seq_len", "1024");
        long tokens = e.memory().pool().orElseThrow().capacityTokens();
        assertThat(e.ranks()).hasSize(2).allSatisfy(r -> assertThat(r.memory().pool().orElseThrow().capacityTokens())
                .isEqualTo(tokens));
    }

    @Test
    void servingSpreadsExpertsOverTheTensorParallelRanksAndTrainingOverDataParallelOnes() {
        // SGLang --tp 8 --ep-size 8 on one node: 256 routed experts, 32 per GPU, the same bytes as TP-split experts
        String[] serve = {"task", "infer", "framework", "sglang", "seq_len", "8192", "gpus", "8", "tp", "8"};
        long ep = MemoryTermsTest.estimate("deepseek-ai/DeepSeek-R1", "B200-SXM-180GB",
                ShardingPropertiesTest.workload(serve, "ep", "8")).memory().bytes("weights");
        long tp = MemoryTermsTest.estimate("deepseek-ai/DeepSeek-R1", "B200-SXM-180GB",
                ShardingPropertiesTest.workload(serve)).memory().bytes("weights");
        assertThat(ep).isEqualTo(tp);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> MemoryTermsTest.estimate("deepseek-ai/DeepSeek-R1",
                "B200-SXM-180GB", "task", "train", "framework", "megatron", "gpus", "8", "tp", "8", "ep", "8"))
                .hasMessage("ep: expert parallel size 8 must divide dp·cp = 1 when training (experts are spread over "
                        + "data-parallel ranks)");
    }

    @Test
    void thePoolCountsATokenInEveryLayerAndSlidingWindowsShowInConcurrency() {
        // Gemma-2-9B: 42 layers × 8 KV heads × 256 × 2 (K, V) × 2 B = 344,064 B per token; half the layers slide
        // over 4,096 tokens, so a 8,192-token sequence needs 3/4 of that
        var pool = vllm("google/gemma-2-9b", "H100-SXM-80GB").memory().pool().orElseThrow();
        long perToken = 42L * 8 * 256 * 2 * 2;
        assertThat(pool.capacityTokens()).isEqualTo(pool.poolBytes() / perToken);
        assertThat(pool.maxConcurrency()).isCloseTo(pool.poolBytes() / (0.75 * perToken * 8192),
                org.assertj.core.api.Assertions.within(1e-9));
    }
}
