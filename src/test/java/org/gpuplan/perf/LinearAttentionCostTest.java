package org.gpuplan.perf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.hardware.TensorDtype;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.PerfOptions;
import org.junit.jupiter.api.Test;

/** Gated DeltaNet layers mix tokens in time linear in the context; only the softmax-attention layers grow with it. */
class LinearAttentionCostTest {

    static ModelSpec spec(String id) {
        ModelCatalog c = ModelCatalog.builtIn();
        return HfConfigParser.parse(c.config(c.find(id).orElseThrow()), id, id).spec();
    }

    @Test
    void theTokenMixingFlopsOfAPrefillCountTheDeltaRuleForLinearLayers() {
        ModelSpec next = spec("Qwen/Qwen3-Next-80B-A3B-Instruct");
        // 32 value heads × 2 × (2 · 128 · 128 + 64 · (128 + 128)) FLOPs per token
        assertThat(LayerShapes.linearMixFlopsPerToken(next)).isEqualTo(32 * 2 * (2.0 * 128 * 128 + 64 * 256));
        Roofline r = Roofline.of(GpuCatalog.builtIn().require("H200-SXM-141GB"), TensorDtype.BF16, PerfOptions.DEFAULT,
                2e-6, true);
        double tokens = 32768;
        double keys = LayerShapes.causalKeys(32768, 0);
        PassCost pass = PassCost.forward(next, r, tokens, keys, keys, 0, 1, 1, 2, 2, true, 0);
        // 12 softmax layers: tokens · keys · 2 · width; 36 linear layers: tokens · the per-token delta-rule FLOPs
        double softmax = 12 * tokens * keys * 2 * LayerShapes.attentionWidth(next);
        double linear = 36 * tokens * LayerShapes.linearMixFlopsPerToken(next);
        assertThat(pass.attentionFlops()).isCloseTo(softmax + linear, within(1e-6 * (softmax + linear)));
    }

    @Test
    void llama4ChunkedLayersAttendWithinTheirChunk() {
        ModelSpec scout = spec("meta-llama/Llama-4-Scout-17B-16E-Instruct");
        // 16,384 tokens in two 8,192-token chunks: a query sees its chunk so far, (8,192 + 1)/2 keys on average;
        // a sliding window of 8,192 would give (8,192·8,193/2 + 8,192·8,192)/16,384
        assertThat(LayerShapes.windowKeys(scout, 16384)).isEqualTo(8193 / 2.0);
        assertThat(LayerShapes.causalKeys(16384, 8192)).isEqualTo((8192 * 8193 / 2.0 + 8192.0 * 8192) / 16384);
        assertThat(LayerShapes.decodeWindowKeys(scout, 8192 + 100)).isEqualTo(100);
        assertThat(LayerShapes.decodeWindowKeys(spec("google/gemma-2-9b"), 8192 + 100)).isEqualTo(4096);
    }
}
