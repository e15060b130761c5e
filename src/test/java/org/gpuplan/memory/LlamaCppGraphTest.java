package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import org.gpuplan.estimate.Estimate;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.plan.PlannerTest;
import org.gpuplan.workload.WorkloadParser;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The simulated graph allocator against compute buffers printed by llama.cpp and ollama at start-up ("CUDA0 compute
 * buffer size", "CUDA_Host compute buffer size"; two decimals, MiB). Architecture values are those the GGUF headers
 * print; sources are the public logs named in validation/llamacpp/reproduce.py and the validation set.
 */
class LlamaCppGraphTest {

    private static final double MIB = 1 << 20;

    static LlamaCppGraph qwen25_7b(int build) {
        return new LlamaCppGraph(3584, 28, 4, 128, 18944, 152064, 28, true, false, false, build);
    }

    static Stream<Arguments> logs() {
        LlamaCppGraph llama32_1b = new LlamaCppGraph(2048, 32, 8, 64, 8192, 128256, 16, false, false, false, 0);
        LlamaCppGraph tinyLlama = new LlamaCppGraph(2048, 32, 4, 64, 5632, 32000, 22, false, false, false, 0);
        LlamaCppGraph llama31_8b = new LlamaCppGraph(4096, 32, 8, 128, 14336, 128256, 32, false, false, false, 5781);
        LlamaCppGraph qwen3_14b = new LlamaCppGraph(5120, 40, 8, 128, 17408, 151936, 40, false, false, true, 5505);
        return Stream.of(
                // ollama 0.20.2, RTX 3060, Qwen2.5-Coder-7B: the same machine at two contexts
                Arguments.of("qwen2.5-7b 4k", qwen25_7b(0), 512, 4096, 304.00, 15.01, 959),
                Arguments.of("qwen2.5-7b 32k", qwen25_7b(0), 512, 32768, 382.01, 71.01, 959),
                // ollama 0.21.1 test fixture (device buffer only)
                Arguments.of("qwen2.5-7b 8k", qwen25_7b(0), 512, 8192, 311.00, -1.0, 959),
                Arguments.of("llama-3.2-1b 4k", llama32_1b, 512, 4096, 254.50, 12.01, 503),
                Arguments.of("tinyllama n_ubatch 64", tinyLlama, 64, 256, 8.31, 0.56, 689),
                // Vulkan b5781: fused SwiGLU, no KV index inputs yet
                Arguments.of("llama-3.1-8b b5781", llama31_8b, 1024, 16384, 613.01, 80.01, 999),
                // llama-server b5505: SiLU and MUL as separate nodes, q/k norms (validation case
                // llamacpp-qwen3-14b-q80-3090-fa-compute-32768)
                Arguments.of("qwen3-14b b5505", qwen3_14b, 512, 32768, 306.75, 74.01, -1));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("logs")
    void reproducesLoggedBuffers(String name, LlamaCppGraph graph, int ubatch, int nCtx, double deviceMib,
                                 double hostMib, int graphNodes) {
        GgmlGraphAllocator.Result r = graph.computeBuffers(ubatch, nCtx);
        assertThat(r.bufferBytes()[0] / MIB).isCloseTo(deviceMib, within(0.006));
        if (hostMib >= 0) {
            assertThat(r.bufferBytes()[1] / MIB).isCloseTo(hostMib, within(0.006));
        }
        if (graphNodes > 0) {
            assertThat(r.graphNodes()).isEqualTo(graphNodes);
        }
    }

    @Test
    void thirtyTwoThousandContextPlacesLogitsAboveTheLastLayersOutput() {
        GgmlGraphAllocator.Result r = qwen25_7b(0).computeBuffers(512, 32768);
        assertThat(r.peakTensor()).isEqualTo("result_output");
        assertThat(r.peakTensorBytes()).isEqualTo(4L * 512 * 152064); // the logits, 297 MiB
        assertThat(r.peakTensorOffset() / MIB).isCloseTo(85.01, within(0.006));
    }

    @Test
    void f16MaskBuildsReserveNoF32MaskCopy() {
        // b9410 and later: the f16 mask is copied in directly; at 32k the logits then start low in the buffer
        GgmlGraphAllocator.Result before = qwen25_7b(9409).computeBuffers(512, 32768);
        GgmlGraphAllocator.Result after = qwen25_7b(9410).computeBuffers(512, 32768);
        assertThat(after.bufferBytes()[0]).isLessThan(before.bufferBytes()[0]);
        assertThat(after.bufferBytes()[1]).isEqualTo(before.bufferBytes()[1] - 2L * 32768 * 512);
    }

    private static Estimate estimate(String model, String... kv) {
        Map<String, String> keys = new HashMap<>(Map.of("model", model, "task", "infer", "framework", "llama.cpp",
                "quant", "q4_k_m", "seq_len", "32768", "attention", "flash"));
        for (int i = 0; i < kv.length; i += 2) {
            keys.put(kv[i], kv[i + 1]);
        }
        return Estimator.estimate(model, PlannerTest.spec(model), WorkloadParser.parse(keys),
                GpuCatalog.builtIn().find("RTX-3060"));
    }

    @Test
    void theEstimatorSimulatesDenseDecodersWithFlashAttention() {
        Estimate e = estimate("Qwen/Qwen2.5-7B");
        assertThat(e.memory().bytes("activations") / MIB).isCloseTo(382.01, within(0.006));
        assertThat(e.memory().terms().stream().filter(t -> t.key().equals("activations")).findFirst().orElseThrow()
                .formula()).contains("graph allocator", "result_output");
        // a newer build's f16 mask; a build number as llama-cli --version prints it
        Estimate newer = estimate("Qwen/Qwen2.5-7B", "llamacpp_build", "version: 9410 (031ddb2e0)");
        assertThat(newer.memory().bytes("activations")).isLessThan(e.memory().bytes("activations"));
        // two sequences and eager attention keep the closed formula: the logits 4·u·(V + h)
        long logits = 4L * 512 * (152064 + 3584);
        assertThat(estimate("Qwen/Qwen2.5-7B", "attention", "eager", "seq_len", "512").memory().bytes("activations"))
                .isEqualTo(logits);
    }

    @Test
    void buildKeyIsCheckedAndOnlyForLlamaCpp() {
        assertThat(WorkloadParser.parse(Map.of("model", "x", "task", "infer", "framework", "llama.cpp",
                "llamacpp_build", "b5781")).gpuLayers().llamacppBuild()).isEqualTo(5781);
        assertThatThrownBy(() -> estimate("Qwen/Qwen2.5-7B", "llamacpp_build", "latest"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("llamacpp_build")
                .hasMessageContaining("b5781");
        assertThatThrownBy(() -> WorkloadParser.parse(Map.of("model", "x", "task", "infer", "framework", "vllm",
                "llamacpp_build", "5781"))).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("applies to --framework llama.cpp");
    }

    @Test
    void absurdSizesFallBackToTheClosedFormulaInsteadOfOverflowing() {
        assertThat(qwen25_7b(0).simulable(Integer.MAX_VALUE, Integer.MAX_VALUE)).isFalse();
        Estimate e = estimate("Qwen/Qwen2.5-7B", "seq_len", String.valueOf(Integer.MAX_VALUE),
                "max_num_batched_tokens", String.valueOf(Integer.MAX_VALUE));
        assertThat(e.memory().bytes("activations")).isPositive();
    }

    /** Seeded random dense decoders: the buffer holds at least the logits and the final norm, both graph outputs. */
    @Test
    void bufferHoldsTheOutputsForRandomDecoders() {
        java.util.Random r = new java.util.Random(20261126);
        for (int i = 0; i < 300; i++) {
            int headDim = 32 << r.nextInt(3);
            int kvHeads = 1 + r.nextInt(8);
            int heads = kvHeads * (1 + r.nextInt(8));
            int hidden = heads * headDim;
            int vocab = 1000 + r.nextInt(200_000);
            int ffn = hidden * (2 + r.nextInt(4));
            LlamaCppGraph g = new LlamaCppGraph(hidden, heads, kvHeads, headDim, ffn, vocab, 1 + r.nextInt(12),
                    r.nextBoolean(), r.nextBoolean(), r.nextBoolean(), r.nextInt(3) == 0 ? 5505 : r.nextInt(10_000));
            long ubatch = 1 + r.nextInt(2048);
            long nCtx = ubatch + r.nextInt(70_000);
            GgmlGraphAllocator.Result res = g.computeBuffers(ubatch, nCtx);
            assertThat(res.bufferBytes()[0]).as("case %d", i).isGreaterThanOrEqualTo(4L * ubatch * (vocab + hidden));
            // the host holds the f32 or f16 mask the GPU split copies in
            assertThat(res.bufferBytes()[1]).as("case %d", i)
                    .isGreaterThanOrEqualTo((g.f16Mask() ? 2L : 4L) * nCtx * ubatch);
        }
    }

    @Test
    void llamaCppDefaultsToFlashAttentionFromTheBuildThatMadeItAuto() {
        Map<String, String> base = Map.of("model", "x", "task", "infer", "framework", "llama.cpp");
        assertThat(WorkloadParser.parse(base).attention().flashKernel()).isTrue();
        Map<String, String> old = new HashMap<>(base);
        old.put("llamacpp_build", "b6324");
        assertThat(WorkloadParser.parse(old).attention().flashKernel()).isFalse();
        old.put("llamacpp_build", "b6325");
        assertThat(WorkloadParser.parse(old).attention().flashKernel()).isTrue();
        old.put("attention", "eager");
        assertThat(WorkloadParser.parse(old).attention().flashKernel()).isFalse();
        Map<String, String> vllm = Map.of("model", "x", "task", "infer", "framework", "vllm");
        assertThat(WorkloadParser.parse(vllm).attention()).isEqualTo(org.gpuplan.workload.AttentionImpl.SDPA);
    }
}
