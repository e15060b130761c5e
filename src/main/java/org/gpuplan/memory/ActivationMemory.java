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
 * @param backwardWorkingSet gradients alive while backward runs through one layer: the incoming and outgoing
 *                      gradient of its largest saved activation (the s² probabilities under eager attention, else the
 *                      MLP intermediate), 2 × that tensor
     * @param explanation   builds the per-layer formula with its inputs (formatted when a report asks)
     * @param host          saved layer tensors waiting in host memory (activation offloading), not in layersTotal
     */
    public record Saved(List<Long> perLayer, long layersTotal, long outside, long shared, long recompute,
                        long lossForward, long lossBackward, long backwardWorkingSet,
                        java.util.function.Supplier<String> explanation, long host) {

        public long total() {
            return layersTotal + outside + shared;
        }

        /** The per-layer formula with its inputs. */
        public String formula() {
            return explanation.get();
        }

        /** The mean saved bytes of one layer, without checkpointing. */
        public double averageLayer() {
            return perLayer instanceof Layers l ? l.sum() / (double) l.size() : perLayer.stream()
                    .mapToLong(Long::longValue).average().orElse(0);
        }
    }

    /**
     * Per-layer saved bytes as a list that holds only the two values it takes (dense and MoE layers): the planner
     * builds one for every candidate, and a boxed element per layer cost more than the arithmetic.
     */
    static final class Layers extends java.util.AbstractList<Long> implements java.util.RandomAccess {
        private final ModelSpec m;
        /** Saved bytes by layer kind: index 1 = MoE, 2 = linear-attention mixer, 3 = both. */
        private final long[] bytes;
        private final long[] counts = new long[4];

        Layers(ModelSpec m, long dense, long moe) {
            this(m, dense, moe, 0);
        }

        /** @param linearDelta what a linear-attention layer saves beyond the softmax-attention layer it replaces */
        Layers(ModelSpec m, long dense, long moe, long linearDelta) {
            this.m = m;
            this.bytes = new long[] {dense, moe, dense + linearDelta, moe + linearDelta};
            if (m.linearAttention() == null) {
                long moeLayers = m.moeLayerCount(); // no per-layer walk for the common case (planner hot path)
                counts[0] = m.numLayers() - moeLayers;
                counts[1] = moeLayers;
            } else {
                for (org.gpuplan.model.Layer layer : m.layers()) {
                    counts[kind(layer)]++;
                }
            }
        }

        private int kind(org.gpuplan.model.Layer layer) {
            return (layer.moe() && m.moe() != null ? 1 : 0)
                    + (layer.linearAttention() && m.linearAttention() != null ? 2 : 0);
        }

        @Override
        public Long get(int i) {
            return bytes[kind(m.layers().get(i))];
        }

        @Override
        public int size() {
            return m.numLayers();
        }

        long sum() {
            long total = 0;
            for (int k = 0; k < 4; k++) {
                total += counts[k] * bytes[k];
            }
            return total;
        }

        long max() {
            long max = Long.MIN_VALUE;
            for (int k = 0; k < 4; k++) {
                if (counts[k] > 0) {
                    max = Math.max(max, bytes[k]);
                }
            }
            return max;
        }
    }

    /** torchtune's CEWithChunkedOutputLoss splits the logits into 8 chunks (num_output_chunks). */
    static final int LOSS_CHUNKS = 8;

    /** Layers' worth of saved tensors activation offloading leaves on the GPU: the one running, the one in transit. */
    static final int OFFLOAD_LAYERS_ON_GPU = 2;

    private ActivationMemory() {
    }

    /**
     * Bytes per token one trainable fp32-scaled norm (Gemma, Qwen3-Next: x̂ · (1 + w) in fp32) keeps beyond a Llama
     * norm, whose normalised tensor is cast to the residual dtype r before the weight multiplies it: 4·h − r·h.
     */
    static long normScaleDelta(ModelSpec m, int r) {
        return m.norms().fp32Scale() ? (4L - r) * m.hiddenSize() : 0;
    }

    /**
     * The fp32 scale vectors (1 + w.float()) that fp32-scaled norms' mul keeps, trained or not: 4·h per hidden-size
     * norm and 4·d per q/k norm, per layer and independent of the tokens (measured: validation/activations).
     */
    public static long scaleVectors(ModelSpec m) {
        if (!m.norms().fp32Scale()) {
            return 0;
        }
        boolean qkNorm = m.attention() instanceof Attention.Standard st && st.qkNorm();
        long d = m.attention() instanceof Attention.Standard st ? st.headDim() : 0;
        return 4L * m.hiddenSize() * m.norms().perLayer() + (qkNorm ? 2 * 4L * d : 0);
    }

    /** An HF model compiled whole with torch.compile (the Trainer's torch_compile), not Liger's kernels. */
    static boolean hfCompiled(Workload w) {
        return w.framework() == org.gpuplan.workload.Framework.HF && w.perf().compile();
    }

    /** torch.compile or Liger fuse the RMSNorms and the gated MLP of Llama-style blocks (see {@link #training}). */
    static boolean compileFusesNorms(ModelSpec m, Workload w) {
        return w.perf().fusedKernels() && m.mlp() != null;
    }

    public static Saved training(ModelSpec m, Workload w) {
        long b = w.batchSize();
        long s = w.seqLen();
        long n = b * s;
        int c = w.precision().computeBytes();
        boolean mixed = w.precision().mixed();
        int e = w.precision().weightBytes() == 4 && !mixed ? 4 : (mixed ? 4 : 2);
        // k-bit training (peft prepare_model_for_kbit_training) upcasts the embeddings to fp32, so the residual
        // stream, and with it every norm input and checkpointed layer input, is fp32
        int r = w.precision().weightBytes() == 4 || WeightMemory.kbitUpcast(w) ? 4 : c;
        boolean full = w.method() == Method.FULL;
        BlockActivations.Profile profile = BlockActivations.Profile.CUDA;
        Layers perLayer;
        java.util.function.Supplier<String> formula;
        long shared = 0;
        long outside;
        long h = m.hiddenSize();
        long adapters = full ? 0 : Bytes.ceil(adapterInputs(m, w) * n);
        if (m.family() == Family.GPT2 || m.family() == Family.GPT_NEOX || m.family() == Family.GPT_BIGCODE
                || m.family().isEncoder()) {
            long a = m.attention().numHeads();
            long f = m.mlp().intermediateSize();
            double dropout = m.dropout();
            BlockActivations.Shape shape = new BlockActivations.Shape(b, s, h, a, a, h / a, f, e, mixed, dropout,
                    w.attention(), full, w.paddingMask());
            BlockActivations.Saved block = BlockActivations.gpt2(shape, profile);
            long layer = block.total();
            // a one-kernel GELU (erf, gelu_pytorch_tanh) keeps only its 16-bit input, the next projection its output
            // (2·c per element) instead of gelu_new's tensors; Megatron/Transformer Engine and torch.compile fuse the
            // activation whatever its formula
            boolean fused = w.framework() == org.gpuplan.workload.Framework.MEGATRON || w.perf().compile();
            if (!m.mlp().multiOpActivation() || fused) {
                layer -= Bytes.ceil((BlockActivations.geluNewBytes(shape, profile) - 2.0 * c) * f * n);
            }
            if (m.family().isEncoder() && mixed) {
                // BERT's separate query/key/value Linears each cast the fp32 input: two more 16-bit copies than GPT-2's
                // single c_attn (measured: validation/activations/cuda-h200.jsonl)
                layer += Bytes.ceil(2.0 * c * h * n);
            }
            if (w.attention() != AttentionImpl.EAGER) {
                // SDPA/flash keep no s² tensors: remove exactly what the eager block counted for them and add the fp32
                // log-sum-exp (4 per head) and the kernel's RNG seed and offset
                double probs = BlockActivations.probabilityBytesPerScore(shape, profile) * a * s;
                layer += Bytes.ceil(4.0 * a * n) + profile.sdpaRngBytes() - (long) Math.floor(probs * n);
            }
            layer += adapters / Math.max(1, m.numLayers());
            perLayer = new Layers(m, layer, layer);
            long layerBytes = layer;
            formula = () -> String.format(Locale.ROOT, "%d blocks × %s (%s block: LayerNorms, q/k/v, %s, dropout "
                    + "masks, MLP; derivation in validation/activations/README.md)%s", m.numLayers(),
                    Bytes.mib(layerBytes), m.family().modelType(), attentionLabel(w), adapters > 0
                            ? " incl. LoRA adapter inputs" + (w.useDora() ? " and DoRA's base and adapter outputs" : "")
                            : "");
            outside = Bytes.ceil(n * ((dropout > 0 ? 1 : 0) * h + r * h + 8 + c * h));
        } else {
            Attention att = m.attention();
            long a = att.numHeads();
            long g = att instanceof Attention.Standard st ? st.numKvHeads() : a;
            long d = att instanceof Attention.Standard st ? st.headDim()
                    : ((Attention.Latent) att).qkHeadDim();
            long dense = m.mlp() == null ? 0 : m.mlp().intermediateSize();
            boolean fp32Stream = mixed || WeightMemory.kbitUpcast(w);
            BlockActivations.Saved denseBlock = BlockActivations.llama(new BlockActivations.Shape(b, s, h, a, g, d,
                    dense, e, fp32Stream, 0, w.attention(), full, w.paddingMask()), profile);
            // the block without its MLP: the base of MoE layers and the attention a linear-attention layer replaces
            BlockActivations.Shape withoutMlp = new BlockActivations.Shape(b, s, h, a, g, d, 0, e, fp32Stream, 0,
                    w.attention(), full, w.paddingMask());
            BlockActivations.Saved moeBase = BlockActivations.llama(withoutMlp, profile);
            // a trainable norm weight keeps the normalised tensor it multiplies: in the residual dtype (Llama casts
            // first), or fp32 where the scale (1 + w) is applied in fp32 (Gemma, Qwen3-Next)
            int scaled = m.norms().fp32Scale() ? 4 : r;
            long extraNorms = (m.norms().perLayer() - 2L) * Bytes.ceil((4.0 * h + 4 + (full ? scaled * h : 0)) * n);
            long fp32Scale = full ? normScaleDelta(m, r) * 2 * n : 0;
            long scaleVectors = scaleVectors(m);
            long qk = 0;
            if (att instanceof Attention.Standard st && st.qkNorm()) {
                // fp32 upcasts of q and k plus one rstd per normalized row: per head, or per token when the norm
                // spans the whole projection (OLMo 2)
                double rstd = st.qkNormFull() ? 8.0 : 4.0 * (a + g);
                int qkScaled = m.norms().fp32Scale() ? 4 : c;
                qk = Bytes.ceil((4.0 * (a + g) * d + rstd + (full ? qkScaled * (a + g) * (double) d : 0)) * n);
            }
            // Gemma 2's eager attention caps the scores (cap·tanh(scores / cap)): tanh keeps its output, c per score
            long softcap = att instanceof Attention.Standard st && st.logitSoftcap()
                    && w.attention() == AttentionImpl.EAGER ? Bytes.ceil((double) c * a * s * n) : 0;
            long gate = 0;
            if (att instanceof Attention.Standard st && st.outputGate()) {
                // output = attention · sigmoid(gate): sigmoid keeps its output (c·a·d); the product is o_proj's input
                // when o_proj trains (eager: the contiguous attention output, otherwise not kept, is mul's input)
                gate = Bytes.ceil((double) c * a * d * (full || w.attention() == AttentionImpl.EAGER ? 2 : 1) * n);
            }
            long linearDelta = linearMixerDelta(m, w, withoutMlp, profile, c) - qk - gate;
            long latent = 0;
            if (att instanceof Attention.Latent l) {
                latent = Bytes.ceil((c * (double) (l.qLoraRank() + l.kvLoraRank() + l.qkRopeHeadDim())
                        + 4.0 * (l.qLoraRank() + l.kvLoraRank()) + 8) * n);
            }
            long moeBytes = m.moe() == null ? 0 : Bytes.ceil(moe(m.moe(), h, c, full) * n);
            long adaptersPerLayer = adapters / Math.max(1, m.numLayers());
            long common = extraNorms + fp32Scale + scaleVectors + softcap + qk + gate + latent + adaptersPerLayer
                    + torchtuneAttentionDelta(m, w, c);
            long fusedNorms = 0;
            long fusedDense = 0;
            long fusedMoe = 0;
            if (compileFusesNorms(m, w)) {
                // torch.compile (Inductor) and Liger fuse each RMSNorm into one kernel that keeps its input and rstd:
                // the fp32 upcast and the normalised copy eager autograd keeps (4·h) are never materialised; the fused
                // SwiGLU keeps gate and up and recomputes SiLU(gate) in backward (c·f)
                fusedNorms = Bytes.ceil(4.0 * h * m.norms().perLayer() * n)
                        + (full ? normScaleDelta(m, r) * m.norms().perLayer() * n : 0) + scaleVectors;
                if (hfCompiled(w) && full) {
                    // HF model compiled whole (Trainer torch_compile), full fine-tuning: Inductor's partitioner still
                    // saves one fp32 h-wide tensor per layer (measured on an H200:
                    // calibration/results/h200-2026-11-26-compile.jsonl; LoRA under compile not measured)
                    fusedNorms -= Bytes.ceil(4.0 * h * n);
                }
                fusedDense = Bytes.ceil((double) c * dense * n);
                fusedMoe = m.moe() == null ? 0 : Bytes.ceil((double) c * m.moe().expertIntermediateSize()
                        * m.moe().topK() * n);
            }
            perLayer = new Layers(m, denseBlock.total() + common - fusedNorms - fusedDense,
                    moeBase.total() + moeBytes + common - fusedNorms - fusedMoe, linearDelta);
            long sandwich = extraNorms;
            String gemma = (fp32Scale > 0 ? "; norms scaling by (1 + w) in fp32 keep an fp32 normalised copy "
                    + "(4·h − r·h more each) " + Bytes.mib(fp32Scale) + " for the two pre-norms" : "")
                    + (softcap > 0 ? "; capped attention scores (tanh output c·a·s) " + Bytes.mib(softcap) : "");
            formula = () -> String.format(Locale.ROOT, "per dense layer %s for %,d tokens (Llama-style block: RMSNorms "
                            + "with fp32 input, %s, %s; derivation and byte-exact check in "
                            + "validation/activations/README.md)%s%s%s", Bytes.mib(denseBlock.total()), n,
                    attentionLabel(w), full ? "MLP 4·c·f" : "frozen base: MLP 3·c·f, no Linear inputs",
                    m.moe() != null ? String.format(Locale.ROOT, "; MoE layers %s (router fp32 4·E, per routed "
                            + "token gathered input, expert MLP and weighted output)", Bytes.mib(moeBase.total()
                            + moeBytes)) : "",
                    (sandwich > 0 ? "; sandwich norms " + Bytes.mib(sandwich) : "") + gemma + (m.linearLayerCount() > 0
                            ? String.format(Locale.ROOT, "; %d Gated DeltaNet layers %s %s each than a softmax-"
                            + "attention layer: their mixer keeps c·(C + 2K + 3V + 65·Hv) + 8·Hk + 8·Hv%s = %,.0f B "
                            + "per token (C %d, K %d, V %d, Hk %d, Hv %d: conv input, L2-normed q/k, v, gates, WY "
                            + "matrix A, gated-norm inputs; flash-linear-attention fast path) in place of the "
                            + "attention's", m.linearLayerCount(), Bytes.mib(Math.abs(linearDelta)),
                            linearDelta >= 0 ? "more" : "less", full ? " + 4·Hv + c·V" : "",
                            BlockActivations.gatedDeltaNetPerToken(m.linearAttention(), c, full),
                            m.linearAttention().convDim(), m.linearAttention().keyDim(),
                            m.linearAttention().valueDim(), m.linearAttention().numKeyHeads(),
                            m.linearAttention().numValueHeads()) : ""),
                    adapters > 0 ? "; LoRA adapter inputs (fp32 copies + r-wide outputs" + (w.useDora()
                            ? "; DoRA's base and adapter outputs" : "") + ") " + Bytes.mib(adapters) + " in total" : "");
            if (att instanceof Attention.Standard st) {
                shared += Bytes.ceil(2.0 * c * st.headDim() * s); // RoPE cos and sin [1, s, d], shared by layers
            }
            if (w.paddingMask() && !w.attention().flashKernel()
                    && w.framework() != org.gpuplan.workload.Framework.TORCHTUNE) {
                shared += Bytes.ceil((double) c * b * s * s); // padded batch: 4-D mask [b,1,s,s], one copy
            }
            // a trainable LM head (full fine-tuning, or PEFT modules_to_save) keeps its input for its weight gradient
            double headInput = full ? r * h + normScaleDelta(m, r) + c * h : LoraAdapters.headSaved(m, w)
                    ? (WeightMemory.kbitUpcast(w) ? 4.0 : c) * h : 0;
            outside = Bytes.ceil(n * (4.0 * h + 4 + headInput));
        }
        long layersTotal = perLayer.sum();
        long maxLayer = perLayer.max();
        long recompute = 0;
        if (w.checkpointing() == Checkpointing.FULL) {
            recompute = maxLayer;
            layersTotal = Bytes.ceil((double) r * h * n * m.numLayers());
            java.util.function.Supplier<String> without = formula;
            long rebuilt = maxLayer;
            formula = () -> String.format(Locale.ROOT, "full checkpointing: each of %d layers keeps its input r·h "
                    + "× %,d tokens; one layer (%s) is rebuilt at a time in backward. Without checkpointing: %s",
                    m.numLayers(), n, Bytes.gib(rebuilt), without.get());
        } else if (w.checkpointing() == Checkpointing.SELECTIVE) {
            double core = attentionCoreBytes(m, w, c, s) * n;
            layersTotal = Math.max(0, layersTotal - Bytes.ceil(core * m.attentionLayerCount()));
            recompute = Bytes.ceil(core);
            java.util.function.Supplier<String> kept = formula;
            formula = () -> kept.get() + "; selective checkpointing recomputes the attention core (its saved tensors "
                    + "are dropped)";
        }
        long host = 0;
        if (w.activationOffloading()) {
            // torchtune OffloadActivations (training/_activation_offloading.py): every tensor the layers save moves to
            // pinned host memory on a side stream during forward and comes back one layer ahead of its backward, so
            // about two layers' worth stay on the GPU: the one running and the one in transit
            long kept = Math.min(layersTotal, OFFLOAD_LAYERS_ON_GPU * Bytes.ceil((double) layersTotal
                    / m.numLayers()));
            host = layersTotal - kept;
            layersTotal = kept;
            java.util.function.Supplier<String> onGpu = formula;
            long hostBytes = host;
            formula = () -> onGpu.get() + "; activation offloading: " + Bytes.gib(hostBytes) + " of them wait in "
                    + "host memory, two layers' worth stay on the GPU";
        }
        Loss loss = loss(m, w, w.logitTokens(), c, full);
        long lossSaved = loss.saved();
        long lossForward = loss.forward();
        long lossBackward = loss.backward();
        long ffn = m.mlp() != null ? m.mlp().intermediateSize()
                : (long) m.moe().expertIntermediateSize() * m.moe().topK();
        double largest = Math.max((double) c * n * ffn, w.attention() == AttentionImpl.EAGER
                ? 4.0 * b * m.attention().numHeads() * s * s : 0);
        long working = Bytes.ceil(2 * largest);
        return new Saved(perLayer, layersTotal, outside + lossSaved, shared, recompute, lossForward, lossBackward,
                working, formula, host);
    }

    /**
     * Saved bytes by which one Gated DeltaNet layer differs from the softmax-attention layer {@link BlockActivations}
     * counts: its mixer's tensors ({@link BlockActivations#gatedDeltaNetPerToken}) replace the attention's, and under
     * autocast the fp32 norm output is cast once per input projection (four, or two fused in Qwen3-Next) instead of
     * three (q, k, v). 0 for models without linear attention.
     */
    static long linearMixerDelta(ModelSpec m, Workload w, BlockActivations.Shape attention,
                                 BlockActivations.Profile profile, int c) {
        if (m.linearAttention() == null || m.linearLayerCount() == 0) {
            return 0;
        }
        var gdn = m.linearAttention();
        double perToken = BlockActivations.gatedDeltaNetPerToken(gdn, c, attention.trainable())
                - BlockActivations.attentionPerToken(attention, profile);
        if (attention.trainable() && attention.autocast()) {
            perToken += ((gdn.fusedProjections() ? 2 : 4) - 3) * (double) c * m.hiddenSize();
        }
        // signed: a linear-attention layer can keep less than the attention layer it replaces (eager s² terms)
        return (long) Math.ceil(perToken * attention.n()) - BlockActivations.attentionConstant(attention, profile);
    }

    /** What the linear-attention layers' saved tensors assume, for models that have them. */
    static java.util.Optional<String> linearAttentionAssumption(ModelSpec m) {
        return m.linearLayerCount() == 0 ? java.util.Optional.empty() : java.util.Optional.of("Gated DeltaNet layers "
                + "take the fast path (flash-linear-attention ≥ 0.5 and causal-conv1d installed, as transformers "
                + "recommends): derived from the kernels' saved tensors, not yet checked against a measurement; "
                + "transformers' pure-PyTorch fallback keeps fp32 chunk tensors and needs several times more");
    }

    /**
     * LoRA keeps, per adapted Linear and token, an fp32 copy of the input (PEFT casts x to the adapter dtype) saved by
     * lora_A and the r-wide fp32 lora_A output saved by lora_B: 4·in + 4·r bytes. lora_dropout adds its 1-byte mask
     * (and, where the input is not cast, the dropped copy). DoRA's output, (m/‖W+sBA‖ − 1)·base + m/‖W+sBA‖·s·lora,
     * keeps both products' inputs for the magnitude's gradient: the base output (c bytes; recomputed in the adapter
     * dtype from the dropped input when lora_dropout > 0) and the adapter output (adapter dtype) per output feature.
     */
    static double adapterInputs(ModelSpec m, Workload w) {
        long r = w.loraRank();
        // DeepSpeed, Megatron, torchtune and FSDP mixed precision run adapters in the 16-bit model dtype: lora_A saves
        // the shared 16-bit input, so only the r-wide outputs are added
        boolean sixteenBit = w.framework() == org.gpuplan.workload.Framework.DEEPSPEED
                || w.framework() == org.gpuplan.workload.Framework.TORCHTUNE
                || w.framework() == org.gpuplan.workload.Framework.MEGATRON
                || w.parallelism().fsdp() != org.gpuplan.workload.Parallelism.FsdpMode.NONE
                && w.parallelism().fsdp() != org.gpuplan.workload.Parallelism.FsdpMode.NO_SHARD;
        double perToken = 0;
        for (LinearModule lm : LoraAdapters.targets(m, w)) {
            double share = lm.expert() && m.moe() != null ? m.moe().topK() / (double) m.moe().numExperts() : 1;
            double ab = sixteenBit ? 2.0 : 4.0;
            double dropout = w.loraDropout() > 0 ? (sixteenBit ? w.precision().computeBytes() + 1.0 : 1.0) * lm.in() : 0;
            double dora = w.useDora() ? (ab + (w.loraDropout() > 0 ? ab : w.precision().computeBytes())) * lm.out()
                    : 0;
            perToken += ((sixteenBit ? 0 : 4.0 * lm.in()) + ab * r + dropout + dora) * lm.count() * share;
        }
        return perToken;
    }

    /** What the loss keeps for backward and its transients at the end of forward and the start of backward. */
    record Loss(long saved, long forward, long backward) {
    }

    /**
     * The loss region of one micro-batch of n tokens with V logits each (c the compute dtype's bytes):
     * <ul>
     * <li>eager: the fp32 log-softmax is saved (4·V; ToCopyBackward keeps nothing); forward holds the c-byte logits and
     * their fp32 copy, (c + 4)·V; backward starts with the log-softmax gradient and the input gradient, 8·V; under
     * loss_parallel (torchtitan with TP) the decomposed log-softmax holds 8·V more in forward and 12·V in backward;</li>
     * <li>compiled: the fused kernel saves only its c-byte input and a per-row fp32 log-sum-exp (c·V + 4); backward
     * writes one c-byte logits gradient;</li>
     * <li>chunked (torchtune, 8 chunks): every chunk's fp32 log-softmax is saved (4·V); the logits (c·V) and one chunk's
     * fp32 copy are alive in forward; backward runs chunk by chunk, (8 + c)·V / 8;</li>
     * <li>fused-linear (Liger FLCE): the input gradient (c·h) and, for a trainable LM head, the weight gradient are
     * computed in forward and kept; one chunk of logits exists at a time, chunk = next power of two of
     * n / ⌈V/h⌉ (ops/fused_linear_cross_entropy.py); nothing is left for backward but scaling the saved gradient.</li>
     * </ul>
     */
    static Loss loss(ModelSpec m, Workload w, long n, int c, boolean full) {
        long v = lossWidth(m);
        double logits = (double) v * n;
        // Gemma 2 caps the logits in the model's forward (cap·tanh(logits / cap)) before any loss sees them: tanh
        // keeps its output, c per logit, until backward reaches it
        double softcap = m.head() instanceof Head.CausalLm lm && lm.logitSoftcap() ? c * logits : 0;
        return switch (w.lossImpl()) {
            case EAGER -> new Loss(Bytes.ceil(4 * logits + softcap), Bytes.ceil((c + 4) * logits),
                    Bytes.ceil(8 * logits));
            // torchtune's unchunked TransformerDecoder returns fp32 logits (output(h).float()): its compiled loss keeps
            // that fp32 input; the c-byte logits exist only while they are upcast
            case COMPILED -> w.framework() == org.gpuplan.workload.Framework.TORCHTUNE
                    ? new Loss(Bytes.ceil(4 * logits + 4.0 * n), Bytes.ceil(c * logits), Bytes.ceil((4 + c) * logits))
                    // an HF model compiled whole computes the loss in its compiled forward; its backward holds two
                    // c-byte logits-sized buffers at once (measured: calibration/results/h200-2026-11-26-compile.jsonl)
                    : new Loss(Bytes.ceil(c * logits + 4.0 * n), 0, Bytes.ceil((hfCompiled(w) ? 2 : 1) * c * logits));
            // torchtune compiles compute_cross_entropy with compile=True: each chunk's upcast and loss fuse into one
            // kernel that keeps the c-byte chunk and its log-sum-exp, and backward writes one chunk's c-byte gradient
            case CHUNKED -> w.perf().compile()
                    ? new Loss(Bytes.ceil(c * logits + 4.0 * n), 0, Bytes.ceil(c * logits / LOSS_CHUNKS))
                    : new Loss(Bytes.ceil(4 * logits), Bytes.ceil(c * logits + 4 * logits / LOSS_CHUNKS),
                    Bytes.ceil((8 + c) * logits / LOSS_CHUNKS));
            case ROWWISE -> new Loss(Bytes.ceil(c * logits + softcap), Bytes.ceil(c * logits),
                    Bytes.ceil(2.0 * c * logits));
            case FUSED_LINEAR -> {
                long h = m.hiddenSize();
                long chunk = Math.min(n, nextPowerOfTwo(ceilDiv(n, ceilDiv(v, h))));
                double lmHeadGrad = full ? (double) v * h * w.precision().weightBytes() : 0;
                yield new Loss(Bytes.ceil((double) c * h * n + lmHeadGrad + 4.0 * n), Bytes.ceil((double) c * v
                        * chunk), 0);
            }
        };
    }

    /**
     * Whether the cross-entropy runs under PyTorch's loss_parallel: torchtitan (FSDP2 + DTensor tensor parallelism)
     * keeps the LM head's output sharded over the vocabulary and enables it whenever TP is on (its default).
     */
    static boolean lossParallel(Workload w, int tp) {
        return w.framework() == org.gpuplan.workload.Framework.FSDP && tp > 1
                && w.lossImpl() == org.gpuplan.workload.LossImpl.EAGER;
    }

    /**
     * The loss region under loss_parallel for the given number of local logits (tokens × V / TP): log-softmax runs
     * as its decomposition on the vocab shard (x − max, exp, sum; torch/distributed/tensor/parallel/loss.py), so
     * forward holds the fp32 input and the shifted copy beside exp(shifted) or the output (12 bytes per logit); the
     * backward fuses NLL and log-softmax as (zeros + exp(out)) · grad beside the saved output (16 bytes per logit).
     */
    static Loss lossParallel(double localLogits) {
        return new Loss(Bytes.ceil(4 * localLogits), Bytes.ceil(8 * localLogits), Bytes.ceil(12 * localLogits));
    }

    /**
     * torchtune's MultiHeadAttention (modules/attention.py) expands K and V to all query heads before the attention
     * call and passes no padding mask (packed or causal batches): relative to the transformers block, add the
     * repeated K/V copies where transformers uses native GQA (one sequence, or flash), and drop the additive mask copy
     * SDPA keeps where transformers pads a batch.
     */
    static long torchtuneAttentionDelta(ModelSpec m, Workload w, int c) {
        if (w.framework() != org.gpuplan.workload.Framework.TORCHTUNE || w.attention() == AttentionImpl.EAGER
                || !(m.attention() instanceof Attention.Standard st)) {
            return 0;
        }
        long n = (long) w.batchSize() * w.seqLen();
        boolean hfRepeats = w.attention() == AttentionImpl.SDPA && w.paddingMask();
        if (hfRepeats) {
            return -Bytes.ceil((double) c * w.seqLen() * n);
        }
        return Bytes.ceil(2.0 * c * (st.numHeads() - st.numKvHeads()) * st.headDim() * n);
    }

    /** What the loss keeps, in words, for the workload's loss implementation and compile setting. */
    public static String lossDescription(Workload w) {
        if (lossParallel(w, w.parallelism().tp())) {
            return "vocab-parallel cross-entropy (PyTorch loss_parallel, logits sharded over TP): saved fp32 "
                    + "log-softmax (4·V per token); forward holds the fp32 logits and the shifted copy (8·V), backward "
                    + "three fp32 buffers (12·V)";
        }
        if (w.lossImpl() == org.gpuplan.workload.LossImpl.COMPILED && hfCompiled(w)) {
            return "compiled cross-entropy inside the compiled model: the 16-bit logits kept for backward (c·V per "
                    + "token), two 16-bit logits-sized buffers at backward";
        }
        return w.lossImpl() == org.gpuplan.workload.LossImpl.CHUNKED && w.perf().compile()
                ? "chunked cross-entropy (8 chunks, torchtune) compiled: each chunk's 16-bit logits and log-sum-exp "
                + "kept, one chunk's gradient at a time in backward"
                : w.lossImpl().description();
    }

    /** The smallest power of two ≥ x (triton.next_power_of_2). */
    static long nextPowerOfTwo(long x) {
        return x <= 1 ? 1 : Long.highestOneBit(x - 1) << 1;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
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

    /**
     * Whether selective checkpointing is torchtitan's op-level kind (FSDP framework, a Llama-style block: every second
     * matmul output kept, the rest re-run) rather than Megatron's (the attention core re-run; also what gpuplan
     * assumes for the other frameworks, which have no selective mode of their own).
     */
    public static boolean opLevelSelective(ModelSpec m, org.gpuplan.workload.Framework framework,
                                           Checkpointing checkpointing) {
        return framework == org.gpuplan.workload.Framework.FSDP && checkpointing == Checkpointing.SELECTIVE
                && m.attention() instanceof Attention.Standard && m.mlp() != null;
    }

    private static double attentionCoreBytes(ModelSpec m, Workload w, int c, long s) {
        long a = m.attention().numHeads();
        if (w.attention() == AttentionImpl.EAGER) {
            boolean capped = m.attention() instanceof Attention.Standard st && st.logitSoftcap();
            return (4.0 + c + (capped ? c : 0)) * a * s;
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
            case FLASH1 -> "flash1: log-sum-exp kept";
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

    /**
     * Activation bytes of a serving engine's forward over {@code tokens} tokens on one of {@code tp} tensor-parallel
     * ranks (vLLM's profile run, fused kernels, no autograd): the residual stream and the normed hidden state, c·2h,
     * are whole on every rank, plus the largest block's transients:
     * <ul>
     * <li>attention: qkv c·(q + 2kv)/tp, the attention output c·q/tp, o_proj's output c·h (before its all-reduce);
     * MLA's prefill expands the latent to per-head K and V (vLLM MLACommonImpl._forward_prefill): q, k and the
     * V padded to the q/k head dim, a'·d_qk each, the kv_b_proj output a'·(d_nope + d_v), the down-projections and
     * the output;</li>
     * <li>dense MLP: gate_up c·2f/tp, the activation c·f/tp, down's output c·h;</li>
     * <li>MoE (fused_moe): the shared experts' output c·h, the intermediate caches c·k·(max(2I/tp, h) + I/tp) (cache1
     * and cache3 share one buffer, cache2 apart; fused_moe.py fused_experts_impl) and the experts' output c·h; the
     * cache3 rows are hidden-wide, so they do not shrink with TP.</li>
     * </ul>
     */
    public static long servingForward(ModelSpec m, long tokens, int c, int tp) {
        long h = m.hiddenSize();
        double attention;
        if (m.attention() instanceof Attention.Latent l) {
            double heads = (double) l.numHeads() / tp;
            attention = (l.qLoraRank() > 0 ? l.qLoraRank() : 0) + l.kvLoraRank() + l.qkRopeHeadDim()
                    + heads * (l.qkNopeHeadDim() + l.vHeadDim()) + 4 * heads * l.qkHeadDim() + h;
        } else {
            Attention.Standard st = (Attention.Standard) m.attention();
            double q = (double) st.numHeads() * st.headDim();
            double kv = (double) st.numKvHeads() * st.headDim();
            attention = (q + 2 * kv) / tp + q / tp + h;
        }
        double mlp = m.mlp() != null ? 3.0 * m.mlp().intermediateSize() / tp + h : 0;
        double moe = 0;
        if (m.moe() != null) {
            double i = (double) m.moe().expertIntermediateSize() / tp;
            moe = 2.0 * h + m.moe().topK() * (Math.max(2 * i, h) + i);
        }
        double perToken = c * (2.0 * h + Math.max(attention, Math.max(mlp, moe)));
        return Bytes.ceil(tokens * perToken);
    }

    /** Whether weights are fp32 under this precision (autocast keeps compute-dtype copies of them). */
    static boolean fp32Weights(Precision p) {
        return p.weightBytes() == 4;
    }
}
