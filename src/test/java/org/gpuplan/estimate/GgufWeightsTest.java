package org.gpuplan.estimate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** What llama.cpp puts on the GPU when every layer is offloaded. */
class GgufWeightsTest {

    private static long weights(String model, String quant) {
        return MemoryTermsTest.estimate(model, null, "task", "infer", "framework", "llama.cpp", "quant", quant,
                "seq_len", "4096").memory().bytes("weights");
    }

    @Test
    void aTiedModelCarriesItsEmbeddingsAgainAsTheOutputMatrix() {
        // Gemma-2B Q4_0 has no output tensor: token_embd (256,000 × 2,048) is stored in Q6_K and llama.cpp loads it
        // as the output matrix on the GPU. Logged: 'CUDA0 model buffer size = 1473.57 MiB' (Abai/llama.cpp @28d2ed2d
        // bench-out/jg-multi/cuda-fattn-convert-buffer-cap/RTX3090-gemma-vram-f16-c16384-branch.log)
        assertThat((double) weights("google/gemma-2b", "q4_0")).isCloseTo(1473.57 * (1 << 20),
                within(0.002 * 1473.57 * (1 << 20)));
        // Qwen3-4B Q4_K_M (tied): 'CUDA0 model buffer size = 2375.91 MiB' in a llama.cpp b5712 log
        assertThat((double) weights("Qwen/Qwen3-4B", "q4_k_m")).isCloseTo(2491322204.0, within(0.002 * 2491322204.0));
    }

    @Test
    void anUntiedModelLeavesItsTokenEmbeddingsInHostMemory() {
        // Llama-3.1-8B Q4_0: 'CUDA0 buffer size = 4156.00 MiB', 'CPU buffer size = 281.81 MiB' (ollama on a T4,
        // 2024-08-30): the 128,256 × 4,096 token embeddings stay in host memory
        assertThat((double) weights("meta-llama/Llama-3.1-8B", "q4_0")).isCloseTo(4156.00 * (1 << 20),
                within(0.002 * 4156.00 * (1 << 20)));
    }
}
