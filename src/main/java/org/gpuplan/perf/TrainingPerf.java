package org.gpuplan.perf;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.TensorDtype;
import org.gpuplan.memory.LoraAdapters;
import org.gpuplan.memory.ShardedTraining;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.workload.Checkpointing;
import org.gpuplan.workload.Method;
import org.gpuplan.workload.Parallelism;
import org.gpuplan.workload.TrainingLayout;
import org.gpuplan.workload.Workload;

/**
 * Training step time on one GPU or many: forward, backward and recomputation per micro-batch as per-kernel
 * rooflines, exposed TP/CP/EP communication, the pipeline bubble, data-parallel gradient and parameter traffic
 * minus what overlaps with compute, and the optimizer step.
 */
public final class TrainingPerf {

    private TrainingPerf() {
    }

    /**
     * GPU-side floor of one kernel (launch latency, a tiny grid): profiled elementwise kernels of HF training on an
     * H200 averaged 1.3–2 µs each (calibration/results/h200-2026-11-26.jsonl).
     */
    static final double GPU_KERNEL_S = 2e-6;
    /**
     * Host time to issue one kernel from eager PyTorch with autograd (Python, dispatcher, launch): small-model HF
     * steps on the H200 host were host-bound at 21–25 µs per profiled kernel (Qwen2.5-0.5B: 72 ms for 3,380
     * kernels; GPT-2: 26 ms for 1,024), 30–50 µs on a slower run of the same host; 20 µs taken.
     */
    static final double EAGER_HOST_S = 20e-6;
    /**
     * Share of the shorter of host and GPU time that does not overlap the longer: the host runs ahead of the GPU only
     * between synchronizations (the loss read back each step, the optimizer step, allocator frees), after which the
     * GPU waits while the queue refills. Fitted to the H200 calibration (8-step run): GPU-bound 7–8 B steps ran 3–5 %
     * longer than their profiled kernels, and host-bound small models about a fifth of their kernel time longer than
     * the host alone; 0.2 takes the step-time median there from 17 % to 9.5 %.
     */
    static final double HOST_GPU_EXPOSED = 0.2;

    /** A step (or a decode step) of host work issuing GPU work: the longer of the two plus the unhidden share. */
    static double overlapped(double gpu, double host) {
        return Math.max(gpu, host) + HOST_GPU_EXPOSED * Math.min(gpu, host);
    }

    /** torch.compile replays Inductor's generated wrapper: fewer kernels and a cheaper launch each. */
    static final double COMPILED_HOST_S = 5e-6;
    /**
     * Kernels the backward launches per forward kernel: autograd's derivative of an elementwise op is one to three
     * kernels, a GEMM's two. Fitted to the profiled counts: Qwen2.5-0.5B 3,380 kernels per step for 24 layers of
     * 32 forward kernels (1 + 3.3 backward, plus the optimizer and the loss).
     */
    static final double BACKWARD_KERNELS_PER_FORWARD = 3.3;

    /**
     * The cost of a candidate's passes: the forward over all layers by kernel kind, the LM head, loss, LoRA adapters,
     * eager attention scores, autocast and dropout traffic, kernel counts. Depends on the workload's method,
     * framework, precision and options and on its micro-batch, tp, cp and ep, not on the rest of the layout, so a
     * search computes it once per such combination.
     */
    public static final class Passes {
        final Roofline r;
        final Collectives c;
        final TensorDtype dtype;
        final PassCost fwdAll;
        final double tokensRank;
        final double act;
        final double weightBytes;
        final double perPassExtra;
        final double lmHead;
        final double lossFwd;
        final double lossBwd;
        final double adaptersFwd;
        final double adaptersBwd;
        final double eagerScores;
        final boolean autocast;
        final double autocastFwd;
        final double autocastBwd;
        final double dropoutPass;
        final double forwardKernels;
        final double optimizerKernels;
        final double optimizerBytes;
        final long trainable;
        final long totalParams;
        final double lmHeadFlops;

        private Passes(ModelSpec m, ParameterBreakdown p, Workload w, Gpu g, int batch, int tp, int cp, int ep) {
            boolean lora = w.method() != Method.FULL;
            dtype = matmulDtype(w);
            // Megatron uses Transformer Engine's cuDNN fused attention (FA3-class on Hopper); PyTorch SDPA runs
            // FlashAttention-2
            r = Roofline.of(g, dtype, w.perf(), GPU_KERNEL_S, w.framework() == org.gpuplan.workload.Framework.MEGATRON,
                    w.attention() == org.gpuplan.workload.AttentionImpl.FLASH1);
            c = new Collectives(g, w.perf().commEfficiency().orElse(Collectives.DEFAULT_EFFICIENCY));
            act = w.precision().computeBytes();
            weightBytes = w.method() == Method.QLORA ? 0.5 + 4.0 / 64 : act;
            tokensRank = (double) batch * w.seqLen() / cp;
            // context parallelism splits the queries (tokensRank); ring attention still brings every earlier key to
            // each query, so a query's mean key count is that of the whole sequence and each rank does 1/cp of the
            // attention
            double keys = LayerShapes.causalKeys(w.seqLen(), 0);
            double windowKeys = LayerShapes.windowKeys(m, w.seqLen());
            // Megatron runs Transformer Engine's fused kernels; PyTorch-native stacks run eager ops unless compiled
            boolean fused = w.perf().fusedKernels() || w.framework() == org.gpuplan.workload.Framework.MEGATRON;
            int chunks = w.perf().tpCommOverlap() && tp > 1 ? tp : 1;
            fwdAll = PassCost.forward(m, r, tokensRank, keys, windowKeys, 0, tp, ep, weightBytes, act, fused, 0,
                    chunks);
            // extra memory traffic per pass over the linear weights: QLoRA dequantizes each 4-bit weight to a 16-bit
            // copy (read 0.5 B + write 2 B + the GEMM reads it back, 2 B); FP8 training casts activations and weights
            // (read 2 B, write 1 B) before each GEMM
            // QLoRA also runs the residual stream, norms and their inputs in fp32 (prepare_model_for_kbit_training),
            // which doubles the elementwise traffic
            perPassExtra = (w.method() == Method.QLORA ? r.memory(fwdAll.weightElements() * 4.5)
                    + fwdAll.elementwiseS() : 0)
                    + (w.perf().float8Linear() ? r.memory(3.0 * (fwdAll.activationElements() / 2
                    + fwdAll.weightElements())) : 0);
            // the last stage also runs the LM head and the loss: a pipeline runs at its slowest stage
            lmHead = PassCost.lmHead(m, r, tokensRank, tp, act, act);
            lossFwd = lossPass(m, w, r, tokensRank, tp, false);
            lossBwd = lossPass(m, w, r, tokensRank, tp, true);
            adaptersFwd = lora ? adapterPass(m, w, r, tokensRank, tp, act, false) : 0;
            adaptersBwd = lora ? adapterPass(m, w, r, tokensRank, tp, act, true) : 0;
            eagerScores = eagerScorePass(m, w, batch, r, tp, cp);
            autocast = autocast(w);
            autocastFwd = autocast ? autocastPass(m, r, fwdAll, tokensRank, tp, fused, false, lora) : 0;
            autocastBwd = autocast ? autocastPass(m, r, fwdAll, tokensRank, tp, fused, true, lora) : 0;
            boolean dropout = LayerShapes.trainsWithDropout(m) && !fused;
            dropoutPass = dropout ? dropoutPass(m, r, tokensRank, tp) : 0;
            forwardKernels = forwardKernels(m, w, fwdAll, autocast, dropout);
            optimizerKernels = optimizerKernels(w, m);
            optimizerBytes = optimizerBytes(w);
            trainable = lora ? LoraAdapters.parameters(m, w) + LoraAdapters.savedModuleParameters(m, w)
                    : p.totalCount();
            totalParams = p.totalCount();
            lmHeadFlops = PassCost.lmHeadFlops(m, tokensRank);
        }
    }

    /** The passes of workload {@code w} at micro-batch {@code batch} over tp, cp and ep ranks. */
    public static Passes passes(ModelSpec m, ParameterBreakdown p, Workload w, Gpu g, int batch, int tp, int cp,
                                int ep) {
        return new Passes(m, p, w, g, batch, tp, cp, ep);
    }

    /**
     * One training step's times and rates, as numbers: what {@link #step} fills. Mutable so that a search can reuse
     * one per thread; the estimator wraps the numbers in explained figures.
     */
    public static final class Step {
        int micro;
        double stageShare;
        double fwd;
        double bwd;
        double recompute;
        double gemmBwdFactor;
        double tpBytes;
        int tpCollectives;
        double tpComm;
        double tpExposed;
        double cpExposed;
        double epExposed;
        double bubble;
        double gradBytes;
        boolean dpSpans;
        boolean sharded;
        boolean pipelined;
        double paramBytes;
        double reduceBytes;
        double dpComm;
        double dpExposed;
        double optimizer;
        double gpuStep;
        double passKernels;
        double recomputeKernels;
        double stepKernels;
        double hostPerKernel;
        double hostStep;
        double modelFlopsStep;
        double hfu;
        double bwUtil;
        double peak;
        /** Step time (s), tokens per second over all GPUs, model FLOPs utilization, time to train (s, 0 if unset). */
        public double stepS;
        public double tokensPerS;
        public double mfu;
        public double trainTimeS;
    }

    /**
     * The step time of a training layout: per micro-batch forward, backward and recomputation, exposed TP/CP/EP
     * communication, the pipeline bubble, data-parallel traffic not hidden by compute, the optimizer step, and the
     * host's kernel issue. {@code w} supplies only what the layout does not; {@code ps} must be the passes of this
     * layout's micro-batch, tp, cp and ep. Allocates nothing.
     */
    public static void step(ModelSpec m, Workload w, Gpu g, Passes ps, TrainingLayout layout, Step out) {
        Roofline r = ps.r;
        Collectives c = ps.c;
        PassCost fwdAll = ps.fwdAll;
        boolean lora = w.method() != Method.FULL;
        int tp = layout.tp, pp = layout.pp, cp = layout.cp, ep = layout.ep, dp = layout.dp();
        int micro = layout.microbatches();
        int domain = g.interconnect().domainGpus(layout.gpusPerNode());
        double act = ps.act;
        double tokensRank = ps.tokensRank;
        double stageShare = 1.0 / pp;
        double fwd = (fwdAll.timeS() + ps.perPassExtra + ps.adaptersFwd + ps.eagerScores + ps.autocastFwd
                + ps.dropoutPass) * stageShare + ps.lmHead + ps.lossFwd;
        // backward: dgrad + wgrad GEMMs (2×; frozen weights need only dgrad), attention backward 2.5× (FlashAttention)
        double gemmBwdFactor = lora ? 1.0 : 2.0;
        // elementwise backward: twice the traffic (saved inputs + incoming gradient in, gradients out) and the
        // backward's extra kernels, each with its launch floor
        double eltBwd = (fwdAll.elementwiseS() - fwdAll.elementwiseLaunchS()) * 2
                + fwdAll.elementwiseLaunchS() * BACKWARD_KERNELS_PER_FORWARD;
        double bwd = (fwdAll.gemmS() * gemmBwdFactor + fwdAll.attentionS() * 2.5 + eltBwd
                + ps.perPassExtra + ps.adaptersBwd + ps.eagerScores * 2 + ps.autocastBwd + ps.dropoutPass)
                * stageShare + ps.lmHead * (LoraAdapters.headSaved(m, w) ? 2.0 : gemmBwdFactor) + ps.lossBwd;
        // the same kind of selective recomputation the memory model keeps activations for
        boolean opSac = org.gpuplan.memory.ActivationMemory.opLevelSelective(m, w.framework(), layout.checkpointing);
        double recompute = switch (layout.checkpointing) {
            case FULL -> fwd;
            // torchtitan's op-level SAC (fsdp) saves attention and every other matmul; Megatron's selective
            // recomputation re-runs the attention core
            case SELECTIVE -> (!opSac ? fwdAll.attentionS() + fwdAll.elementwiseS()
                    : fwdAll.gemmS() / 2 + fwdAll.elementwiseS() + ps.perPassExtra + ps.adaptersFwd) * stageShare;
            case NONE -> 0;
        };

        // tensor parallel: 2 all-reduces (or AG+RS pairs with sequence parallel) per layer forward, 2 backward, 2 more
        // when full recomputation re-runs the forward
        double tpBytes = tokensRank * m.hiddenSize() * act;
        boolean tpSpans = tp > domain;
        double tpPerLayer = c.allReduce(tpBytes, tp, tpSpans);
        int tpCollectives = 4 + (layout.checkpointing == Checkpointing.FULL ? 2 : 0);
        double tpComm = tpPerLayer * tpCollectives * m.numLayers() * stageShare;
        double gemmWindow = fwdAll.gemmS() * (1 + gemmBwdFactor) * stageShare;
        double tpExposed = w.perf().tpCommOverlap() ? Math.max(0, tpComm - gemmWindow) : tpComm;
        // context parallel: ring attention passes K/V (cp−1) times per layer, overlapped with attention compute
        double cpExposed = 0;
        if (cp > 1) {
            double kvChunk = tokensRank * kvWidth(m) / tp * act;
            boolean cpSpans = tp * cp > domain;
            double cpComm = 3 * (cp - 1) * c.sendRecv(kvChunk, cpSpans) * m.numLayers() * stageShare;
            cpExposed = Math.max(0, cpComm - fwdAll.attentionS() * 3.5 * stageShare);
        }
        // expert parallel: dispatch + combine all-to-all per MoE layer, forward and backward
        double epExposed = 0;
        if (ep > 1 && m.moe() != null) {
            double a2a = tokensRank * m.moe().topK() * m.hiddenSize() * act;
            boolean epSpans = tp * ep > domain;
            epExposed = 4 * c.allToAll(a2a, ep, epSpans) * m.moeLayerCount() * stageShare;
        }
        // DPO's reference model runs one more forward over the same sequences, without backward
        double reference = w.referenceForward() ? fwd : 0;
        recompute += reference;
        double perMicro = fwd + bwd + recompute + tpExposed + cpExposed + epExposed;
        // pipeline: (pp−1)/v bubbles of a micro-batch's forward+backward; activations sent between stages
        double bubble = 0;
        if (pp > 1) {
            int v = layout.ppSchedule == Parallelism.PpSchedule.INTERLEAVED ? Math.max(1, layout.virtualPp) : 1;
            bubble = (pp - 1) / (double) v * (fwd + bwd + recompute);
            perMicro += 2 * c.sendRecv(tpBytes / Math.max(1, layout.sequenceParallel ? tp : 1),
                    (long) tp * cp * dp > domain);
        }

        // data parallel
        long trainable = ps.trainable;
        double stageParams = (double) trainable / (tp * pp);
        double gradBytes = stageParams * (w.framework() == org.gpuplan.workload.Framework.HF && !lora
                && w.precision().mixed() ? 4 : act);
        int dpRanksPerDomain = Math.max(1, domain / (tp * cp));
        boolean dpSpans = layout.nodes > 1 && dp > dpRanksPerDomain;
        boolean sharded = layout.zero >= 3 || layout.fsdp == Parallelism.FsdpMode.FULL_SHARD
                || layout.fsdp == Parallelism.FsdpMode.HYBRID_SHARD;
        boolean pipelined = false;
        double paramBytes = 0;
        double reduceBytes = 0;
        double dpComm;
        double overlapWindow;
        if (dp <= 1) {
            dpComm = 0;
            overlapWindow = 0;
        } else if (sharded) {
            // the shards hold every parameter, frozen or not: all-gathers move the whole stage (4-bit for QLoRA);
            // reduce-scatters move only the trainable gradients
            paramBytes = (double) ps.totalParams / (tp * pp) * ps.weightBytes;
            // PyTorch-native FSDP stacks reduce gradients in fp32 under bf16 mixed precision (torchtitan
            // mixed_precision_reduce = "float32"; Composer's DEFAULT policy reduce_dtype float32)
            reduceBytes = stageParams * (fsdpReducesInFp32(w) ? 4 : act);
            boolean hybrid = layout.fsdp == Parallelism.FsdpMode.HYBRID_SHARD;
            int shardGroup = hybrid ? Math.min(dp, dpRanksPerDomain) : dp;
            boolean shardSpans = !hybrid && dpSpans;
            // all-gather of parameters before forward and before backward, reduce-scatter of gradients
            double perMicroComm = 2 * c.allGather(paramBytes, shardGroup, shardSpans)
                    + c.allGather(reduceBytes, shardGroup, shardSpans);
            // with a pipeline schedule (torchtitan), FSDP keeps parameters gathered across micro-batches and reduces
            // gradients once, after the last one
            pipelined = pp > 1 && w.framework() == org.gpuplan.workload.Framework.FSDP;
            dpComm = (pipelined ? c.allGather(paramBytes, shardGroup, shardSpans)
                    + c.allGather(stageParams * 4, shardGroup, shardSpans) : perMicroComm * micro)
                    + (hybrid && dp > shardGroup ? c.allReduce(gradBytes / shardGroup, dp / shardGroup, true) : 0);
            overlapWindow = (fwd + bwd + recompute) * micro;
        } else {
            dpComm = c.allReduce(gradBytes, dp, dpSpans);
            // gradients reduce in buckets during the last micro-batch's backward; a sharded optimizer's parameter
            // all-gather overlaps the next step's first forward (Megatron --overlap-param-gather). With a pipeline,
            // the first stage finishes its last backward at the very end of the step, so no bubble hides it.
            boolean shardedOptimizer = layout.zero >= 1 || layout.fsdp == Parallelism.FsdpMode.SHARD_GRAD_OP;
            overlapWindow = bwd + (shardedOptimizer ? fwd : 0);
        }
        // what cannot hide: the last bucket (1/layers of the traffic) and whatever exceeds the compute window
        double dpExposed = dp <= 1 ? 0 : Math.max(dpComm / Math.max(1, m.numLayers() / pp),
                dpComm - overlapWindow);
        double optimizer = optimizerStep(w, r, trainable / (double) (tp * pp)
                / ((layout.zero >= 1 || layout.fsdpShards()) ? dp : 1));

        double gpuStep = micro * perMicro + bubble + dpExposed + optimizer;
        // the host issues every kernel of the step; when kernels are small it, not the GPU, sets the pace
        double passKernels = ps.forwardKernels * stageShare;
        double recomputeKernels = (layout.checkpointing == Checkpointing.FULL ? passKernels
                : layout.checkpointing == Checkpointing.SELECTIVE ? passKernels / 2 : 0)
                + (reference > 0 ? passKernels : 0);
        double stepKernels = micro * (passKernels * (1 + BACKWARD_KERNELS_PER_FORWARD) + recomputeKernels)
                + ps.optimizerKernels;
        double hostPerKernel = w.perf().hostOverheadUs().isPresent() ? w.perf().hostOverheadUs().getAsDouble() * 1e-6
                : w.perf().compile() ? COMPILED_HOST_S : EAGER_HOST_S;
        double hostStep = stepKernels * hostPerKernel;
        double step = overlapped(gpuStep, hostStep);
        double globalTokens = (double) layout.batchSize * w.seqLen() * micro * dp;
        double tokensPerS = globalTokens / step;
        // model FLOPs: forward + backward (2× GEMMs of trainable weights, 1× dgrad) without recomputation
        double fwdModelFlops = (fwdAll.flops() + ps.lmHeadFlops) * tp * cp; // whole model
        double bwdModelFlops = (fwdAll.gemmFlops() * tp * cp + ps.lmHeadFlops * cp)
                * gemmBwdFactor + fwdAll.attentionFlops() * tp * cp * 2;
        double modelFlopsPerSeqBatch = fwdModelFlops + bwdModelFlops;
        double modelFlopsStep = modelFlopsPerSeqBatch * micro * dp;
        double recomputeFlops = layout.checkpointing == Checkpointing.FULL ? fwdModelFlops
                : layout.checkpointing != Checkpointing.SELECTIVE ? 0
                : !opSac ? fwdAll.attentionFlops() * tp * cp
                : fwdAll.gemmFlops() / 2 * tp * cp;
        // (the reference model's forward is hardware work beside the policy's model FLOPs)
        double hardwareFlopsStep = (modelFlopsPerSeqBatch + recomputeFlops + (reference > 0 ? fwdModelFlops : 0))
                * micro * dp;
        int gpus = layout.gpus;
        double peak = g.peakTflops(mfuDtype(w)) * 1e12;
        double bytesStep = (fwdAll.bytes() * (1 + gemmBwdFactor + (recompute > 0 ? 1 : 0)) * stageShare) * micro
                + ps.optimizerBytes * trainable / (double) gpus;
        out.micro = micro;
        out.stageShare = stageShare;
        out.fwd = fwd;
        out.bwd = bwd;
        out.recompute = recompute;
        out.gemmBwdFactor = gemmBwdFactor;
        out.tpBytes = tpBytes;
        out.tpCollectives = tpCollectives;
        out.tpComm = tpComm;
        out.tpExposed = tpExposed;
        out.cpExposed = cpExposed;
        out.epExposed = epExposed;
        out.bubble = bubble;
        out.gradBytes = gradBytes;
        out.dpSpans = dpSpans;
        out.sharded = sharded;
        out.pipelined = pipelined;
        out.paramBytes = paramBytes;
        out.reduceBytes = reduceBytes;
        out.dpComm = dpComm;
        out.dpExposed = dpExposed;
        out.optimizer = optimizer;
        out.gpuStep = gpuStep;
        out.passKernels = passKernels;
        out.recomputeKernels = recomputeKernels;
        out.stepKernels = stepKernels;
        out.hostPerKernel = hostPerKernel;
        out.hostStep = hostStep;
        out.modelFlopsStep = modelFlopsStep;
        out.hfu = hardwareFlopsStep / (step * gpus * peak);
        out.bwUtil = Math.min(1, bytesStep / (step * g.memoryBandwidthTbs() * 1e12));
        out.peak = peak;
        out.stepS = step;
        out.tokensPerS = tokensPerS;
        out.mfu = modelFlopsStep / (step * gpus * peak);
        out.trainTimeS = w.perf().trainTokens() > 0 ? w.perf().trainTokens() / tokensPerS : 0;
    }

    static PerfEstimate estimate(ModelSpec m, ParameterBreakdown p, Workload w, Gpu g) {
        Parallelism par = w.parallelism();
        // a preference objective runs chosen and rejected sequences: twice the micro-batch's sequences
        Passes ps = passes(m, p, w, g, w.sequences().batchSize(), par.tp(), par.cp(), par.ep());
        Step st = new Step();
        step(m, w, g, ps, TrainingLayout.of(w.sequences()), st);
        List<Figure> figs = new ArrayList<>();
        boolean lora = w.method() != Method.FULL;
        TensorDtype dtype = ps.dtype;
        Roofline r = ps.r;
        Collectives c = ps.c;
        PassCost fwdAll = ps.fwdAll;
        int tp = par.tp(), dp = par.dp();
        double act = ps.act;
        double stageShare = st.stageShare;
        double eagerScores = ps.eagerScores;
        boolean autocast = ps.autocast;
        double autocastFwd = ps.autocastFwd;
        double fwd = st.fwd, bwd = st.bwd, recompute = st.recompute;
        figs.add(new Figure("forward_s", "forward per micro-batch", fwd, "s", () -> String.format(Locale.ROOT,
                "Σ layers/pp of per-kernel rooflines over %.0f tokens/rank: GEMMs %.4g s + attention %.4g s + "
                        + "elementwise %.4g s%s, + LM head %.4g s (%s peak %.0f TFLOPS × ceiling %.3f × size factor; "
                        + "memory %.3f TB/s × %.2f)", ps.tokensRank, fwdAll.gemmS() * stageShare,
                fwdAll.attentionS() * stageShare, fwdAll.elementwiseS() * stageShare, (eagerScores > 0
                        ? String.format(Locale.ROOT, " + eager attention scores %.4g s", eagerScores * stageShare)
                        : "") + (autocast ? String.format(Locale.ROOT, " + autocast fp32 residual stream and weight "
                        + "casts %.4g s", autocastFwd * stageShare) : ""), ps.lmHead + ps.lossFwd, dtype,
                g.peakTflops(dtype), r.matmulCeiling(), g.memoryBandwidthTbs(), r.memoryEfficiency())));
        figs.add(new Figure("backward_s", "backward per micro-batch", bwd, "s", () -> (lora ? "frozen base: dgrad only (1×"
                : "dgrad + wgrad (2×") + " forward GEMMs), attention 2.5× forward (FlashAttention backward), "
                + "elementwise 2× traffic and " + BACKWARD_KERNELS_PER_FORWARD + "× the kernel launches"
                + (lora ? ", LoRA adapters backward (see adapterPass)" : "")
                + (eagerScores > 0 ? ", eager attention scores 2×" : "")));
        if (recompute > 0) {
            boolean reference = w.referenceForward();
            figs.add(new Figure("recompute_s", "recomputation per micro-batch", recompute, "s",
                    () -> (reference ? "the reference model's forward over the " + (w.trainer().paired() ? "chosen and rejected sequences" : "sequences") + " (no "
                            + "backward)" + (w.checkpointing() == Checkpointing.NONE ? "" : " + ") : "")
                            + (w.checkpointing() == Checkpointing.NONE ? "" : w.checkpointing() == Checkpointing.FULL
                            ? "full activation checkpointing re-runs the forward"
                            : !org.gpuplan.memory.ActivationMemory.opLevelSelective(m, w.framework(),
                            w.checkpointing()) ? "selective (Megatron's kind): the attention core and elementwise ops "
                            + "re-run"
                            : "selective (op-level, torchtitan): every other matmul and the elementwise ops re-run; "
                            + "attention outputs saved")));
        }
        java.util.function.Supplier<String> dpFormula;
        if (dp <= 1) {
            dpFormula = () -> "one replica: no gradient traffic";
        } else if (st.sharded) {
            boolean pipelined = st.pipelined;
            double paramBytes = st.paramBytes, reduceBytes = st.reduceBytes;
            dpFormula = () -> String.format(Locale.ROOT, "ZeRO-3/FSDP: %s all-gather %.3g GB of parameters "
                    + "(forward, backward) + reduce-scatter %.3g GB of gradients, (n−1)/n·bytes/bw each",
                    pipelined ? "once per step (pipeline schedule)," : "per micro-batch", paramBytes / 1e9,
                    reduceBytes / 1e9);
        } else {
            double gradBytes = st.gradBytes;
            dpFormula = () -> String.format(Locale.ROOT, "all-reduce (or reduce-scatter + all-gather) of %.3g GB "
                    + "of gradients once per step: 2(n−1)/n·bytes/bw", gradBytes / 1e9);
        }
        boolean dpSpans = st.dpSpans;
        double dpExposed = st.dpExposed;
        figs.add(new Figure("dp_comm_s", "data-parallel communication", st.dpComm, "s", () -> String.format(Locale.ROOT,
                "%s; over %d ranks at %.0f GB/s (%s); exposed %.4g s", dpFormula.get(), dp,
                c.bandwidth(dpSpans) / 1e9, dpSpans ? "network" : g.interconnect().link(),
                dpExposed)));
        if (tp > 1) {
            int tpCollectives = st.tpCollectives;
            double tpBytes = st.tpBytes, tpExposed = st.tpExposed;
            figs.add(new Figure("tp_comm_s", "tensor-parallel communication per micro-batch", st.tpComm, "s",
                    () -> String.format(Locale.ROOT,
                            "%d all-reduces of tokens·h·%.0f B = %.3g MB per layer over tp=%d; %s",
                            tpCollectives, act, tpBytes / 1e6, tp, w.perf().tpCommOverlap()
                                    ? "overlapped with the GEMMs (exposed " + fmt(tpExposed) + " s)" : "not overlapped")));
        }
        if (st.bubble > 0) {
            figs.add(new Figure("pipeline_bubble_s", "pipeline bubble", st.bubble, "s",
                    () -> "(pp−1)/v × (forward + backward) of one micro-batch, " + par.ppSchedule().key()));
        }
        figs.add(new Figure("optimizer_s", "optimizer step", st.optimizer, "s", () -> String.format(Locale.ROOT,
                "%.0f bytes read+written per trainable parameter (%s, see optimizerBytes) / (%.2f TB/s × %.2f)",
                optimizerBytes(w),
                w.optimizer().key(), g.memoryBandwidthTbs(), r.memoryEfficiency())));
        double step = st.stepS, gpuStep = st.gpuStep, hostStep = st.hostStep, tokensPerS = st.tokensPerS;
        int micro = st.micro;
        figs.add(0, new Figure("step_time_s", "step time", step, "s", () -> String.format(Locale.ROOT,
                "max(GPU time %s, host time %s) + %.1f × the shorter (host and GPU overlap only between "
                        + "synchronizations): %s", fmt(gpuStep), fmt(hostStep), HOST_GPU_EXPOSED, gpuStep >= hostStep
                        ? "the GPU sets the pace" : "host-bound: kernels too small to hide the launch overhead")));
        double cpShown = st.cpExposed, epShown = st.epExposed, bubbleShown = st.bubble, tpShown = st.tpExposed;
        double optimizer = st.optimizer;
        figs.add(new Figure("gpu_time_s", "GPU time per step", gpuStep, "s", () -> String.format(Locale.ROOT,
                "micro-batches %d × (forward %s + backward %s + recompute %s + exposed TP %s + CP %s + EP %s) + "
                        + "bubble %s + exposed DP %s + optimizer %s", micro, fmt(fwd), fmt(bwd), fmt(recompute),
                fmt(tpShown), fmt(cpShown), fmt(epShown), fmt(bubbleShown), fmt(dpExposed), fmt(optimizer))));
        double stepKernels = st.stepKernels, hostPerKernel = st.hostPerKernel, passKernels = st.passKernels;
        double recomputeKernels = st.recomputeKernels;
        figs.add(new Figure("host_time_s", "host time per step", hostStep, "s", () -> String.format(Locale.ROOT,
                "%.0f kernels × %.0f µs (%s): per micro-batch %.0f forward kernels × (1 + %.1f backward)%s, + %.0f "
                        + "optimizer kernels", stepKernels, hostPerKernel * 1e6, w.perf().hostOverheadUs().isPresent()
                        ? "host_overhead_us" : w.perf().compile() ? "torch.compile wrapper"
                        : "eager PyTorch dispatch + launch", passKernels,
                BACKWARD_KERNELS_PER_FORWARD, recomputeKernels > 0 ? " + " + fmt(recomputeKernels) + " recomputed"
                        : "", optimizerKernels(w, m))));
        int gpus = par.gpus();
        figs.add(1, new Figure("tokens_per_s", "tokens/s (all GPUs)", tokensPerS, "tokens/s", () -> String.format(
                Locale.ROOT, "global batch %d × %d tokens × %d micro-batches × dp %d / step %.4g s%s",
                w.sequences().batchSize(), w.seqLen(), micro, dp, step, w.trainer().paired()
                ? " (" + w.batchSize() + " chosen + rejected pairs per micro-batch: every sequence's tokens count)"
                : "")));
        figs.add(2, new Figure("tokens_per_s_per_gpu", "tokens/s per GPU", tokensPerS / gpus, "tokens/s",
                () -> "tokens/s ÷ " + gpus + " GPUs"));
        double modelFlopsStep = st.modelFlopsStep;
        figs.add(new Figure("model_flops_per_step", "model FLOPs per step", modelFlopsStep, "FLOP",
                () -> "forward (GEMMs 2·in·out per token + causal attention 2·keys·heads·(d_qk+d_v) + LM head) × "
                        + (lora ? "2 (frozen base: forward + dgrad)" : "3 (forward + 2× backward)")
                        + " over the global batch; recomputation not counted"));
        figs.add(new Figure("model_tflops_per_gpu", "model TFLOPS per GPU", modelFlopsStep / step / gpus / 1e12,
                "TFLOPS", "model FLOPs per step / step time / GPUs"));
        double peak = st.peak;
        figs.add(new Figure("mfu", "MFU (model FLOPs utilization)", st.mfu, "fraction", () -> String.format(Locale.ROOT,
                "model TFLOPS per GPU / %.0f dense %s peak", peak / 1e12, mfuDtype(w))));
        figs.add(new Figure("hfu", "HFU (hardware FLOPs utilization)", st.hfu, "fraction",
                "(model + recomputation FLOPs) per GPU per second / peak"));
        double trainTime = st.trainTimeS;
        if (trainTime > 0) {
            figs.add(new Figure("train_time_s", "time to train", trainTime, "s", () -> String.format(Locale.ROOT,
                    "%.4g tokens / %.4g tokens/s", w.perf().trainTokens(), tokensPerS)));
            figs.add(new Figure("gpu_hours", "GPU-hours", trainTime * gpus / 3600, "GPU-hours",
                    () -> "time to train × " + gpus + " GPUs / 3600"));
        }
        return new PerfEstimate(figs, step, tokensPerS, st.mfu, modelFlopsStep / step / gpus / 1e12, trainTime,
                trainTime * gpus / 3600, Double.NaN, Double.NaN, Double.NaN, Double.NaN, st.hfu, st.bwUtil,
                hostStep > gpuStep ? "host-bound" : st.hfu >= st.bwUtil ? "compute-bound" : "memory-bound");
    }

    /**
     * Cross-entropy over the logits, forward or backward. PyTorch's over upcast logits (transformers'
     * ForCausalLMLoss, torchtitan): forward casts the 16-bit logits to fp32 (read 2, write 4) and runs log_softmax
     * (read 4, write 4) = 14 B per logit; backward zero-fills the gradient (4), runs log_softmax's backward (read
     * 4 + 4, write 4) and casts back (read 4, write 2) = 22 B. Megatron's fused vocab-parallel kernel: about 12 B each
     * way.
     */
    static double lossPass(ModelSpec m, Workload w, Roofline r, double tokens, int tp, boolean backward) {
        double logits = tokens * m.vocabSize() / (double) tp;
        if (w.framework() == org.gpuplan.workload.Framework.MEGATRON) {
            return r.memory(logits * 12);
        }
        int c = w.precision().computeBytes();
        return r.memory(logits * switch (w.lossImpl()) {
            case EAGER, CHUNKED -> backward ? 22 : 14;
            // one fused reduction reads the logits; backward reads them again and writes the gradient
            case COMPILED -> backward ? 2.0 * c : c;
            // a row-wise log-softmax reads the logits and writes the log-probabilities; backward reads them and writes
            // the gradient
            case ROWWISE -> backward ? 3.0 * c : 2.0 * c;
            // per chunk in forward: the logits written, the loss kernel's in-place pass, read by the two gradient
            // GEMMs; backward only scales the saved gradient
            case FUSED_LINEAR -> backward ? 0 : 5.0 * c;
        });
    }

    /**
     * Eager attention (attn_implementation="eager") materializes the b·heads·s×s scores: scale, mask add, fp32
     * softmax and casts move about 34 bytes per score element forward (FlashAttention/SDPA keep them on chip).
     */
    static double eagerScorePass(ModelSpec m, Workload w, int batch, Roofline r, int tp, int cp) {
        return w.attention() == org.gpuplan.workload.AttentionImpl.EAGER
                ? r.memory(eagerScoreElements(m, batch, w.seqLen()) / cp / tp * 34.0) : 0;
    }

    /** PyTorch FSDP (framework fsdp) under a *-mixed precision: parameters in 16 bits, gradient reduction in fp32. */
    static boolean fsdpReducesInFp32(Workload w) {
        return w.framework() == org.gpuplan.workload.Framework.FSDP && w.precision().mixed()
                && w.method() == Method.FULL;
    }

    /** PyTorch autocast over fp32 parameters: HF Trainer and torchtune with a *-mixed precision. */
    static boolean autocast(Workload w) {
        return w.precision().mixed() && (w.framework() == org.gpuplan.workload.Framework.HF
                || w.framework() == org.gpuplan.workload.Framework.TORCHTUNE);
    }

    /**
     * What autocast adds to a pass: the residual stream, norms and adds stay fp32 (twice their 16-bit traffic; the
     * backward twice that again), and every GEMM re-casts its fp32 weight to 16 bits (read 4 B, write 2 B per weight
     * each forward; the backward casts trainable gradients back, 2 B in, 4 B out).
     */
    static double autocastPass(ModelSpec m, Roofline r, PassCost pass, double tokens, int tp, boolean fused,
                               boolean backward, boolean lora) {
        double residual = tokens * m.numLayers() * LayerShapes.residualElementwiseBytes(m, fused) / tp;
        return backward ? r.memory(2 * residual + (lora ? 0 : pass.weightElements() * 6))
                : r.memory(residual + pass.weightElements() * 6);
    }

    /**
     * Training dropout (GPT-2, BERT): two residual dropouts per block, each reading its input and writing the output
     * and a bool mask (5 B per element; the backward the same), two kernels.
     */
    static double dropoutPass(ModelSpec m, Roofline r, double tokens, int tp) {
        return r.memory(tokens * m.numLayers() * 2 * 5.0 * m.hiddenSize() / tp) + 2 * m.numLayers() * r.kernelGapS();
    }

    /**
     * The LoRA adapters of one forward ({@code backward = false}) or backward pass. PEFT keeps adapters in fp32
     * (autocast_adapter_dtype) over a 16-bit base of c bytes per element. Per adapted Linear and token, forward: cast
     * the input to fp32 (read c, write 4), read it for x·A (4); write B's fp32 output (4), scale it (read + write 8),
     * add it to the base output with type promotion (read c + 4, write 4) and cast back (read 4, write c): in·(c + 8)
     * + out·(24 + 2c) bytes. Backward: the casts, the add and the scaling in reverse (out·(24 + 2c)), dgrad and wgrad
     * of A over the fp32 input (in·12), the cast back (in·(4 + c)) and the sum into the base layer's input gradient
     * (in·3c). The 2·r·(in + out) FLOPs per GEMM run in fp32 on CUDA cores (2 GEMMs forward, 4 backward); 6 kernels
     * forward, 10 backward, each with its launch floor. DoRA (use_dora) adds, per adapted Linear, its weight norm in
     * forward: B·(A·I) over an in×in identity (2·r·in·(in + out) FLOPs), the base weight cast, scaled sum and column
     * norm (about ab·(2·in² + 8·in·out) + c·in·out bytes, ab the adapter bytes) and 10 kernels; and per token the
     * magnitude products: out·(c + 7·ab) bytes forward, out·(2c + 7·ab) backward (6 kernels).
     */
    static double adapterPass(ModelSpec m, Workload w, Roofline r, double tokens, int tp, double c,
                              boolean backward) {
        double bytes = 0;
        double flops = 0;
        long kernels = 0;
        for (org.gpuplan.memory.LinearModule lm : LoraAdapters.targets(m, w)) {
            double in = lm.in(), out = lm.out();
            bytes += lm.count() * tokens * (backward ? in * (12 + 4 * c) + out * (24 + 2 * c)
                    : in * (c + 8) + out * (24 + 2 * c));
            flops += lm.count() * tokens * 2.0 * w.loraRank() * (in + out) * (backward ? 2 : 1);
            kernels += (backward ? 10 : 6) * lm.count();
            if (w.useDora()) {
                double ab = LoraAdapters.bytesPerParameter(w);
                bytes += lm.count() * tokens * out * (backward ? 2 * c + 7 * ab : c + 7 * ab);
                if (!backward) {
                    bytes += lm.count() * (ab * (2 * in * in + 8 * in * out) + c * in * out);
                    flops += lm.count() * 2.0 * w.loraRank() * in * (in + out);
                }
                kernels += (backward ? 6 : 10) * lm.count();
            }
        }
        return r.memory(bytes / tp) + r.instructions(flops / 2 / tp) + kernels * r.kernelGapS();
    }

    /** Score elements of eager attention over all layers: batch × heads × s × s (the mask covers the full square). */
    static double eagerScoreElements(ModelSpec m, int batch, int seqLen) {
        long heads = m.attention() instanceof org.gpuplan.model.Attention.Standard st ? st.numHeads()
                : ((org.gpuplan.model.Attention.Latent) m.attention()).numHeads();
        return (double) batch * heads * seqLen * (double) seqLen * m.numLayers();
    }

    private static double kvWidth(ModelSpec m) {
        return m.attention() instanceof org.gpuplan.model.Attention.Standard s ? 2.0 * s.numKvHeads() * s.headDim()
                : LayerShapes.attentionWidth(m);
    }

    static TensorDtype matmulDtype(Workload w) {
        return w.perf().float8Linear() ? TensorDtype.FP8 : Roofline.dtypeOf(w.precision());
    }

    /** MFU is quoted against the 16-bit dense peak (FP32 training against FP32), as Megatron and torchtitan do. */
    static TensorDtype mfuDtype(Workload w) {
        return Roofline.dtypeOf(w.precision());
    }

    /**
     * Bytes read and written per trainable parameter by one optimizer step (memory-bound).
     *
     * <p>PyTorch's own optimizers (HF Trainer, torchtune, FSDP/torchtitan) keep states in the parameters' dtype (fp32
     * under autocast mixed precision) and count element accesses: torch.optim.AdamW foreach runs weight decay (2),
     * lerp (3), mul (2), addcmul (3), sqrt (2), div (2), add eps (2), addcdiv (4) = 20; the fused kernel reads
     * param, grad, m, v and writes param, m, v = 7; SGD 3, with momentum 8; HF Adafactor upcasts to fp32 and runs
     * about 22. Profiled on an H200: foreach AdamW 12.6 ns per bf16 parameter (model: 10.4), 21 ns per fp32
     * parameter (model: 20.8). DeepSpeed and Megatron step fp32 master weights and states with fused multi-tensor
     * kernels and write the 16-bit copy back.
     */
    static double optimizerBytes(Workload w) {
        boolean torchOptimizer = switch (w.framework()) {
            case HF, TORCHTUNE, FSDP -> true;
            default -> false;
        };
        if (torchOptimizer) {
            double accesses = switch (w.optimizer()) {
                case ADAMW, ADAMW_HF -> 20;
                case ADAMW_FUSED -> 7;
                // bitsandbytes and torchao: their own per-tensor kernels, below
                case ADAMW_8BIT, PAGED_ADAMW_8BIT, PAGED_ADAMW, ADAMW_4BIT, LION_8BIT -> 0;
                case ADAFACTOR -> 22;
                case SGD -> 3;
                case SGD_MOMENTUM, LION -> 8;
            };
            double element = w.optimizer() == org.gpuplan.workload.OptimizerKind.ADAFACTOR ? 4
                    : w.precision().weightBytes();
            if (accesses > 0) {
                return accesses * element;
            }
        }
        double state = switch (w.optimizer()) {
            case ADAMW, ADAMW_FUSED, ADAMW_HF -> 16; // m and v, fp32, read + write
            case ADAMW_8BIT, PAGED_ADAMW_8BIT -> 4;
            case PAGED_ADAMW -> 16;
            case ADAMW_4BIT, LION_8BIT -> 2;
            case ADAFACTOR -> 2;
            case SGD -> 0;
            case SGD_MOMENTUM, LION -> 8;
        };
        // fp32 master weight read + write, gradient read, 16-bit copy written under mixed precision
        double master = w.precision().mixed() ? 4 + 4 + 4 + 2 : w.precision().weightBytes() * 3.0;
        return state + master;
    }

    /**
     * Kernels one forward over all layers launches in eager PyTorch: the pass's GEMMs, attention and elementwise ops;
     * under autocast, per Linear, a weight cast and an input cast forward and three casts backward (counted here as
     * their forward share; profiled on an H200: Qwen2.5-0.5B 4,218 kernels per step under bf16 autocast, 3,380 in
     * bf16); two dropouts per layer; PEFT's six adapter kernels per adapted Linear; the embedding, final norm, LM
     * head and loss (8).
     */
    static double forwardKernels(ModelSpec m, Workload w, PassCost pass, boolean autocast, boolean dropout) {
        long linears = org.gpuplan.memory.LinearModules.of(m).stream()
                .mapToLong(org.gpuplan.memory.LinearModule::count).sum();
        double castKernels = autocast ? 5.0 * linears / (1 + BACKWARD_KERNELS_PER_FORWARD) : 0;
        double adapterKernels = w.method() != Method.FULL ? 6.0 * LoraAdapters.targets(m, w).stream()
                .mapToLong(org.gpuplan.memory.LinearModule::count).sum() : 0;
        return pass.kernels() + castKernels + (dropout ? 2.0 * m.numLayers() : 0) + adapterKernels + 8;
    }

    /**
     * Kernels one optimizer step launches: torch's multi-tensor (foreach) ops a handful of launches each; per-tensor
     * loops (HF Adafactor, transformers' AdamW) a few kernels per parameter tensor (profiled: Adafactor about 24 per
     * tensor on Qwen2.5-0.5B).
     */
    static double optimizerKernels(Workload w, ModelSpec m) {
        long tensors = (long) m.numLayers() * (org.gpuplan.memory.LinearModules.of(m).size() + m.norms().perLayer()) + 2;
        return switch (w.optimizer()) {
            case ADAMW -> 8 * 4;
            case ADAMW_FUSED -> 4;
            case SGD, SGD_MOMENTUM, LION -> 3 * 4;
            case ADAFACTOR -> 24.0 * tensors;
            case ADAMW_HF -> 12.0 * tensors;
            case ADAMW_8BIT, PAGED_ADAMW_8BIT, PAGED_ADAMW, ADAMW_4BIT, LION_8BIT -> 2.0 * tensors;
        };
    }

    static double optimizerStep(Workload w, Roofline r, double paramsPerRank) {
        return r.memory(paramsPerRank * optimizerBytes(w));
    }

    private static String fmt(double s) {
        return String.format(Locale.ROOT, "%.4g", s);
    }
}
