package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.plan.PlannerTest;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/**
 * llama.cpp's -ngl: the last N repeating layers (and with N = layers + 1 the output layer) on the GPU. The Mistral-7B
 * Q4_K_M figures are those of a logged run at -ngl 20 (model 2,495.31 MiB, KV 60.00 MiB, compute 137.79 MiB; the
 * validation set's llamacpp-mistral-7b-q4km-ngl20-* cases).
 */
class LlamaCppOffloadTest {

    private static final ModelSpec MISTRAL = PlannerTest.spec("mistralai/Mistral-7B-v0.1");

    private static Estimate estimate(ModelSpec m, String... kv) {
        Map<String, String> keys = new HashMap<>(Map.of("model", "x", "task", "infer", "framework", "llama.cpp",
                "quant", "q4_k_m", "seq_len", "768", "max_num_batched_tokens", "256", "attention", "flash"));
        for (int i = 0; i < kv.length; i += 2) {
            keys.put(kv[i], kv[i + 1]);
        }
        Workload w = WorkloadParser.parse(keys);
        return Estimator.estimate("x", m, w, GpuCatalog.builtIn().find("RTX-4070"));
    }

    private static java.util.List<Long> values(Estimate e) {
        return e.memory().terms().stream().map(org.gpuplan.model.Term::value).toList();
    }

    private static long term(Estimate e, String key) {
        return e.memory().bytes(key);
    }

    @Test
    void theLoggedRunAtNgl20() {
        Estimate e = estimate(MISTRAL, "n_gpu_layers", "20");
        assertThat(term(e, "weights") / 1048576.0).isCloseTo(2495.31, org.assertj.core.api.Assertions.within(0.01));
        assertThat(term(e, "kv_cache")).isEqualTo(20L * 768 * 1024 * 2 * 2); // K and V, f16, 20 layers
        // the logits of the 256-token ubatch (4·u·(V + h)) beside the host output matrix (Q6_K) copied for the matmul
        long logits = 4L * 256 * (32_000 + 4096);
        long outputMatrix = (long) Math.ceil(32_000L * 4096 * 6.5625 / 8);
        assertThat(term(e, "activations")).isEqualTo(logits + outputMatrix);
        assertThat(e.perf()).isEmpty();
        assertThat(e.warnings()).anyMatch(s -> s.contains("runtime not estimated"));
    }

    @Test
    void buildsBeforeOpOffloadKeepTheLogitsOnTheHost() {
        // a logged early-2024 build (GritLM-7B, the Mistral architecture, Q4_1, -ngl 25, n_ctx 512, eager attention):
        // model 3,250.78 MiB, KV 50.00 MiB, compute 73.00 MiB
        Estimate e = estimate(MISTRAL, "quant", "q4_1", "seq_len", "512", "max_num_batched_tokens", "512",
                "attention", "eager", "n_gpu_layers", "25", "op_offload", "false");
        assertThat(term(e, "weights") / 1048576.0).isCloseTo(3250.78, org.assertj.core.api.Assertions.within(0.01));
        assertThat(term(e, "kv_cache")).isEqualTo(25L * 512 * 1024 * 2 * 2);
        // a layer's f32 KQ (n_ctx·u·n_head) and mask, its hidden-sized tensors, and the hidden state copied in from the
        // host layers; no logits on the GPU
        long u = 512;
        long attention = 4 * 512 * u * 32 + 4 * 512 * u + 16 * u * 4096 + 4 * u * 4096;
        assertThat(term(e, "activations")).isEqualTo(attention).isEqualTo(73L << 20);
    }

    @Test
    void layersMoveBetweenHostAndGpuWithoutLosingBytes() {
        Estimate all = estimate(MISTRAL);
        assertThat(values(estimate(MISTRAL, "ngl", "33"))).isEqualTo(values(all));
        assertThat(values(estimate(MISTRAL, "n_gpu_layers", "all"))).isEqualTo(values(all));
        long total = term(all, "weights") + term(all, "kv_cache");
        long previous = -1;
        for (int ngl = 0; ngl <= 32; ngl++) {
            Estimate e = estimate(MISTRAL, "n_gpu_layers", Integer.toString(ngl));
            long gpu = term(e, "weights") + term(e, "kv_cache");
            assertThat(gpu + e.memory().hostBytes()).as("ngl %d", ngl).isEqualTo(total);
            assertThat(gpu).as("ngl %d", ngl).isGreaterThan(previous);
            previous = gpu;
        }
        Estimate none = estimate(MISTRAL, "n_gpu_layers", "0");
        assertThat(term(none, "weights")).isZero();
        assertThat(term(none, "kv_cache")).isZero();
        // under 32 tokens per batch the scheduler leaves host weights to the CPU: no copy in the compute buffer
        Estimate small = estimate(MISTRAL, "n_gpu_layers", "20", "max_num_batched_tokens", "16");
        assertThat(term(small, "activations")).isEqualTo(4L * 16 * (32_000 + 4096));
    }

    @Test
    void q6kLayersOfTheMixWeighMore() {
        // Q4_K_M keeps attn_v and ffn_down of layers 0-3, 28-31 and every third between in Q6_K (use_more_bits):
        // the last layer weighs more than layer 10
        long last = term(estimate(MISTRAL, "n_gpu_layers", "1"), "weights");
        long lastTwentyTwo = term(estimate(MISTRAL, "n_gpu_layers", "22"), "weights");
        long lastTwentyOne = term(estimate(MISTRAL, "n_gpu_layers", "21"), "weights");
        assertThat(last).isGreaterThan(lastTwentyTwo - lastTwentyOne); // layer 31 (Q6_K mix) vs layer 10
    }

    @Test
    void expertsOfTheFirstLayersStayOnTheHostWithNCpuMoe() {
        ModelSpec air = PlannerTest.spec("zai-org/GLM-4.5-Air");
        Estimate all = estimate(air, "seq_len", "32768");
        long total = term(all, "weights");
        long previous = Long.MAX_VALUE;
        for (int layers : new int[] {0, 1, 10, 30, air.numLayers()}) {
            Estimate e = estimate(air, "seq_len", "32768", "n_cpu_moe", Integer.toString(layers));
            assertThat(term(e, "weights") + e.memory().hostBytes()).as("n_cpu_moe %d", layers).isEqualTo(total);
            assertThat(term(e, "weights")).as("n_cpu_moe %d", layers).isLessThanOrEqualTo(previous);
            assertThat(term(e, "kv_cache")).isEqualTo(term(all, "kv_cache")); // attention stays on the GPU
            previous = term(e, "weights");
        }
        // layer 0 is dense: keeping its experts on the host moves nothing
        assertThat(term(estimate(air, "seq_len", "32768", "n_cpu_moe", "1"), "weights")).isEqualTo(total);
        assertThat(values(estimate(air, "seq_len", "32768", "n_cpu_moe", "all")))
                .isEqualTo(values(estimate(air, "seq_len", "32768", "n_cpu_moe", Integer.toString(air.numLayers()))));
        // batched prompt processing copies a host layer's expert tensor into the compute buffer (op offload)
        assertThat(term(estimate(air, "seq_len", "32768", "n_cpu_moe", "all"), "activations"))
                .isGreaterThan(term(all, "activations"));
        // a dense model has no experts to keep back
        assertThat(values(estimate(MISTRAL, "n_cpu_moe", "10"))).isEqualTo(values(estimate(MISTRAL)));
    }

    @Test
    void gptOssRunsWithItsMxfp4ExpertsAndCpuMoeKeepsThemOnTheHost() {
        ModelSpec oss = PlannerTest.spec("openai/gpt-oss-120b");
        // ggml-org's GGUF layout: expert matrices MXFP4 (4.25 bits), attention and output matrices Q8_0 (8.5 bits),
        // the router and every vector (norms, biases, sinks) F32; the token embeddings on the host
        Estimate all = estimate(oss, "quant", "mxfp4", "seq_len", "16896");
        long experts = 114_661_785_600L;
        long matrices = 955_514_880L + 579_133_440L;
        long q8 = (long) Math.ceil(matrices * 8.5 / 8);
        long f32 = 116_829_156_672L - experts - matrices - 579_133_440L;
        assertThat(term(all, "weights")).isEqualTo((long) Math.ceil(experts * 4.25 / 8) + q8 + f32 * 4);
        // --cpu-moe: the expert tensors and their biases (named like them) in host memory, the rest on the GPU
        Estimate cpuMoe = estimate(oss, "quant", "mxfp4", "seq_len", "16896", "n_cpu_moe", "all");
        long expertBiases = 39_813_120L;
        assertThat(term(cpuMoe, "weights")).isEqualTo(q8 + (f32 - expertBiases) * 4);
    }

    @Test
    void theLoggedGptOss20bRunWithNCpuMoe14() {
        // llama.cpp build 6182, -ngl 24 --n-cpu-moe 14, n_ctx 4096, n_ubatch 512, no flash attention: model 4,699.90 MiB,
        // KV 96.00 + 15.00 MiB (the sliding-window layers hold 128 + 512 cells), compute 985.20 MiB
        ModelSpec oss = PlannerTest.spec("openai/gpt-oss-20b");
        Estimate e = estimate(oss, "quant", "mxfp4", "seq_len", "4096", "max_num_batched_tokens", "512", "attention",
                "eager", "n_gpu_layers", "24", "n_cpu_moe", "14");
        assertThat(term(e, "weights") / 1048576.0).isCloseTo(4699.90, org.assertj.core.api.Assertions.within(0.01));
        assertThat(term(e, "kv_cache")).isEqualTo(12L * 4096 * 1024 * 2 + 12L * (128 + 512) * 1024 * 2);
        assertThat(term(e, "activations") / 1048576.0).isCloseTo(985.20,
                org.assertj.core.api.Assertions.within(0.01));
    }

    @Test
    void everyCatalogModelSplitsWithoutLosingBytes() {
        // every built-in architecture (dense, MoE, MLA, sliding-window, hybrid linear attention) at random -ngl and
        // --n-cpu-moe: what the GPU holds plus what stays on the host is the all-offloaded figure, and fewer GPU
        // layers never mean more GPU memory
        java.util.Random r = new java.util.Random(7L);
        var catalog = org.gpuplan.io.ModelCatalog.builtIn();
        for (var entry : catalog.entries()) {
            ModelSpec m;
            try {
                m = PlannerTest.spec(entry.id());
            } catch (RuntimeException e) {
                continue; // an encoder or a model llama.cpp does not run
            }
            if (m.numLayers() < 2 || m.family() == org.gpuplan.model.Family.BERT) {
                continue;
            }
            String quant = m.family() == org.gpuplan.model.Family.GPT_OSS ? "mxfp4" : "q4_k_m";
            Estimate all = estimate(m, "quant", quant, "seq_len", "4096");
            long total = term(all, "weights") + term(all, "kv_cache");
            int a = r.nextInt(m.numLayers() + 1);
            int b = r.nextInt(m.numLayers() + 1);
            String moe = String.valueOf(r.nextInt(m.numLayers() + 1));
            Estimate fewer = estimate(m, "quant", quant, "seq_len", "4096", "n_gpu_layers",
                    String.valueOf(Math.min(a, b)), "n_cpu_moe", moe);
            Estimate more = estimate(m, "quant", quant, "seq_len", "4096", "n_gpu_layers",
                    String.valueOf(Math.max(a, b)), "n_cpu_moe", moe);
            for (Estimate e : List.of(fewer, more)) {
                assertThat(term(e, "weights") + term(e, "kv_cache") + e.memory().hostBytes()).as(entry.id())
                        .isEqualTo(total);
            }
            assertThat(term(fewer, "weights")).as(entry.id()).isLessThanOrEqualTo(term(more, "weights"));
        }
    }

    @Test
    void onlyLlamaCppServingPlacesLayers() {
        assertThatThrownBy(() -> estimate(MISTRAL, "framework", "vllm", "quant", "none", "n_gpu_layers", "10"))
                .isInstanceOf(InvalidInputException.class).hasMessageStartingWith("n_gpu_layers: llama.cpp's -ngl");
        assertThatThrownBy(() -> estimate(MISTRAL, "framework", "hf", "quant", "none", "op_offload", "false"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("op_offload");
        assertThatThrownBy(() -> estimate(MISTRAL, "n_gpu_layers", "-3")).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("n_gpu_layers");
        assertThatThrownBy(() -> estimate(MISTRAL, "n_gpu_layers", "many")).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("n_gpu_layers");
    }

    @Test
    void hybridModelsKeepEachLayersStateWithIt() {
        ModelSpec qwen = PlannerTest.spec("Qwen/Qwen3.5-9B");
        Estimate all = estimate(qwen, "quant", "q4_k_m");
        int n = qwen.numLayers();
        Estimate half = estimate(qwen, "quant", "q4_k_m", "n_gpu_layers", Integer.toString(n / 2));
        long linearOnGpu = qwen.layers().subList(n - n / 2, n).stream().filter(l -> l.linearAttention()).count();
        assertThat(half.memory().bytes("recurrent_state")).isEqualTo(Math.round(all.memory().bytes("recurrent_state")
                * (linearOnGpu / (double) qwen.linearLayerCount())));
        assertThat(Optional.of(half.memory().hostBytes())).get().matches(b -> b > 0);
    }
}
