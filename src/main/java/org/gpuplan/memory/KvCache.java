package org.gpuplan.memory;

import org.gpuplan.model.Attention;
import org.gpuplan.model.Layer;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Framework;

/**
 * KV-cache sizes. Standard attention caches K and V: 2·g·d elements per token per layer. MLA caches one latent vector
 * (kv_lora_rank + qk_rope_head_dim) per token per layer in vLLM, SGLang and llama.cpp, while transformers caches the
 * decompressed per-head K and V. Sliding-window layers hold at most the window.
 */
public final class KvCache {

    private KvCache() {
    }

    /** Cached elements per token for one layer. */
    public static long elementsPerTokenPerLayer(ModelSpec m, Framework framework) {
        if (m.attention() instanceof Attention.Latent l) {
            if (framework == Framework.HF) {
                return (long) l.numHeads() * (l.qkHeadDim() + l.vHeadDim());
            }
            return l.kvLoraRank() + l.qkRopeHeadDim();
        }
        Attention.Standard s = (Attention.Standard) m.attention();
        return 2L * s.numKvHeads() * s.headDim();
    }

    /** Bytes for {@code sequences} sequences of {@code context} tokens each, over all layers. */
    public static long bytes(ModelSpec m, Framework framework, long sequences, long context, double elementBytes) {
        long perLayer = elementsPerTokenPerLayer(m, framework);
        double total = 0;
        for (Layer layer : m.layers()) {
            long tokens = layer.slidingWindow() ? Math.min(context, m.slidingWindow()) : context;
            total += (double) perLayer * tokens * elementBytes;
        }
        return Bytes.ceil(total * sequences);
    }

    /** Bytes per token at a given context, averaging sliding-window layers' capped share. */
    public static double bytesPerToken(ModelSpec m, Framework framework, long context, double elementBytes) {
        return bytes(m, framework, 1, context, elementBytes) / (double) context;
    }
}
