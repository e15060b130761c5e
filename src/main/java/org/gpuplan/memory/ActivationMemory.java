package org.gpuplan.memory;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.gpuplan.model.Attention;
import org.gpuplan.model.Family;
import org.gpuplan.model.Head;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.Moe;
import org.gpuplan.workload.AttentionImpl;
import org.gpuplan.workload.Checkpointing;
import org.gpuplan.workload.Method;
import org.gpuplan.workload.Precision;
import org.gpuplan.workload.Workload;

/**
 * What autograd saves for backward during training, per Transformer block and for the embeddings, the final norm and
 * the loss, derived from the operations of each transformers block (documented term by term in
 * {@code validation/activations/README.md} and checked against measured saved tensors there).
 *
 * <p>Notation (bytes per token unless said): h hidden, a query heads, g KV heads, d head_dim, f intermediate, c the
 * compute dtype's bytes, r the residual stream's bytes (4 when weights are fp32, i.e. fp32 and the *-mixed modes),
 * s the sequence length.
 */
public final class ActivationMemory {

    /**
     * Saved activations of one micro-batch.
     *
     * @param perLayer      saved bytes of one (dense or MoE) block, each entry one layer
     * @param layersTotal   Σ perLayer, or the checkpointed inputs when checkpointing
     * @param outside       embeddings, final norm, LM-head input and the saved log-softmax (or task head)
     * @param shared        tensors shared by all layers (RoPE cos/sin, 4-D attention masks)
     * @param recompute     one block's activations rebuilt during backward under checkpointing, 0 otherwise
     * @param lossForward   transient logits copies while the loss is computed
     * @param lossBackward  transient gradients at the start of backward through the loss
     * @param formula       the per-layer formula with its inputs
     */
    public record Saved(List<Long> perLayer, long layersTotal, long outside, long shared, long recompute,
                        long lossForward, long lossBackward, String formula) {

        public long total() {
            return layersTotal + outside + shared;
        }
    }

    private ActivationMemory() {
    }

    public static Saved training(ModelSpec m, Workload w) {
        long b = w.batchSize();
        long s = w.seqLen();
        long n = b * s;
        int c = w.precision().computeBytes();
        int r = w.precision().weightBytes() == 4 ? 4 : c;
        boolean full = w.method() == Method.FULL;
        boolean mixed = w.precision().mixed();
        List<Long> perLayer = new ArrayList<>();
        String formula;
        long shared = 0;
        long outside;
        boolean gptStyle = m.family() == Family.GPT2 || m.family() == Family.GPT_NEOX;
        boolean encoder = m.family().isEncoder();
        double dropoutMask = gptStyle || encoder ? 1 : 0;
        if (gptStyle || encoder) {
            long h = m.hiddenSize();
            long a = m.attention().numHeads();
            long f = m.mlp().intermediateSize();
            double attn = attentionCore(w, c, a, a, h / a, s, dropoutMask, true);
            // LayerNorm saves its input (r) and fp32 mean+rstd (8 B); Linear/Conv1D save their inputs (c).
            double ln = r * h + 8 + (full ? c * h : 0);
            double gelu = m.family() == Family.GPT2 ? 4.0 * c * f : c * f; // gelu_new composite vs erf GELU
            double perToken = 2 * ln + (full ? c * h : 0) + attn + dropoutMask * h + gelu + (full ? c * f : 0)
                    + dropoutMask * h;
            if (encoder) {
                perToken += 2.0 * r * h; // post-LN: residual sums saved by the two LayerNorms
            }
            for (int i = 0; i < m.numLayers(); i++) {
                perLayer.add(Bytes.ceil(perToken * n));
            }
            formula = String.format(Locale.ROOT, "per layer %,.0f B/token × %,d tokens: 2 LayerNorms (r·h + 8%s), "
                            + "%sattention %s, dropout masks 2·h, MLP %s%s", perToken, n, full ? " + c·h" : "",
                    full ? "qkv output 3·c·h + " : "", attentionLabel(w), m.family() == Family.GPT2
                            ? "gelu_new 4·c·f" : "GELU c·f", full ? " + c·f (c_proj input)" : "");
            outside = Bytes.ceil(n * (dropoutMask * h + r * h + 8 + c * h));
        } else {
            long h = m.hiddenSize();
            double norm = 4.0 * h + 4 + (full ? r * h + (mixed ? c * h : 0) : 0);
            double attn = llamaAttention(m, w, c, full, s, b);
            double mlpDense = m.mlp() == null ? 0 : (full ? 4.0 : 3.0) * c * m.mlp().intermediateSize();
            double moeBlock = m.moe() == null ? 0 : moe(m.moe(), h, c, full);
            int norms = m.norms().perLayer();
            for (int i = 0; i < m.numLayers(); i++) {
                double perToken = norms * norm + attn + (m.layers().get(i).moe() ? moeBlock : mlpDense);
                perLayer.add(Bytes.ceil(perToken * n));
            }
            formula = String.format(Locale.ROOT, "per layer × %,d tokens: %d RMSNorms × %,.0f B (fp32 input 4·h + "
                            + "rstd 4%s) + attention %,.0f B (%s) + MLP %,.0f B (%s)%s", n, norms, norm,
                    full ? " + normalised r·h" + (mixed ? " + autocast copy c·h" : "") : "", attn, attentionLabel(w),
                    mlpDense, full ? "4·c·f: gate, SiLU, up, product" : "3·c·f: gate, SiLU, up (frozen down_proj)",
                    m.moe() != null ? String.format(Locale.ROOT, "; MoE layers %,.0f B (router fp32 4·E, per routed "
                            + "token gathered input, expert MLP and weighted output)", moeBlock) : "");
            if (m.attention() instanceof Attention.Standard st) {
                shared += Bytes.ceil(2.0 * c * st.headDim() * n); // RoPE cos and sin, passed to every layer
                if (b > 1 && w.attention() != AttentionImpl.FLASH) {
                    shared += Bytes.ceil((double) c * b * s * s); // padded batch: 4-D mask [b,1,s,s], one copy
                }
            }
            outside = Bytes.ceil(n * (4.0 * h + 4 + (full ? r * h : 0) + c * h));
        }
        long layersTotal = perLayer.stream().mapToLong(Long::longValue).sum();
        long recompute = 0;
        if (w.checkpointing() == Checkpointing.FULL) {
            long maxLayer = perLayer.stream().mapToLong(Long::longValue).max().orElse(0);
            recompute = maxLayer;
            layersTotal = Bytes.ceil((double) r * m.hiddenSize() * n * m.numLayers());
            formula = String.format(Locale.ROOT, "full checkpointing: each of %d layers keeps its input r·h × %,d "
                    + "tokens; one layer (%s) is rebuilt at a time in backward. Without checkpointing: %s",
                    m.numLayers(), n, Bytes.gib(maxLayer), formula);
        } else if (w.checkpointing() == Checkpointing.SELECTIVE) {
            double core = attentionCoreBytes(m, w, c, s) * n;
            layersTotal = Math.max(0, layersTotal - Bytes.ceil(core * m.numLayers()));
            recompute = Bytes.ceil(core);
            formula += "; selective checkpointing recomputes the attention core (its saved tensors are dropped)";
        }
        // the loss: fp32 log-softmax saved (4·V), transient bf16 logits + fp32 copy, gradients at backward start
        long v = lossWidth(m);
        long lossSaved = Bytes.ceil(4.0 * v * n);
        long lossForward = Bytes.ceil((double) (c + 4) * v * n);
        long lossBackward = Bytes.ceil(8.0 * v * n);
        return new Saved(perLayer, layersTotal, outside + lossSaved, shared, recompute, lossForward, lossBackward,
                formula);
    }

    /** Logit width of the loss: the vocabulary for LM heads, the labels for classification heads. */
    static long lossWidth(ModelSpec m) {
        if (m.head() instanceof Head.Encoder enc) {
            return switch (enc.task()) {
                case MASKED_LM, PRETRAINING, CAUSAL_LM -> m.vocabSize();
                default -> enc.numLabels();
            };
        }
        return m.vocabSize();
    }

    // Llama-style attention: q/k/v after RoPE, SDPA output, its contiguous copy for o_proj, fp32 log-sum-exp;
    // eager adds K/V repeated to all heads and the fp32 + compute-dtype probabilities (a·s each per token).
    private static double llamaAttention(ModelSpec m, Workload w, int c, boolean full, long s, long b) {
        if (m.attention() instanceof Attention.Latent l) {
            long a = l.numHeads();
            double q = (double) a * l.qkHeadDim();
            double k = q;
            double v = (double) a * l.vHeadDim();
            double latent = c * (l.qLoraRank() + l.kvLoraRank() + l.qkRopeHeadDim())
                    + 4.0 * (l.qLoraRank() + l.kvLoraRank()) + 8;
            double core = c * (q + k + v) + c * v + 4.0 * a;
            if (w.attention() == AttentionImpl.EAGER) {
                core += (4.0 + c) * a * s;
            }
            return latent + core + (full ? c * v : 0);
        }
        Attention.Standard st = (Attention.Standard) m.attention();
        long a = st.numHeads();
        long g = st.numKvHeads();
        long d = st.headDim();
        // repeat_kv materialises K/V at all heads for eager, and for sdpa when a padding mask is passed (b > 1)
        boolean repeat = w.attention() == AttentionImpl.EAGER || (w.attention() == AttentionImpl.SDPA && b > 1);
        long gk = repeat ? a : g;
        double value = c * (a + 2.0 * gk) * d + c * (double) a * d + (full ? c * (double) a * d : 0);
        if (w.attention() == AttentionImpl.EAGER) {
            value += (4.0 + c) * a * s; // fp32 softmax output + probabilities cast back (saved by matmul with V)
        } else {
            value += 4.0 * a; // log-sum-exp
        }
        if (st.qkNorm()) {
            value += 4.0 * (a + g) * d + 4.0 * (a + g) + (full ? c * (a + g) * (double) d : 0);
        }
        return value;
    }

    // GPT-2/BERT attention core: eager keeps softmax output c·a·s, dropout mask a·s and dropped probabilities c·a·s;
    // sdpa keeps q, k, v, output and the log-sum-exp.
    private static double attentionCore(Workload w, int c, long a, long g, long d, long s, double mask,
                                        boolean merged) {
        if (w.attention() == AttentionImpl.EAGER) {
            return (2.0 * c + mask) * a * s + c * (double) a * d + (merged ? c * (double) a * d : 0);
        }
        return c * (a + 2.0 * g) * d + c * (double) a * d + 4.0 * a + (merged ? c * (double) a * d : 0);
    }

    private static double attentionCoreBytes(ModelSpec m, Workload w, int c, long s) {
        long a = m.attention().numHeads();
        if (w.attention() == AttentionImpl.EAGER) {
            return (4.0 + c) * a * s;
        }
        return 4.0 * a;
    }

    // Router: fp32 softmax over E (4·E); per routed token (k per token): gathered input c·h, expert MLP (3 or 4)·c·fe,
    // weighted output c·h; shared expert as a dense MLP.
    private static double moe(Moe moe, long h, int c, boolean full) {
        double perRouted = c * (double) h + (full ? 4.0 : 3.0) * c * moe.expertIntermediateSize() + c * (double) h;
        double shared = moe.sharedIntermediateSize() > 0 ? (full ? 4.0 : 3.0) * c * moe.sharedIntermediateSize() : 0;
        return 4.0 * moe.numExperts() + (full ? c * (double) moe.numExperts() : 0) + moe.topK() * perRouted + shared;
    }

    private static String attentionLabel(Workload w) {
        return switch (w.attention()) {
            case EAGER -> "eager: s² probabilities kept";
            case SDPA -> "sdpa: log-sum-exp kept";
            case FLASH -> "flash: log-sum-exp kept";
        };
    }

    /** Activation bytes of one inference forward over {@code tokens} tokens (no grad): the largest layer transient. */
    public static long inferenceTransient(ModelSpec m, long tokens, int c, AttentionImpl attention, long s) {
        long h = m.hiddenSize();
        long f = m.mlp() != null ? m.mlp().intermediateSize() : 0;
        if (m.moe() != null) {
            f = Math.max(f, (long) m.moe().expertIntermediateSize() * m.moe().topK());
        }
        // residual + normed hidden (fp32 upcast inside the norm) and the gated MLP's gate, up and product
        double perToken = 2.0 * c * h + 4.0 * h + 3.0 * c * f;
        double scores = 0;
        if (attention == AttentionImpl.EAGER) {
            scores = (4.0 + c) * m.attention().numHeads() * s; // per token, the s-wide score rows
        }
        return Bytes.ceil(tokens * (perToken + scores));
    }

    /** Whether weights are fp32 under this precision (autocast keeps compute-dtype copies of them). */
    static boolean fp32Weights(Precision p) {
        return p.weightBytes() == 4;
    }
}
