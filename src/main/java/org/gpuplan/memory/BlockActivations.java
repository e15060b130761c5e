package org.gpuplan.memory;

import org.gpuplan.workload.AttentionImpl;

/**
 * Bytes autograd saves for one training forward of one Transformer block, tensor by tensor, for the HF eager/SDPA
 * Llama decoder layer and the GPT-2 block. Checked byte for byte against the measured saved tensors of both blocks in
 * {@code validation/activations/measured.json} (see its README for the derivation of every term).
 */
public final class BlockActivations {

    /**
     * How the PyTorch build saves a few tensors.
     *
     * @param meanSavesInput   {@code mean(dim)} keeps its whole input for backward (torch 1.13), so RMSNorm also
     *                         saves x² (4·h per token); current PyTorch keeps only the sizes
     * @param dropoutNoiseBytes bytes per element of what dropout keeps: the scaled noise in the tensor's dtype on
     *                         CPU (0 = same as the tensor), a bool mask (1 byte) on CUDA
     * @param layerNormStatsBytes bytes of LayerNorm's saved mean and rstd per token: fp32 on CUDA (4 each),
     *                         the input dtype on CPU (0 = element bytes)
     * @param autocastSoftmaxFp32 whether autocast runs softmax in fp32 (CUDA yes, CPU no)
     * @param autocastPowFp32  whether autocast runs pow in fp32 (CUDA yes: gelu_new then keeps fp32 tensors)
     * @param eagerScaleTensor the eager Llama path keeps its attention scale as an 8-byte tensor (the transformers
     *                         code measured on CPU did; current transformers passes a Python float)
     * @param sdpaRngBytes     bytes SDPA keeps beside its tensors: the CUDA kernels save a Philox seed and offset
     *                         (two int64) even without dropout
     */
    public record Profile(boolean meanSavesInput, int dropoutNoiseBytes, int layerNormStatsBytes,
                          boolean autocastSoftmaxFp32, boolean autocastPowFp32, boolean eagerScaleTensor,
                          int sdpaRngBytes) {
        /**
         * CUDA with current PyTorch: what the estimator predicts. Checked against the real transformers layers on
         * an H200 (torch 2.11, transformers 5.17): validation/activations/cuda-h200.jsonl.
         */
        public static final Profile CUDA = new Profile(false, 1, 4, true, true, false, 16);
        /** CPU with torch 1.13: what the committed measurement ran on. */
        public static final Profile CPU_TORCH_1_13 = new Profile(true, 0, 0, false, false, true, 0);
    }

    /**
     * One block's shape and dtypes.
     *
     * @param e          element bytes of weights and activations without autocast (4 fp32, 2 bf16/fp16)
     * @param autocast   fp32 weights under bf16/fp16 autocast (compute in 2 bytes, residual stream in fp32)
     * @param dropout    dropout probability of the block (GPT-2 trains with 0.1; Llama with 0.0)
     * @param trainable  the block's weights get gradients (full fine-tuning); frozen LoRA bases save less
     */
    public record Shape(long b, long s, long h, long a, long g, long d, long f, int e, boolean autocast,
                        double dropout, AttentionImpl attention, boolean trainable, boolean padded) {

        /** A batch of more than one sequence is taken as padded (HF's collators), as measured. */
        public Shape(long b, long s, long h, long a, long g, long d, long f, int e, boolean autocast, double dropout,
                     AttentionImpl attention, boolean trainable) {
            this(b, s, h, a, g, d, f, e, autocast, dropout, attention, trainable, b > 1);
        }

        long n() {
            return b * s;
        }
    }

    /** Saved bytes of one block, split as the measurement reports them. */
    public record Saved(long excludingInput, long input) {
        public long total() {
            return excludingInput + input;
        }
    }

    private BlockActivations() {
    }

    /**
     * LlamaDecoderLayer: RMSNorm (fp32 upcast), q/k/v/o projections, RoPE, repeat_kv, attention, SwiGLU MLP.
     * Per token (full training, no autocast, e bytes, δ = 1 when e ≠ 4): each RMSNorm keeps its fp32 input (4h; for
     * the first norm in fp32 this is the block input itself), rstd (4), the normalised x (e·h) and its output (e·h);
     * eager attention keeps q, K and V repeated to all heads (3·e·h), the fp32 softmax (4·a·s) and its cast
     * (δ·e·a·s), the o_proj input (e·h); the MLP keeps gate, SiLU, up and product (4·e·f).
     */
    public static Saved llama(Shape x, Profile p) {
        int c = x.autocast() ? 2 : x.e();
        boolean fp32Residual = x.autocast() || x.e() == 4;
        int r = fp32Residual ? 4 : x.e();
        double h = x.h();
        double quirk = p.meanSavesInput() ? 4 * h : 0;
        // norm 1: the fp32 input is the block input when the residual stream is fp32 (reported as input)
        double norm1 = (fp32Residual ? 0 : 4 * h) + quirk + 4;
        double norm2 = 4 * h + quirk + 4;
        if (x.trainable()) {
            norm1 += r * h + (x.autocast() ? 3 * c * h : c * h); // autocast casts the input once per q/k/v Linear
            norm2 += r * h + (x.autocast() ? 2 * c * h : c * h); // ... and per gate/up Linear
        }
        double attn = attentionPerToken(x, p);
        double mlp = (x.trainable() ? 4 : 3) * c * (double) x.f();
        double perToken = norm1 + norm2 + attn + mlp;
        long constant = attentionConstant(x, p);
        long input = fp32Residual ? Bytes.ceil(4 * h * x.n()) : 0;
        return new Saved(Bytes.ceil(perToken * x.n()) + constant, input);
    }

    /**
     * Bytes per token one Gated DeltaNet mixer (Qwen3-Next / Qwen3.5 linear-attention layer) saves on the fast path
     * transformers takes when flash-linear-attention (FLA, 0.5 or later: grouped value heads) and causal-conv1d are
     * installed. K = key width, V = value width, C = 2K + V conv channels, Hk key heads, Hv value heads, c the compute
     * dtype's bytes:
     * <ul>
     * <li>causal_conv1d_fn keeps its input, the in_proj_qkv output: c·C (the conv+SiLU output is copied into q, k, v
     * and freed);</li>
     * <li>the gate g = −exp(A_log)·softplus(a + dt_bias) runs in fp32: softplus keeps its input (4·Hv) and, when A_log
     * trains, mul keeps softplus' output (4·Hv);</li>
     * <li>ChunkGatedDeltaRuleFunction (fla/ops/gated_delta_rule/chunk.py) saves the L2-normalised q and k with their
     * fp32 rstd (c·K + 4·Hk each), v (c·V), the fp32 chunk-cumulated gate (4·Hv), beta = sigmoid(b) (c·Hv, also what
     * sigmoid keeps) and the WY matrix A [tokens, Hv, 64] in the input dtype (64·c·Hv); the chunk states h are
     * recomputed in backward;</li>
     * <li>FusedRMSNormGated (fla/modules/fused_norm_gate.py) saves the delta-rule output (c·V), the gate z (c·V) and
     * the fp32 rstd per value head (4·Hv); out_proj keeps the normalised output (c·V) when it trains.</li>
     * </ul>
     * Total: c·(C + 2K + 3V + 65·Hv) + 8·Hk + 8·Hv, plus 4·Hv + c·V for full training. The pure-PyTorch fallback
     * (no FLA) keeps fp32 chunk tensors and needs several times more.
     */
    public static double gatedDeltaNetPerToken(org.gpuplan.model.GatedDeltaNet g, int c, boolean trainable) {
        double k = g.keyDim();
        double v = g.valueDim();
        double hk = g.numKeyHeads();
        double hv = g.numValueHeads();
        double perToken = c * (g.convDim() + 2 * k + 3 * v + 65 * hv) + 8 * hk + 8 * hv;
        return perToken + (trainable ? 4 * hv + c * v : 0);
    }

    /**
     * Bytes per token the softmax-attention part of {@link #llama} counts (everything between the first norm's
     * output and o_proj), so that a layer with another token mixer can swap it out.
     */
    static double attentionPerToken(Shape x, Profile p) {
        int c = x.autocast() ? 2 : x.e();
        double qd = (double) x.a() * x.d();
        boolean repeat = sdpaRepeats(x);
        if (savesProbabilities(x)) {
            // q, K and V repeated to all heads, the fp32 softmax (softmax(dtype=torch.float32) is explicit in
            // eager_attention_forward) and its cast, the o_proj input when o_proj trains
            double probs = 4 + (c != 4 ? c : 0);
            return 3 * c * qd + probs * x.a() * x.s() + (x.trainable() ? c * qd : 0);
        }
        // q, K and V (repeated to all heads when a 4-D mask is passed), the output (allocated [b, s, heads, d]: the
        // o_proj input is a view of it) and the fp32 log-sum-exp; with a padded batch SDPA keeps the mask [b, 1, s, s]
        // for backward as its own additive copy in the query's dtype, one per layer (measured on CUDA for fp32, bf16
        // and autocast; the eager path keeps none)
        double kv = 2.0 * (repeat ? x.a() : x.g()) * x.d();
        return c * (qd + kv) + c * qd + 4.0 * x.a() + (repeat ? c * (double) x.s() : 0);
    }

    /** Bytes the attention keeps beside its per-token tensors (the eager scale tensor, or SDPA's RNG state). */
    static long attentionConstant(Shape x, Profile p) {
        return savesProbabilities(x) ? (p.eagerScaleTensor() ? 8 : 0) : p.sdpaRngBytes();
    }

    /** A padded batch (4-D mask) makes transformers repeat K and V to all heads before SDPA. */
    private static boolean sdpaRepeats(Shape x) {
        return x.attention() == AttentionImpl.SDPA && x.padded();
    }

    /**
     * Whether the attention keeps its s² probabilities: eager, or SDPA in fp32 without a mask, where HF asks for
     * native GQA (enable_gqa), no fp32 fused kernel takes it and PyTorch's math attention saves what eager saves.
     */
    private static boolean savesProbabilities(Shape x) {
        boolean mathFallback = x.attention() == AttentionImpl.SDPA && !sdpaRepeats(x) && !x.autocast()
                && x.e() == 4 && x.g() < x.a();
        return x.attention() == AttentionImpl.EAGER || mathFallback;
    }

    /**
     * GPT2Block (eager): LayerNorm, Conv1D c_attn, attention with dropout, c_proj, resid dropout, LayerNorm, c_fc,
     * gelu_new (keeps x, 0.5·x, tanh and 1 + tanh), c_proj, dropout. Per token without autocast: ln_1 output, q, kᵀ,
     * v copies, merged heads, ln_2 input and output (7·e·h), LayerNorm statistics (2 × 2 values), softmax output
     * (e·a·s), dropout noise and output (π·(noise + e)·a·s), two dropout noises on h, gelu 4·e·f + its output e·f.
     */
    /** Bytes the eager GPT-2 block keeps per attention score (softmax output, dropout mask and output, casts). */
    static double probabilityBytesPerScore(Shape x, Profile p) {
        boolean drop = x.dropout() > 0;
        if (!x.autocast()) {
            int e = x.e();
            double noise = p.dropoutNoiseBytes() == 0 ? e : p.dropoutNoiseBytes();
            return e + (drop ? noise + e : 0);
        }
        int c = 2;
        double noise = p.dropoutNoiseBytes() == 0 ? c : p.dropoutNoiseBytes();
        // CUDA autocast: the fp32 softmax output (4), dropout's mask, and the 16-bit probabilities the AV matmul keeps
        // (GPT-2 casts before dropout, BERT's matmul casts after it: either way one 16-bit copy)
        return p.autocastSoftmaxFp32() ? 4 + c + (drop ? noise : 0) : c + (drop ? noise + c : 0);
    }

    /**
     * Bytes per intermediate element that gelu_new (GPT-2's 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))) and the next
     * projection's input keep: without autocast x, x³, the tanh, 1 + tanh and the output (5·e); CUDA autocast runs
     * pow in fp32, so the fp32 copy of x, tanh and 1 + tanh (3 × 4), 0.5·x (2) and the output's 16-bit cast (2).
     */
    static double geluNewBytes(Shape x, Profile p) {
        return !x.autocast() ? 5.0 * x.e() : p.autocastPowFp32() ? 16 : 10;
    }

    public static Saved gpt2(Shape x, Profile p) {
        boolean drop = x.dropout() > 0;
        int e = x.e();
        double h = x.h();
        double f = x.f();
        double as = (double) x.a() * x.s();
        if (!x.autocast()) {
            double noise = p.dropoutNoiseBytes() == 0 ? e : p.dropoutNoiseBytes();
            double stats = 2 * 2 * (p.layerNormStatsBytes() == 0 ? e : p.layerNormStatsBytes());
            double perToken = 7 * e * h + (drop ? 2 * noise * h : 0) + 5 * e * f + e * as
                    + (drop ? (noise + e) * as : 0) + stats;
            // the attention scale tensor and two small index tensors of the transformers code measured on CPU
            long constant = p.eagerScaleTensor() ? e + 24 : 0;
            return new Saved(Bytes.ceil(perToken * x.n()) + constant, Bytes.ceil(e * h * x.n()));
        }
        // autocast: LayerNorm in fp32 (statistics 4 B), Conv1D inputs cast to the compute dtype, fp32 residuals
        int c = 2;
        double noise = p.dropoutNoiseBytes() == 0 ? c : p.dropoutNoiseBytes();
        // CUDA autocast runs softmax in fp32: its output (4), dropout's mask and fp32 output, and the cast to the
        // compute dtype that the probabilities-times-V matmul keeps; CPU (1.13) keeps all of it in the compute dtype
        double probs = probabilityBytesPerScore(x, p);
        double perToken = 16 * h + (drop ? 2 * noise * h : 0) + geluNewBytes(x, p) * f + probs * as + 16;
        return new Saved(Bytes.ceil(perToken * x.n()) + (p.eagerScaleTensor() ? 26 : 0), Bytes.ceil(4 * h * x.n()));
    }
}
