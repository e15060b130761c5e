package org.gpuplan.memory;

import java.util.List;

import org.gpuplan.model.Attention;
import org.gpuplan.model.GatedDeltaNet;
import org.gpuplan.model.Layer;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.KvDtype;
import org.gpuplan.workload.KvLayout;
import org.gpuplan.workload.Workload;

/**
 * KV-cache sizes. Standard attention caches K and V: 2·g·d elements per token per layer. MLA caches one latent vector
 * (kv_lora_rank + qk_rope_head_dim) per token per layer in vLLM, SGLang and llama.cpp, while transformers caches the
 * decompressed per-head K and V; older engines and GGUF conversions cache per-head K and V too ({@link KvLayout}).
 * Sliding-window layers hold at most the window.
 */
public final class KvCache {

    private KvCache() {
    }

    /** Cached elements per token for one layer. */
    public static long elementsPerTokenPerLayer(ModelSpec m, Framework framework, KvLayout layout) {
        if (m.attention() instanceof Attention.Latent l) {
            return switch (effective(m, framework, layout)) {
                case LATENT -> l.kvLoraRank() + l.qkRopeHeadDim();
                case LATENT_V -> 2L * l.kvLoraRank() + l.qkRopeHeadDim();
                // FlashAttention-based engines pad V to the q/k head dim (vLLM's pre-MLA DeepseekV2Attention)
                default -> (long) l.numHeads() * (padsValues(framework) ? 2L * l.qkHeadDim()
                        : l.qkHeadDim() + l.vHeadDim());
            };
        }
        if (layout != KvLayout.AUTO) {
            throw new InvalidInputException("kv_layout: '" + layout.key() + "' applies to multi-head latent "
                    + "attention models (DeepSeek-V2/V3, Kimi); this model caches K and V per KV head (accepted: auto)");
        }
        Attention.Standard s = (Attention.Standard) m.attention();
        return 2L * s.numKvHeads() * s.headDim();
    }

    /** Cached elements per token for one layer, in the workload's engine and layout. */
    public static long elementsPerTokenPerLayer(ModelSpec m, Workload w) {
        return elementsPerTokenPerLayer(m, w.framework(), w.kvLayout());
    }

    /**
     * The layout {@code auto} stands for: transformers caches the decompressed per-head K and V of an MLA model;
     * the serving engines cache the latent.
     */
    public static KvLayout effective(ModelSpec m, Framework framework, KvLayout layout) {
        if (layout != KvLayout.AUTO || !(m.attention() instanceof Attention.Latent)) {
            return layout;
        }
        return framework == Framework.HF ? KvLayout.PER_HEAD : KvLayout.LATENT;
    }

    /** The layout in words, for explanations ("" for standard attention). */
    public static String layoutDescription(ModelSpec m, Framework framework, KvLayout layout) {
        if (!(m.attention() instanceof Attention.Latent l)) {
            return "";
        }
        return switch (effective(m, framework, layout)) {
            case LATENT -> "MLA latent: kv_lora_rank " + l.kvLoraRank() + " + rope " + l.qkRopeHeadDim();
            case LATENT_V -> "MLA latent as K (" + (l.kvLoraRank() + l.qkRopeHeadDim()) + ") plus a separate V ("
                    + l.kvLoraRank() + "), llama.cpp before V became a view of K";
            default -> "per-head K and V (no MLA cache): " + l.numHeads() + " heads × (" + l.qkHeadDim() + " + "
                    + (padsValues(framework) ? l.qkHeadDim() + ", V padded to the K head dim" : l.vHeadDim()) + ")";
        };
    }

    private static boolean padsValues(Framework framework) {
        return framework == Framework.VLLM || framework == Framework.SGLANG || framework == Framework.TENSORRT_LLM;
    }

    /**
     * Bytes for {@code sequences} sequences of {@code context} tokens each, over the attention layers (linear-attention
     * layers keep a recurrent state instead, {@link #recurrentStateBytes}).
     */
    public static long bytes(ModelSpec m, Workload w, long sequences, long context, double elementBytes) {
        return bytes(m, w, sequences, context, elementBytes, 0, m.numLayers());
    }

    /** The same bytes for the layers {@code from} (inclusive) to {@code to} (exclusive) only (llama.cpp's -ngl). */
    public static long bytes(ModelSpec m, Workload w, long sequences, long context, double elementBytes, int from,
                             int to) {
        double perLayer = tokenBytesPerLayer(m, w, elementBytes, 1);
        if (w.framework() == Framework.LLAMA_CPP && m.slidingWindow() > 0) {
            return Bytes.ceil(perLayer * llamaCppCells(m, w, sequences, context, from, to));
        }
        return Bytes.ceil(perLayer * heldTokens(m, context, from, to) * sequences);
    }

    /**
     * llama.cpp's cells over the layers {@code from} to {@code to}: a full-attention layer holds every sequence's
     * context; a sliding-window layer's cache (llama-kv-cache-iswa) holds the window of each sequence plus one
     * physical batch, n_swa·n_seq + n_ubatch cells, at most the full size (some builds pad it to 32 or 256).
     */
    private static long llamaCppCells(ModelSpec m, Workload w, long sequences, long context, int from, int to) {
        long full = sequences * context;
        return cells(m, from, to, full, Math.min(full, (long) m.slidingWindow() * sequences
                + InferenceMemory.nUbatch(w)));
    }
    /**
     * Token slots one sequence of {@code context} tokens fills in the attention layers {@code from} (inclusive) to
     * {@code to} (exclusive): a sliding-window (or chunked) layer holds at most its window, a linear-attention layer
     * none.
     */
    private static long heldTokens(ModelSpec m, long context, int from, int to) {
        return cells(m, from, to, context, Math.min(context, m.slidingWindow()));
    }

    /**
     * Token slots over the layers {@code from} (inclusive) to {@code to} (exclusive): {@code full} in a
     * full-attention layer, {@code sliding} in a sliding-window (or chunked) one, none in a linear-attention layer.
     */
    private static long cells(ModelSpec m, int from, int to, long full, long sliding) {
        List<Layer> layers = m.layers();
        long held = 0;
        for (int i = Math.max(0, from); i < Math.min(to, layers.size()); i++) {
            Layer layer = layers.get(i);
            if (!layer.linearAttention()) {
                held += layer.slidingWindow() ? sliding : full;
            }
        }
        return held;
    }
    /**
     * Bytes one token occupies in one attention layer's cache on one of {@code tp} ranks: the cached elements at the
     * cache dtype — except DeepSeek-V3.2, whose engines store the latent as fp8_ds_mla by default (512 fp8 values,
     * one fp32 scale per 128 and the 64 rope values in bf16: 656 B; bf16 when asked) and add the lightning
     * indexer's fp8 key with an fp32 scale per 128 (132 B) (vLLM DeepseekV32IndexerCache, FlashMLA-sparse;
     * SGLang allocates the same 788 B).
     */
    public static double tokenBytesPerLayer(ModelSpec m, Workload w, double elementBytes, int tp) {
        double plain = ShardedInference.kvElementsPerRank(m, w, tp) * elementBytes;
        if (!(m.attention() instanceof Attention.Latent l) || !l.hasIndexer()) {
            return plain;
        }
        double indexer = l.indexHeadDim() + 4.0 * Math.max(1, l.indexHeadDim() / 128);
        boolean engine = w.framework().poolsKvCache();
        boolean fp8 = w.kvDtype() == KvDtype.AUTO || elementBytes == 1;
        double latent = engine && fp8 ? l.kvLoraRank() + 4.0 * Math.max(1, l.kvLoraRank() / 128)
                + 2.0 * l.qkRopeHeadDim() : plain;
        return latent + indexer;
    }

    /**
     * The state {@code sequences} sequences keep in the linear-attention layers, split over {@code tp} ranks (heads and
     * conv channels split): the conv window ((kernel − 1) · (2·kd + vd)) in the conv dtype and the recurrent matrix
     * (nv · dk · dv) in the state dtype ({@link #stateBytes}). 0 without such layers.
     */
    public static long recurrentStateBytes(ModelSpec m, Workload w, long sequences, int tp) {
        if (m.linearAttention() == null) {
            return 0;
        }
        return Bytes.ceil(statePerLayer(m, w, tp) * m.linearLayerCount() * sequences);
    }

    /** One linear-attention layer's state for one sequence on one of {@code tp} ranks, in bytes (unrounded). */
    static double statePerLayer(ModelSpec m, Workload w, int tp) {
        GatedDeltaNet g = m.linearAttention();
        return (g.convStateElements() * convBytes(w) + g.recurrentStateElements() * stateBytes(m, w)) / Math.max(1, tp);
    }

    /** Bytes per element of the conv window: f32 in llama.cpp (R), the compute dtype elsewhere. */
    static double convBytes(Workload w) {
        return w.framework() == Framework.LLAMA_CPP ? 4 : w.precision().computeBytes();
    }

    /**
     * Bytes per element of the recurrent state: f32 in llama.cpp (S) and transformers (the delta rule runs in fp32);
     * vLLM and TensorRT-LLM keep the model dtype unless the config asks for fp32 (Qwen3.5 mamba_ssm_dtype); SGLang
     * keeps fp32 by default (server_args mamba_ssm_dtype "float32"); the engines' flag sets it.
     */
    static double stateBytes(ModelSpec m, Workload w) {
        boolean serving = w.framework() == Framework.VLLM || w.framework() == Framework.SGLANG
                || w.framework() == Framework.TENSORRT_LLM;
        if (serving && w.stateCache().dtype().bytes() > 0) {
            return w.stateCache().dtype().bytes(); // --mamba-ssm-dtype / --mamba-ssm-cache-dtype
        }
        boolean engine = w.framework() == Framework.VLLM || w.framework() == Framework.TENSORRT_LLM;
        return engine && !m.linearAttention().fp32State() ? w.precision().computeBytes() : 4;
    }

    /** How the recurrent state is held, for explanations. */
    public static String recurrentStateDescription(ModelSpec m, Workload w) {
        GatedDeltaNet g = m.linearAttention();
        return m.linearLayerCount() + " Gated DeltaNet layers × (conv window (" + g.convKernel() + " − 1)·" + g.convDim()
                + " × " + (int) convBytes(w) + " B + recurrent state " + g.numValueHeads() + "·" + g.keyHeadDim() + "·"
                + g.valueHeadDim() + " × " + (int) stateBytes(m, w) + " B) per sequence";
    }

    /**
     * The share of a full cache that a sequence of {@code context} tokens keeps in layers {@code from} (inclusive)
     * to {@code to} (exclusive): sliding-window (and chunked) layers hold at most their window, the others every
     * token. 1 for models without windows.
     */
    public static double windowedShare(ModelSpec m, long context, int from, int to) {
        int a = Math.max(0, Math.min(from, m.numLayers()));
        int b = Math.max(a, Math.min(to, m.numLayers()));
        long attention = m.layers().subList(a, b).stream().filter(l -> !l.linearAttention()).count();
        long full = attention * context;
        return full == 0 ? 1 : heldTokens(m, context, from, to) / (double) full;
    }

    /** Bytes per token at a given context, averaging sliding-window layers' capped share. */
    public static double bytesPerToken(ModelSpec m, Workload w, long context, double elementBytes) {
        return bytes(m, w, 1, context, elementBytes) / (double) context;
    }
}
