package org.gpuplan.memory;

import java.util.List;
import org.gpuplan.model.Attention;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.AttentionImpl;
import org.gpuplan.workload.Workload;

/**
 * The tensors transformers {@code generate()} asks the caching allocator for, replayed through
 * {@link CachingAllocator} for the reserved peak: the weights, a prefill over the prompt layer by layer (norms, q/k/v,
 * attention output, the MLP's gate, up, SiLU and product, the residual stream; the prompt's keys and values stay as
 * the DynamicCache), the last position's logits, then decoding, where each layer's cache grows by
 * {@code torch.cat([old, new])}: a copy one token longer is allocated before the old one is freed. In the H200 runs
 * (reserved 1-12 % above allocated) the prefill's transient tensors set the slack: the growing copies fit the
 * segments they leave for 64-128 tokens; longer generations outgrow them and cut new segments.
 */
final class GenerateAllocations {

    /** Decode steps replayed at most; longer generations grow the cache by several tokens per replayed step. */
    static final int MAX_STEPS = 32;

    private GenerateAllocations() {
    }

    /**
     * @param params    the weights in construction order
     * @param kvPerToken bytes one token adds to one layer's keys (and as many to its values), whole batch
     * @param capacity  bytes the device can give the process's segments
     */
    static TrainingAllocations.Result replay(ModelSpec m, Workload w, List<TrainingAllocations.Param> params,
                                             long kvPerToken, long capacity) {
        CachingAllocator alloc = new CachingAllocator(capacity, w.perf().expandableSegments());
        int c = w.precision().computeBytes();
        long b = w.batchSize();
        long prompt = w.promptLen() > 0 ? w.promptLen() : w.seqLen();
        long output = Math.max(1, w.outputLen());
        long n = b * prompt;
        long h = m.hiddenSize();
        long q = c * h * n;
        if (m.attention() instanceof Attention.Standard a) {
            q = (long) c * a.numHeads() * a.headDim() * n;
        }
        long f = m.mlp() != null ? m.mlp().intermediateSize()
                : (long) m.moe().expertIntermediateSize() * m.moe().topK();
        long hidden = c * h * n;
        long fp32 = 4 * h * n;
        long wide = c * f * n;
        long scores = w.attention() == AttentionImpl.EAGER
                ? b * m.attention().numHeads() * prompt * prompt * (4 + c) : 0;
        boolean dequantize = w.quant().isBitsAndBytes4bit();
        for (TrainingAllocations.Param p : params) {
            alloc.allocate(p.bytes());
        }
        int layers = m.numLayers();
        Object[] keys = new Object[layers];
        Object[] values = new Object[layers];
        Object residual = alloc.allocate(hidden);
        for (int layer = 0; layer < layers; layer++) {
            if (dequantize) {
                for (TrainingAllocations.Param p : params) {
                    if (p.layer() == layer && p.quantized()) {
                        alloc.allocateAndFree(p.numel() * c);
                    }
                }
            }
            // attention: the norm's fp32 upcast and output, q; the keys and values stay as the layer's cache
            Object norm32 = alloc.allocate(fp32);
            Object normed = alloc.allocate(hidden);
            Object query = alloc.allocate(q);
            Object key = alloc.allocate(kvPerToken * prompt);
            Object value = alloc.allocate(kvPerToken * prompt);
            // DynamicLayer.update concatenates onto an empty tensor: the cache is a copy of the layer's keys/values
            keys[layer] = alloc.allocate(kvPerToken * prompt);
            values[layer] = alloc.allocate(kvPerToken * prompt);
            if (scores > 0) {
                alloc.allocateAndFree(scores);
            }
            Object attended = alloc.allocate(hidden);
            alloc.free(value);
            alloc.free(key);
            alloc.free(query);
            alloc.free(normed);
            alloc.free(norm32);
            Object projected = alloc.allocate(hidden);
            alloc.free(attended);
            Object mid = alloc.allocate(hidden);
            alloc.free(projected);
            alloc.free(residual);
            // MLP: gate, up, SiLU(gate), their product, the down projection, the residual add
            norm32 = alloc.allocate(fp32);
            normed = alloc.allocate(hidden);
            Object gate = alloc.allocate(wide);
            Object up = alloc.allocate(wide);
            Object act = alloc.allocate(wide);
            alloc.free(gate);
            Object product = alloc.allocate(wide);
            alloc.free(act);
            alloc.free(up);
            Object down = alloc.allocate(hidden);
            alloc.free(product);
            alloc.free(normed);
            alloc.free(norm32);
            residual = alloc.allocate(hidden);
            alloc.free(down);
            alloc.free(mid);
        }
        alloc.free(residual);
        long logits = b * m.vocabSize();
        lastPositionLogits(alloc, logits, c);
        // decoding: each layer's keys and values are copied one (or a stride of) token(s) longer
        long stride = Math.max(1, (output - 1 + MAX_STEPS - 1) / MAX_STEPS);
        for (long length = prompt + stride; length < prompt + output; length += stride) {
            for (int layer = 0; layer < layers; layer++) {
                Object k = alloc.allocate(kvPerToken * length);
                alloc.free(keys[layer]);
                keys[layer] = k;
                Object v = alloc.allocate(kvPerToken * length);
                alloc.free(values[layer]);
                values[layer] = v;
            }
            lastPositionLogits(alloc, logits, c);
        }
        return new TrainingAllocations.Result(alloc.peakAllocated(), alloc.peakReserved(), alloc.segmentSizes());
    }

    /** The LM head on the last position, its fp32 copy and the sampler's probabilities. */
    private static void lastPositionLogits(CachingAllocator alloc, long logits, int c) {
        Object out = alloc.allocate(c * logits);
        Object upcast = alloc.allocate(4 * logits);
        alloc.allocateAndFree(4 * logits);
        alloc.free(upcast);
        alloc.free(out);
    }

    /**
     * The largest tensor the replay would ask for, in floating point (the estimator's own terms saturate where a
     * 64-bit product would overflow): the widest prefill activation, the eager scores, the last copy of a layer's
     * cache, the logits.
     */
    static double largestTensor(ModelSpec m, Workload w) {
        double b = w.batchSize();
        double prompt = w.promptLen() > 0 ? w.promptLen() : w.seqLen();
        double tokens = b * prompt;
        double width = Math.max(4.0 * m.hiddenSize(), 4.0 * (m.mlp() != null ? m.mlp().intermediateSize()
                : (double) m.moe().expertIntermediateSize() * m.moe().topK()));
        double scores = w.attention() == AttentionImpl.EAGER ? b * m.attention().numHeads() * prompt * prompt * 8 : 0;
        double cache = b * 4.0 * m.hiddenSize() * (prompt + w.outputLen());
        return Math.max(Math.max(tokens * width, scores), Math.max(cache, 4.0 * b * m.vocabSize()));
    }

    /** What one replay costs, in allocator calls, before it runs (the estimator skips absurd ones). */
    static long calls(ModelSpec m, Workload w) {
        long steps = Math.min(MAX_STEPS, Math.max(1, w.outputLen()));
        return (long) m.numLayers() * (24 + 4 * steps);
    }
}
