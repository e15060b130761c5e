package org.gpuplan.memory;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.model.Attention;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.Layer;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.ParameterCounter;
import org.gpuplan.model.Term;
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.Method;
import org.gpuplan.workload.OptimizerKind;
import org.gpuplan.workload.Parallelism;
import org.gpuplan.workload.Parallelism.FsdpMode;
import org.gpuplan.workload.Parallelism.Offload;
import org.gpuplan.workload.Parallelism.PpSchedule;
import org.gpuplan.workload.Workload;

/**
 * Training across GPUs, one pipeline stage at a time: parameters split by tensor parallelism (Linear layers and
 * vocab-parallel embeddings; norms and routers replicated), experts by expert parallelism, layers by pipeline stage;
 * parameters, gradients and optimizer states sharded over the data-parallel group by DeepSpeed ZeRO 0–3, PyTorch FSDP
 * or Megatron's distributed optimizer; activations divided by TP (replicated parts too with sequence parallelism) and
 * by CP, times the micro-batches a pipeline schedule keeps in flight; offload to host memory.
 */
public final class ShardedTraining {

    /** NCCL communicator buffers per GPU: 342 MB at TP2, 392 MB at TP4/8 (ai-dynamo/aiconfigurator h100_sxm.yaml). */
    static final long NCCL = 392L * 1_000_000;
    static final long NCCL_SMALL = 342L * 1_000_000;

    /** NCCL buffers for a layout: none on one GPU, 342 MB up to two-way groups, 392 MB beyond. */
    static long nccl(Parallelism par) {
        if (par.gpus() == 1) {
            return 0;
        }
        int widest = Math.max(Math.max(par.tp(), par.pp()), Math.max(par.cp(), Math.max(par.ep(), par.dp())));
        return widest <= 2 ? NCCL_SMALL : NCCL;
    }
    /** DeepSpeed reduce_bucket_size / allgather_bucket_size default: 5e8 elements (zero/config.py). */
    static final long DS_BUCKET = 500_000_000L;
    /** DeepSpeed stage3_max_live_parameters default: 1e9 elements. */
    static final long DS_MAX_LIVE = 1_000_000_000L;

    /** What is alive in each phase (immutable, shared by every stage). */
    private static final List<String> FORWARD_CONTENTS = List.of("weights", "optimizer", "activations", "temporary");
    private static final List<String> STEP_CONTENTS = List.of("weights", "optimizer", "gradients", "temporary");

    /** One pipeline stage's estimate and what it puts in host memory. */
    public record Stage(String name, int ranks, MemoryEstimate memory, long hostBytesPerRank) {
    }

    private ShardedTraining() {
    }

    public static List<Stage> estimate(ModelSpec m, ParameterBreakdown p, Workload w, Optional<Gpu> gpu) {
        Parallelism par = w.parallelism();
        check(m, w, par);
        List<Stage> stages = new ArrayList<>();
        int pp = par.pp();
        int perStage = par.gpus() / pp;
        Invariants inv = invariants(m, p, w);
        for (int s = 0; s < pp; s++) {
            stages.add(stage(m, p, w, gpu, s, perStage, inv));
        }
        return merge(stages, pp, perStage);
    }

    /**
     * What every pipeline stage shares, computed once per estimate: the workload as the model runs it (16-bit
     * parameters under FSDP mixed precision, DeepSpeed and Megatron), the weights of the whole model in that dtype,
     * the optimizer bytes per trainable parameter, what autograd saves per layer and the LoRA parameter count.
     */
    private record Invariants(Workload compute, Term baseWeights, double optimizerPerParam,
                              ActivationMemory.Saved saved, Workload activationWorkload, double loraParameters,
                              String layout) {
    }

    private static Invariants invariants(ModelSpec m, ParameterBreakdown p, Workload w) {
        Parallelism par = w.parallelism();
        boolean full = w.method() == Method.FULL;
        boolean deepspeed0 = w.framework() == Framework.DEEPSPEED || par.zero() > 0 && w.framework() != Framework.MEGATRON;
        boolean fsdp0 = par.fsdp() != FsdpMode.NONE && par.fsdp() != FsdpMode.NO_SHARD;
        // FSDP mixed precision, DeepSpeed and Megatron run the model in 16-bit parameters: no autocast, 16-bit
        // residual stream, 16-bit frozen weights
        Workload compute = (w.framework() == Framework.MEGATRON || deepspeed0 || fsdp0) && w.precision().mixed()
                ? w.withPrecision(w.precision() == org.gpuplan.workload.Precision.FP16_MIXED
                ? org.gpuplan.workload.Precision.FP16 : org.gpuplan.workload.Precision.BF16) : w;
        Term baseWeights = WeightMemory.weights(m, p, compute);
        double optimizerPerParam = TrainingMemory.optimizer(m, w, 1_000_000, full ? w.precision().weightBytes() : 4)
                .value() / 1e6;
        // FSDP needs one dtype per flat parameter, so QLoRA under FSDP keeps the non-quantized parameters in the 16-bit
        // storage dtype (bnb_4bit_quant_storage) instead of prepare_model_for_kbit_training's fp32 upcast: the
        // residual stream stays 16-bit, as with LoRA
        boolean qloraFsdp = w.method() == Method.QLORA && fsdp0;
        Workload activationWorkload = qloraFsdp ? compute.withMethod(Method.LORA) : compute;
        // plain concatenation: this runs for every candidate the planner scores (same text as %d/%s formatting)
        String layout = "dp " + par.dp() + " × tp " + par.tp() + " × pp " + par.pp() + " × cp " + par.cp() + "; "
                + microbatches(w, par) + " micro-batches per step; schedule " + par.ppSchedule().key();
        return new Invariants(compute, baseWeights, optimizerPerParam, ActivationMemory.training(m,
                activationWorkload), activationWorkload, full ? 0 : LoraAdapters.parameters(m, w), layout);
    }

    static String stageName(int from, int to, int pp) {
        if (pp == 1) {
            return "every rank";
        }
        String range = from == to ? "pipeline stage " + from : "pipeline stages " + from + "–" + to;
        return range + (from == 0 ? " (first)" : to == pp - 1 ? " (last)" : "");
    }

    /** Consecutive stages with the same footprint are reported once (they differ only by layer counts). */
    static List<Stage> merge(List<Stage> stages, int pp, int perStage) {
        List<Stage> out = new ArrayList<>();
        int from = 0;
        for (int s = 1; s <= stages.size(); s++) {
            boolean boundary = s == stages.size() || s == 1 || s == pp - 1
                    || stages.get(s).memory().deviceUsed() != stages.get(from).memory().deviceUsed();
            if (boundary) {
                Stage first = stages.get(from);
                out.add(new Stage(stageName(from, s - 1, pp), (s - from) * perStage, first.memory(),
                        first.hostBytesPerRank()));
                from = s;
            }
        }
        return out;
    }

    /** Model-dependent consistency: TP within the heads, PP within the layers, EP within the experts. */
    static void check(ModelSpec m, Workload w, Parallelism par) {
        int heads = m.attention().numHeads();
        if (heads % par.tp() != 0) {
            throw new InvalidInputException("tp: " + par.tp() + " does not divide the " + heads + " attention heads "
                    + "of " + m.name() + " (choose a tp that divides " + heads + ")");
        }
        if (par.pp() > m.numLayers()) {
            throw new InvalidInputException("pp: " + par.pp() + " pipeline stages for " + m.numLayers()
                    + " layers; use at most " + m.numLayers());
        }
        if (par.ep() > 1 && (m.moe() == null || m.moe().numExperts() % par.ep() != 0)) {
            throw new InvalidInputException("ep: " + (m.moe() == null ? m.name() + " has no experts"
                    : par.ep() + " does not divide the " + m.moe().numExperts() + " experts") + " (use ep 1"
                    + (m.moe() == null ? "" : " or a divisor of " + m.moe().numExperts()) + ")");
        }
        if (par.zero() == 3 && par.pp() > 1 && w.framework() == Framework.DEEPSPEED) {
            throw new InvalidInputException("zero: DeepSpeed refuses ZeRO-3 with pipeline parallelism; use zero 0 or 1 "
                    + "with pp > 1, or pp 1 with zero 3");
        }
        if (par.fsdp() != FsdpMode.NONE && (w.framework() == Framework.DEEPSPEED
                || w.framework() == Framework.MEGATRON)) {
            throw new InvalidInputException("fsdp: " + w.framework().key() + " does not use PyTorch FSDP; use --zero "
                    + "for its sharding, or --framework fsdp");
        }
    }

    /** Parameters a stage's ranks hold before data-parallel sharding, split into TP-split and replicated parts. */
    record StageParams(double params, double largestLayer, double layers) {
    }

    static StageParams stageParams(ModelSpec m, ParameterBreakdown p, Parallelism par, int stage) {
        int pp = par.pp();
        int tp = par.tp();
        long h = m.hiddenSize();
        double perNorm = (double) m.norms().kind().paramsPerFeature() * h;
        // every dense layer holds the same parameters, and every MoE layer: cost each kind once
        double attention = ParameterCounter.attentionPerLayer(m.attention(), h) / (double) tp;
        double norms = m.norms().perLayer() * perNorm;
        double dense = m.mlp() == null ? 0 : attention + ParameterCounter.mlpParams(m.mlp(), h) / (double) tp + norms;
        double moe = 0;
        if (m.moe() != null) {
            double expert = ParameterCounter.expertParams(m.moe(), h);
            double experts = m.moe().numExperts() * expert / (par.ep() > 1 ? par.ep() : tp);
            double shared = m.moe().sharedIntermediateSize() * 3.0 * h / tp;
            moe = attention + experts + shared + (double) m.moe().numExperts() * h + norms;
        }
        int from = stage * m.numLayers() / pp;
        int to = (stage + 1) * m.numLayers() / pp;
        int moeLayers = 0;
        if (m.moe() != null) {
            for (int i = from; i < to; i++) {
                moeLayers += m.layers().get(i).moe() ? 1 : 0;
            }
        }
        int layers = to - from;
        double total = (layers - moeLayers) * dense + moeLayers * moe;
        double largest = Math.max(moeLayers < layers ? dense : 0, moeLayers > 0 ? moe : 0);
        if (stage == 0) {
            total += p.count("embeddings") / (double) tp + p.count("vision") + (m.norms().embeddingNorm() ? perNorm : 0);
        }
        if (stage == pp - 1) {
            total += p.count("lm_head") / (double) tp + (m.norms().finalNorm() ? perNorm : 0)
                    + p.count("task_head") + p.count("pooler");
            if (m.embeddings().tied() && pp > 1) {
                total += p.count("embeddings") / (double) tp; // the last stage keeps its own copy for the LM head
            }
        }
        return new StageParams(total, largest, layers);
    }

    private static Stage stage(ModelSpec m, ParameterBreakdown p, Workload w, Optional<Gpu> gpu, int stage,
                               int ranks, Invariants inv) {
        Parallelism par = w.parallelism();
        StageParams sp = stageParams(m, p, par, stage);
        double fraction = sp.params() / p.totalCount();
        boolean full = w.method() == Method.FULL;
        double trainable = full ? sp.params() : inv.loraParameters() * (sp.layers() / m.numLayers()) / par.tp();
        int dpShard = par.fsdp() == FsdpMode.HYBRID_SHARD ? Math.max(1, par.gpusPerNode() / (par.tp() * par.cp()))
                : par.fsdp() != FsdpMode.NONE ? par.dp() * par.cp() : par.dp();
        int c = w.precision().computeBytes();
        Workload compute = inv.compute();
        Term baseWeights = inv.baseWeights();
        double weightPerParam = baseWeights.value() / (double) p.totalCount();
        double optimizerPerParam = inv.optimizerPerParam();
        List<String> assumptions = new ArrayList<>();
        double weights;
        double grads;
        double optimizer;
        double buffers = 0;
        double host = 0;
        String scheme;
        boolean deepspeed = w.framework() == Framework.DEEPSPEED || par.zero() > 0 && w.framework() != Framework.MEGATRON;
        boolean megatron = w.framework() == Framework.MEGATRON;
        boolean fsdp = par.fsdp() != FsdpMode.NONE && par.fsdp() != FsdpMode.NO_SHARD;
        int z = par.zero();
        if (megatron) {
            // bf16 params + fp32 main grads; fp32 master params and Adam states sharded by the distributed optimizer
            weights = sp.params() * 2;
            grads = trainable * 4;
            optimizer = trainable * (4 + optimizerPerParam) / (z >= 1 ? par.dp() : 1);
            scheme = z >= 1 ? "Megatron distributed optimizer: 2 + 4 + 12/DP bytes per parameter"
                    : "Megatron: 18 bytes per parameter";
        } else if (deepspeed) {
            // 16-bit model and gradients, fp32 master copy with the optimizer states (ZeRO paper's K = 12 for Adam)
            double master = w.precision().weightBytes() == 4 && !w.precision().mixed() ? 0 : 4;
            weights = sp.params() * (full ? 2 : weightPerParam) / (z == 3 ? dpShard : 1);
            grads = trainable * 2 / (z >= 2 ? dpShard : 1);
            optimizer = trainable * (master + optimizerPerParam) / (z >= 1 ? dpShard : 1);
            buffers = Math.min(DS_BUCKET, trainable) * 2 * (z == 3 ? 2 : 1); // IPG buckets (×2 with overlap_comm)
            if (z == 3) {
                buffers += Math.min(DS_MAX_LIVE, 2 * sp.largestLayer()) * 2; // gathered layer + prefetch
            }
            scheme = "DeepSpeed ZeRO-" + z + ": 16-bit params" + (z == 3 ? "/DP" : "") + " + 16-bit grads"
                    + (z >= 2 ? "/DP" : "") + " + fp32 master and optimizer states" + (z >= 1 ? "/DP" : "")
                    + " + reduce buckets " + Bytes.gib((long) (Math.min(DS_BUCKET, trainable) * 2 * (z == 3 ? 2 : 1)));
        } else if (fsdp) {
            int wb = w.precision().weightBytes();
            double unit = sp.largestLayer() * c;
            weights = sp.params() * (full ? wb : weightPerParam) / dpShard;
            grads = trainable * (full ? wb : 4) / dpShard;
            optimizer = trainable * optimizerPerParam / dpShard;
            boolean pipelined = par.pp() > 1 && w.framework() == Framework.FSDP;
            if (pipelined) {
                // torch.distributed.pipelining with FSDP2 (torchtitan): parameters are not resharded between
                // micro-batches (reshard_after_forward off when PP is on; set_reshard_after_backward(False)) and
                // gradients are not reduce-scattered until the last micro-batch (set_requires_gradient_sync(False)),
                // so the stage keeps unsharded parameters and unsharded gradients accumulated in the fp32 reduce dtype
                buffers = sp.params() * c + (microbatches(w, par) > 1 ? trainable * 4 : 0);
            } else if (par.fsdp() == FsdpMode.SHARD_GRAD_OP) {
                buffers = sp.params() * c; // unsharded compute-dtype parameters kept from forward to backward
            } else {
                buffers = 2 * unit + 2 * sp.largestLayer() * (full ? wb : 0); // gathered unit + prefetch; its grads
            }
            scheme = "FSDP " + par.fsdp().key() + ": parameters, gradients and optimizer states / " + dpShard
                    + " + unsharded " + (pipelined ? "stage parameters and fp32 gradients kept across micro-batches "
                    + "(pipeline schedule)" : par.fsdp() == FsdpMode.SHARD_GRAD_OP ? "parameters between forward and "
                    + "backward" : "layer being computed and the prefetched one");
        } else {
            weights = sp.params() * (full ? w.precision().weightBytes() : weightPerParam);
            grads = trainable * (full ? w.precision().weightBytes() : 4);
            optimizer = trainable * optimizerPerParam;
            if (par.dp() > 1) {
                buffers = grads; // DDP gradient buckets (gradient_as_bucket_view=False by default)
            }
            scheme = par.dp() > 1 ? "DDP: full replicas + gradient buckets" : "no data-parallel sharding";
        }
        if (!full) {
            weights += trainable * 4; // fp32 adapters
        }
        if (par.offloadOptimizer() != Offload.NONE) {
            host += optimizer;
            optimizer = 0;
            assumptions.add("optimizer states (and fp32 master weights) offloaded to " + par.offloadOptimizer().key());
        }
        if (par.offloadParams() != Offload.NONE) {
            host += weights;
            weights = Math.min(weights, 2 * sp.largestLayer() * c);
            assumptions.add("parameters offloaded to " + par.offloadParams().key() + "; the GPU keeps the layers "
                    + "being computed");
        }
        ActivationMemory.Saved saved = inv.saved();
        Activations act = activations(m, inv.activationWorkload(), par, stage, saved, sp);
        long tokens = (long) w.batchSize() * w.seqLen() / par.cp();
        if (par.cp() > 1 && m.attention() instanceof Attention.Standard st) {
            // ring attention: K/V chunks being sent and received, double-buffered, for the layer being computed
            buffers += 2.0 * 2 * 2 * st.numKvHeads() / Math.max(1, Math.min(par.tp(), st.numKvHeads()))
                    * st.headDim() * c * tokens;
            assumptions.add("context parallel: ring attention exchanges K/V chunks (double-buffered) per layer");
        }
        if (par.ep() > 1 && m.moe() != null) {
            // all-to-all dispatch and combine buffers: every routed token copy of the hidden state, both ways
            buffers += 2.0 * tokens * m.moe().topK() * m.hiddenSize() * c;
            assumptions.add("expert parallel: all-to-all dispatch and combine buffers of tokens × top-k × h");
        }
        Term weightsTerm = new Term("weights", "weights", (long) weights, () -> String.format(Locale.ROOT, "%s; stage %d holds "
                + "%,.0f parameters per rank (%.1f %% of the model: layers %d, TP %d%s)", scheme, stage,
                sp.params(), 100 * fraction, (int) sp.layers(), par.tp(), par.ep() > 1 ? ", EP " + par.ep() : ""));
        Term gradientsTerm = new Term("gradients", "gradients", (long) grads, () -> String.format(Locale.ROOT,
                "%,.0f trainable parameters per rank", trainable));
        Term optimizerTerm = new Term("optimizer", "optimizer states", (long) optimizer, () -> String.format(Locale.ROOT,
                "%.2f B of optimizer state per trainable parameter%s%s", optimizerPerParam,
                megatron || deepspeed ? " + 4 B fp32 master copy" : "", par.offloadOptimizer() != Offload.NONE
                        ? " (offloaded: 0 on the GPU)" : (megatron || deepspeed) && z >= 1 || fsdp
                        ? ", sharded over " + dpShard + " data-parallel ranks" : ""));
        Term activationsTerm = new Term("activations", "activations", (long) act.saved(), () -> act.formula());
        double bufferBytes = buffers;
        Term temporaryTerm = new Term("temporary", "temporaries and buffers", (long) (act.transient_() + buffers),
                () -> String.format(Locale.ROOT, "loss and recompute transients %s + communication/unsharded buffers %s",
                        Bytes.gib((long) act.transient_()), Bytes.gib((long) bufferBytes)));
        long nccl = nccl(par);
        // immutable lists built once (MemoryEstimate keeps them without copying)
        List<Term> terms = List.of(weightsTerm, gradientsTerm, optimizerTerm, activationsTerm, temporaryTerm,
                Overheads.overheadTerm(gpu, Overheads.context(w), nccl, "NCCL buffers"));
        boolean foreach = w.optimizer() == OptimizerKind.ADAMW && !w.optimizerInBackward()
                && par.offloadOptimizer() == Offload.NONE;
        // the step's temporaries: DeepSpeed builds an fp32 gradient partition; torch AdamW's foreach path one
        // state-sized list of the (sharded) parameters; Megatron's fused Adam none
        double stepTemp = deepspeed ? trainable * 4 / (z >= 1 ? Math.max(1, dpShard) : 1)
                : megatron ? 0 : foreach ? grads : 0;
        long forward = (long) (weights + optimizer + act.saved() + act.transient_() + buffers
                + (w.gradAccum() > 1 || megatron ? grads : 0));
        long step = (long) (weights + optimizer + grads + stepTemp);
        List<Phase> phases = List.of(new Phase("forward/backward (activations in flight)", forward, FORWARD_CONTENTS),
                new Phase("optimizer step", step, STEP_CONTENTS));
        Phase peak = forward >= step ? phases.get(0) : phases.get(1);
        long ws = Overheads.cublasWorkspace(gpu);
        long allocated = peak.bytes() + ws;
        long churn = Math.max(0, peak.bytes() - (long) (weights + optimizer));
        long reserved = peak.bytes() + Overheads.cublasReserved(gpu) + (long) (Overheads.FRAGMENTATION * churn);
        long used = reserved + Overheads.context(w) + nccl;
        List<Term> explanations = List.of(
                new Term("peak_allocated_bytes", "peak allocated", allocated, () -> "largest phase ('" + peak.name()
                        + "') + cuBLAS workspace"),
                new Term("peak_reserved_bytes", "peak reserved", reserved, () -> "allocated + segment rounding + "
                        + (int) (Overheads.FRAGMENTATION * 100) + " % of the transient bytes"),
                new Term("device_used_bytes", "device used (nvidia-smi)", used, () -> "reserved + CUDA context + NCCL "
                        + "buffers"));
        assumptions.add(inv.layout());
        MemoryEstimate estimate = new MemoryEstimate(terms, phases, peak, allocated, reserved, used, Optional.empty(),
                explanations, assumptions);
        return new Stage("", ranks, estimate, (long) host); // named by merge, which reports runs of equal stages
    }

    /** Micro-batches per optimizer step for each replica. */
    public static int microbatches(Workload w, Parallelism par) {
        if (par.globalBatchSize() > 0) {
            return Math.max(1, par.globalBatchSize() / (w.batchSize() * par.dp()));
        }
        return w.gradAccum();
    }

    record Activations(double saved, double transient_, java.util.function.Supplier<String> explanation) {
        String formula() {
            return explanation.get();
        }
    }

    // Per layer: the norm/residual part is replicated across TP ranks unless sequence parallel; the attention and
    // MLP parts are split by TP; context parallelism splits the sequence. Pipeline stages keep several micro-batches.
    static Activations activations(ModelSpec m, Workload w, Parallelism par, int stage,
                                   ActivationMemory.Saved saved, StageParams sp) {
        long n = (long) w.batchSize() * w.seqLen();
        int c = w.precision().computeBytes();
        int r = w.precision().weightBytes() == 4 || w.method() == Method.QLORA ? 4 : c;
        long h = m.hiddenSize();
        double replicatedPerToken = m.norms().perLayer() * (4.0 * h + 4 + (w.method() == Method.FULL ? r * h + c * h
                : 0));
        double perLayerFull = saved.averageLayer();
        double replicated = Math.min(perLayerFull, replicatedPerToken * n);
        double perLayer = (replicated / (par.sequenceParallel() ? par.tp() : 1)
                + (perLayerFull - replicated) / par.tp()) / par.cp();
        boolean ckpt = saved.recompute() > 0 && w.checkpointing() == org.gpuplan.workload.Checkpointing.FULL;
        double keptPerLayer = ckpt ? (double) r * h * n / (par.sequenceParallel() ? par.tp() : 1) / par.cp()
                : perLayer;
        boolean opSac = w.framework() == Framework.FSDP && w.checkpointing() == org.gpuplan.workload.Checkpointing.SELECTIVE
                && m.attention() instanceof Attention.Standard && m.mlp() != null;
        if (opSac) {
            // torchtitan's op-level selective checkpointing keeps each layer's input, every second matmul output
            // (q, v, gate, down in a Llama block) and the SDPA output with its log-sum-exp; the rest is recomputed
            Attention.Standard st = (Attention.Standard) m.attention();
            double q = (double) st.numHeads() * st.headDim();
            double kv = (double) st.numKvHeads() * st.headDim();
            double perToken = (double) r * h / (par.sequenceParallel() ? par.tp() : 1)
                    + c * (q + kv + m.mlp().intermediateSize() + q) / par.tp() + (double) c * h / par.tp()
                    + 4.0 * st.numHeads() / par.tp();
            keptPerLayer = perToken * n / par.cp();
            ckpt = true;
        }
        int pp = par.pp();
        int m0 = microbatches(w, par);
        double inFlight;
        if (pp == 1) {
            inFlight = 1;
        } else if (par.ppSchedule() == PpSchedule.GPIPE) {
            inFlight = m0;
        } else {
            inFlight = Math.min(pp - stage, m0);
            if (par.ppSchedule() == PpSchedule.INTERLEAVED && stage == 0) {
                inFlight *= 1 + (pp - 1) / (double) (pp * par.virtualPp());
            }
        }
        double layers = sp.layers() * keptPerLayer * inFlight;
        double outside = 0;
        double passing = ckpt ? perLayer : 0; // one layer rebuilt at a time during backward
        if (stage == pp - 1) {
            outside += saved.outside() / (double) par.tp() / par.cp();
            // Megatron's vocab-parallel cross-entropy upcasts the logits to fp32 once (that buffer, kept for
            // backward, is the saved 4·V per token above) and turns it into the gradient in place (softmax −
            // one-hot), then casts it back: beyond the saved buffer only the 16-bit logits (c bytes per logit) are
            // alive, not the separate fp32 logits, log-softmax and gradient copies of an eager loss
            double loss = w.framework() == Framework.MEGATRON
                    ? (double) w.precision().computeBytes() * m.vocabSize() * w.batchSize() * w.seqLen()
                    : Math.max(saved.lossForward(), saved.lossBackward());
            passing += loss / par.tp() / par.cp();
        }
        outside += saved.shared() / (double) par.cp();
        double kept = keptPerLayer, replicatedBytes = replicated, flight = inFlight; // captured by the explanation
        java.util.function.Supplier<String> formula = () -> String.format(Locale.ROOT, "%d layers × %s per layer "
                + "(replicated norm part %s%s, rest / "
                        + "TP %d, / CP %d) × %.2f micro-batches in flight (%s)%s", (int) sp.layers(),
                Bytes.mib((long) kept), Bytes.mib((long) replicatedBytes), par.sequenceParallel()
                        ? " / TP (sequence parallel)" : "", par.tp(), par.cp(), flight, par.ppSchedule().key(),
                stage == pp - 1 ? "; + LM head and loss / TP" : "");
        return new Activations(layers + outside, passing, formula);
    }

    /** Whether the model's attention can be split over tp ranks. */
    static boolean tpSplitsKv(ModelSpec m, int tp) {
        return !(m.attention() instanceof Attention.Standard s) || s.numKvHeads() >= tp;
    }
}
