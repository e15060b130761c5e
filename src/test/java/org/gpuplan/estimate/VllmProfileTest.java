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
