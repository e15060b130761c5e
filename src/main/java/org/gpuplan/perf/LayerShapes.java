package org.gpuplan.perf;

import java.util.ArrayList;
import java.util.List;
import org.gpuplan.model.Attention;
import org.gpuplan.model.GatedDeltaNet;
import org.gpuplan.model.Layer;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.Moe;

/** The GEMMs and attention shapes of a model, read from its architecture (never typed in). */
final class LayerShapes {

    private LayerShapes() {
    }

    /** Projections of one attention block: Q, K, V (or MLA's low-rank pairs) and the output projection. */
    static List<Gemm> attentionProjections(ModelSpec m) {
        long h = m.hiddenSize();
        List<Gemm> out = new ArrayList<>();
        if (m.attention() instanceof Attention.Latent l) {
            long a = l.numHeads();
            if (l.qLoraRank() > 0) {
                out.add(Gemm.dense("q_a_proj", h, l.qLoraRank()));
                out.add(Gemm.dense("q_b_proj", l.qLoraRank(), a * l.qkHeadDim()));
            } else {
                out.add(Gemm.dense("q_proj", h, a * l.qkHeadDim()));
            }
            out.add(Gemm.dense("kv_a_proj", h, l.kvLoraRank() + l.qkRopeHeadDim()));
            out.add(Gemm.dense("kv_b_proj", l.kvLoraRank(), a * (l.qkNopeHeadDim() + l.vHeadDim())));
            out.add(Gemm.dense("o_proj", a * l.vHeadDim(), h));
        } else {
            Attention.Standard s = (Attention.Standard) m.attention();
            // an output gate doubles the query projection (Qwen3-Next, Qwen3.5)
            long q = (long) (s.outputGate() ? 2 : 1) * s.numHeads();
            out.add(Gemm.dense("qkv_proj", h, (q + 2L * s.numKvHeads()) * s.headDim()));
            out.add(Gemm.dense("o_proj", (long) s.numHeads() * s.headDim(), h));
        }
        return out;
    }

    /** A Gated DeltaNet layer's GEMMs: q, k, v, z, b, a in (fused, as Qwen3-Next stores them), out_proj. */
    static List<Gemm> linearAttentionProjections(ModelSpec m) {
        GatedDeltaNet g = m.linearAttention();
        long h = m.hiddenSize();
        return List.of(Gemm.dense("in_proj", h, 2 * g.keyDim() + 2 * g.valueDim() + 2L * g.numValueHeads()),
                Gemm.dense("o_proj", g.valueDim(), h));
    }

    /** Tokens per chunk of the chunked delta rule (FLA chunk_gated_delta_rule, vLLM's GDN prefill). */
    static final int DELTA_RULE_CHUNK = 64;

    /**
     * FLOPs per token of the Gated DeltaNet token mixing, all heads: the state update and readout, 2 MACs of
     * dk·dv per value head (k ⊗ v into the state, q through it), and the chunk-local attention over 64 tokens
     * (q·k and the weights onto v: 2·C·(dk + dv) per value head); each MAC is 2 FLOPs.
     */
    static double linearMixFlopsPerToken(ModelSpec m) {
        GatedDeltaNet g = m.linearAttention();
        double perHead = 2.0 * g.keyHeadDim() * g.valueHeadDim() + DELTA_RULE_CHUNK * (g.keyHeadDim() + g.valueHeadDim());
        return 2 * g.numValueHeads() * perHead;
    }

    /** The feed-forward GEMMs of one layer: the dense MLP, or router + the top-k routed experts + shared experts. */
    static List<Gemm> feedForward(ModelSpec m, Layer layer) {
        long h = m.hiddenSize();
        int up = gated(m) ? 2 : 1;
        List<Gemm> out = new ArrayList<>();
        if (layer.moe() && m.moe() != null) {
            Moe e = m.moe();
            out.add(Gemm.dense("router", h, e.numExperts()));
            out.add(new Gemm("experts_up", h, (long) up * e.expertIntermediateSize(), e.topK(), e.numExperts()));
            out.add(new Gemm("experts_down", e.expertIntermediateSize(), h, e.topK(), e.numExperts()));
            if (e.sharedIntermediateSize() > 0) {
                out.add(Gemm.dense("shared_up", h, (long) up * e.sharedIntermediateSize()));
                out.add(Gemm.dense("shared_down", e.sharedIntermediateSize(), h));
            }
        } else if (m.mlp() != null) {
            out.add(Gemm.dense("mlp_up", h, (long) up * m.mlp().intermediateSize()));
            out.add(Gemm.dense("mlp_down", m.mlp().intermediateSize(), h));
        }
        return out;
    }

    /** Gated (SwiGLU-style) MLP; a model with only MoE layers has gated experts. */
    static boolean gated(ModelSpec m) {
        return m.mlp() == null || m.mlp().gated();
    }

    /** The output projection to the vocabulary (run once per token; tied or not, it is a matmul). */
    static Gemm lmHead(ModelSpec m) {
        return Gemm.dense("lm_head", m.hiddenSize(), m.vocabSize());
    }

    /** Query heads × (q·k dim + v dim): attention-core FLOPs per (query, key) pair are 2× this. */
    static long attentionWidth(ModelSpec m) {
        if (m.attention() instanceof Attention.Latent l) {
            return (long) l.numHeads() * (l.qkHeadDim() + l.vHeadDim());
        }
        Attention.Standard s = (Attention.Standard) m.attention();
        return 2L * s.numHeads() * s.headDim();
    }

    /**
     * Mean keys each query attends to over a causal sequence of {@code s} tokens, window {@code w} (0 = none):
     * (1/s)·Σ_{i=1..s} min(i, w).
     */
    /**
     * Mean keys per query of a window layer over a causal sequence of {@code s} tokens: a sliding window of w keys
     * ({@link #causalKeys}), or, for Llama 4's chunked attention, the keys of the query's own chunk so far
     * ((q · C(C + 1)/2 + r(r + 1)/2) / s for s = q·C + r).
     */
    static double windowKeys(ModelSpec m, long s) {
        long w = m.slidingWindow();
        if (m.family() != org.gpuplan.model.Family.LLAMA4 || w <= 0 || w >= s) {
            return causalKeys(s, w);
        }
        long q = s / w;
        long rest = s % w;
        return (q * (w * (w + 1) / 2.0) + rest * (rest + 1) / 2.0) / s;
    }

    /** Keys one decoded token at position {@code ctx} attends to in a window layer (a chunk: its own chunk so far). */
    static double decodeWindowKeys(ModelSpec m, long ctx) {
        long w = m.slidingWindow();
        if (w <= 0) {
            return ctx;
        }
        return m.family() == org.gpuplan.model.Family.LLAMA4 ? Math.max(1, ctx % w) : Math.min(ctx, w);
    }

    static double causalKeys(long s, long w) {
        if (w <= 0 || w >= s) {
            return (s + 1) / 2.0;
        }
        return (w * (w + 1) / 2.0 + (double) (s - w) * w) / s;
    }

    /**
     * Bytes of elementwise traffic per token per layer in the forward pass (16-bit activations).
     *
     * <p>Fused kernels (Megatron/Transformer Engine, serving engines, torch.compile) read each input and write each
     * output once: two RMSNorms 4h, two residual adds 6h, the gated activation 3f (2f plain), rotary 2·(q+k) elements,
     * × 2 bytes. Eager PyTorch runs one kernel per op with fp32 upcasts, counted op by op as in the HF/torchtitan
     * Llama code: RMSNorm (to fp32, pow, mean, rsqrt·x, to bf16, ·weight) 36 B per element, residual add 6 B,
     * SiLU·up 10 B per intermediate element, rotary via fp32 complex multiply 28 B per q/k element, q/k/v layout
     * copies for SDPA 4 B per element.
     */
    /**
     * The hidden-size share of {@link #elementwiseBytes}: two RMSNorms and two residual adds, the ops that run on the
     * residual stream (fp32 under PyTorch autocast with fp32 parameters, so twice these bytes there).
     */
    static double residualElementwiseBytes(ModelSpec m, boolean fused) {
        long h = m.hiddenSize();
        return fused ? 2.0 * (4 * h + 6 * h) : 2 * eagerNormBytes(m) * h + 2 * 6.0 * h;
    }

    /**
     * Eager bytes per element of one norm: HF's RMSNorm is six ops with an fp32 upcast (36 B); LayerNorm is one fused
     * kernel (native_layer_norm: read and write, 4 B).
     */
    static double eagerNormBytes(ModelSpec m) {
        return m.norms().kind() == org.gpuplan.model.NormKind.LAYER_NORM ? 4 : 36;
    }

    /**
     * Eager bytes per intermediate element of the activation: SiLU·up 10 B (gated); gelu_new and gelu_fast as written
     * in transformers (pow, two scalar muls, add, tanh, add one, 0.5·x, product: eight ops, 36 B); one fused kernel
     * (erf GELU, gelu_pytorch_tanh, ReLU) 4 B.
     */
    static double eagerActivationBytes(ModelSpec m) {
        if (gated(m)) {
            return 10;
        }
        return m.mlp().multiOpActivation() ? 36 : 4;
    }

    /** Whether the model applies rotary embeddings to q and k (learned absolute positions do not). */
    static boolean rotary(ModelSpec m) {
        return m.embeddings().learnedPositions() == 0;
    }

    static double elementwiseBytes(ModelSpec m, Layer layer, boolean fused) {
        long h = m.hiddenSize();
        long f = layer.moe() && m.moe() != null
                ? (long) m.moe().topK() * m.moe().expertIntermediateSize() + m.moe().sharedIntermediateSize()
                : m.mlp() == null ? 0 : m.mlp().intermediateSize();
        long qk;
        long qkv;
        if (m.attention() instanceof Attention.Standard s) {
            qk = (long) (s.numHeads() + s.numKvHeads()) * s.headDim();
            qkv = (long) (s.numHeads() + 2L * s.numKvHeads()) * s.headDim();
        } else {
            Attention.Latent l = (Attention.Latent) m.attention();
            qk = (long) (l.numHeads() + 1) * l.qkRopeHeadDim();
            qkv = (long) l.numHeads() * (l.qkHeadDim() * 2L + l.vHeadDim());
        }
        if (fused) {
            return 2.0 * (4 * h + 6 * h + (gated(m) ? 3 * f : 2 * f) + 2 * qk);
        }
        return 2 * eagerNormBytes(m) * h + 2 * 6.0 * h + eagerActivationBytes(m) * f + (rotary(m) ? 28.0 * qk : 0)
                + 4.0 * qkv;
    }

    /**
     * GPT-2, StarCoder and BERT-style encoders train with dropout 0.1 (as the memory model assumes): two residual
     * dropouts per block in training, each reading the input and writing the output and its bool mask (5 B per
     * element; its backward the same).
     */
    static boolean trainsWithDropout(ModelSpec m) {
        return m.dropout() > 0;
    }
}
