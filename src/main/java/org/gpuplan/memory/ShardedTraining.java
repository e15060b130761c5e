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
import org.gpuplan.workload.QuantFormat;
import org.gpuplan.workload.TrainingLayout;
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
        return nccl(par.gpus(), par.tp(), par.pp(), par.cp(), par.ep(), par.dp());
    }

    private static long nccl(int gpus, int tp, int pp, int cp, int ep, int dp) {
        if (gpus == 1) {
            return 0;
        }
        int widest = Math.max(Math.max(tp, pp), Math.max(cp, Math.max(ep, dp)));
        return widest <= 2 ? NCCL_SMALL : NCCL;
    }
    /** DeepSpeed reduce_bucket_size / allgather_bucket_size default: 5e8 elements (zero/config.py). */
    static final long DS_BUCKET = 500_000_000L;
    /** DeepSpeed stage3_max_live_parameters default: 1e9 elements. */
    static final long DS_MAX_LIVE = 1_000_000_000L;

    /** What is alive in each phase (immutable, shared by every stage). */
    private static final List<String> FORWARD_CONTENTS = List.of("weights", "optimizer", "activations", "temporary");
    private static final List<String> STEP_CONTENTS = List.of("weights", "optimizer", "gradients", "temporary");

    /** One pipeline stage's estimate (with what each of its ranks puts in host memory). */
    public record Stage(String name, int ranks, MemoryEstimate memory) {
    }

    private ShardedTraining() {
    }

    public static List<Stage> estimate(ModelSpec m, ParameterBreakdown p, Workload w, Optional<Gpu> gpu) {
        Parallelism par = w.parallelism();
        check(m, w, par);
        List<Stage> stages = new ArrayList<>();
        int pp = par.pp();
        int perStage = par.gpus() / pp;
        Invariants inv = invariants(m, p, w, gpu);
        TrainingLayout layout = TrainingLayout.of(w);
        // plain concatenation: this runs for every candidate the planner scores (same text as %d/%s formatting)
        String layoutText = "dp " + par.dp() + " × tp " + par.tp() + " × pp " + par.pp() + " × cp " + par.cp() + "; "
                + microbatches(w, par) + " micro-batches per step; schedule " + par.ppSchedule().key();
        for (int s = 0; s < pp; s++) {
            stages.add(stage(m, p, w, gpu, s, perStage, inv, layout, layoutText));
        }
        return merge(stages, pp, perStage);
    }

    /**
     * What every pipeline stage shares, computed once per estimate: the workload as the model runs it (16-bit
     * parameters under FSDP mixed precision, DeepSpeed and Megatron), the weights of the whole model in that dtype,
     * the optimizer bytes per trainable parameter, what autograd saves per layer and the LoRA parameter count, and
     * the fixed overheads. A planner keeps one per combination of method, sharding family, micro-batch and
     * checkpointing, and varies the rest of the layout.
     */
    public record Invariants(Workload compute, Term baseWeights, double optimizerPerParam,
                             ActivationMemory.Saved saved, Workload activationWorkload, double loraParameters,
                             long context, long cublasWorkspace, long cublasReserved) {
    }

    /** The stage-invariant parts of the training workload {@code w} (its own layout decides the sharding family). */
    public static Invariants invariants(ModelSpec m, ParameterBreakdown p, Workload w, Optional<Gpu> gpu) {
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
        double optimizerPerParam = TrainingMemory.optimizer(m, w, 1_000_000, full ? w.precision().weightBytes()
                : LoraAdapters.bytesPerParameter(w))
                .value() / 1e6;
        // FSDP needs one dtype per flat parameter, so QLoRA under FSDP keeps the non-quantized parameters in the 16-bit
        // storage dtype (bnb_4bit_quant_storage) instead of prepare_model_for_kbit_training's fp32 upcast: the
        // residual stream stays 16-bit, as with LoRA
        boolean qloraFsdp = w.method() == Method.QLORA && fsdp0;
        // (a preference objective's chosen and rejected sequences run as one batch of twice the micro-batch)
        Workload activationWorkload = (qloraFsdp ? compute.withMethod(Method.LORA) : compute).sequences();
        return new Invariants(compute, baseWeights, optimizerPerParam, ActivationMemory.training(m,
                activationWorkload), activationWorkload, full ? 0 : LoraAdapters.parameters(m, w),
                Overheads.context(w), Overheads.cublasWorkspace(gpu), Overheads.cublasReserved(gpu));
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
                out.add(new Stage(stageName(from, s - 1, pp), (s - from) * perStage, first.memory()));
                from = s;
            }
        }
        return out;
    }

    /** Model-dependent consistency: TP within the heads, PP within the layers, EP within the experts. */
    static void check(ModelSpec m, Workload w, Parallelism par) {
        InvalidInputException problem = w.training() ? Parallelism.trainingExpertProblem(par.gpus(), par.tp(),
                par.pp(), par.cp(), par.ep()) : null;
        if (problem == null) {
            problem = problem(m, w.framework(), par.tp(), par.pp(), par.ep(), par.zero(), par.fsdp());
        }
        if (problem != null) {
            throw problem;
        }
    }

    /** A LoRA base FSDP shards as loaded: not quantized, so its flat parameters keep the storage dtype. */
    private static boolean frozenInStorageDtype(Workload w) {
        return w.method() != Method.FULL && w.quant() == QuantFormat.NONE;
    }

    /** What is wrong with this layout for this model and framework, or null (builds no message when none is). */
    public static InvalidInputException problem(ModelSpec m, Framework framework, int tp, int pp, int ep, int zero,
                                                FsdpMode fsdp) {
        int heads = m.attention().numHeads();
        if (heads % tp != 0) {
            return new InvalidInputException("tp: " + tp + " does not divide the " + heads + " attention heads "
                    + "of " + m.name() + " (choose a tp that divides " + heads + ")");
        }
        if (pp > m.numLayers()) {
            return new InvalidInputException("pp: " + pp + " pipeline stages for " + m.numLayers()
                    + " layers; use at most " + m.numLayers());
        }
        if (ep > 1 && (m.moe() == null || m.moe().numExperts() % ep != 0)) {
            return new InvalidInputException("ep: " + (m.moe() == null ? m.name() + " has no experts"
                    : ep + " does not divide the " + m.moe().numExperts() + " experts") + " (use ep 1"
                    + (m.moe() == null ? "" : " or a divisor of " + m.moe().numExperts()) + ")");
        }
        if (zero >= 2 && pp > 1 && framework == Framework.DEEPSPEED) {
            // deepspeed/runtime/pipe/engine.py: "ZeRO-2 and ZeRO-3 are incompatible with pipeline parallelism"
            return new InvalidInputException("zero: DeepSpeed refuses ZeRO-" + zero + " with pipeline parallelism "
                    + "(its PipelineEngine allows stages 0 and 1); use zero 0 or 1 with pp > 1, or pp 1 with zero "
                    + zero);
        }
        if (zero >= 2 && framework == Framework.MEGATRON) {
            return new InvalidInputException("zero: Megatron-LM's distributed optimizer shards optimizer states "
                    + "(zero 1); ZeRO-" + zero + " is DeepSpeed's. Use zero 1 with megatron, or --framework deepspeed");
        }
        if (zero > 0 && framework == Framework.FSDP) {
            return new InvalidInputException("zero: ZeRO stages are DeepSpeed's; with --framework fsdp use --fsdp "
                    + "shard_grad_op (gradients and optimizer states, like ZeRO-2) or full_shard (like ZeRO-3)");
        }
        if (fsdp != FsdpMode.NONE && (framework == Framework.DEEPSPEED || framework == Framework.MEGATRON)) {
            return new InvalidInputException("fsdp: " + framework.key() + " does not use PyTorch FSDP; use --zero "
                    + "for its sharding, or --framework fsdp");
        }
        return null;
    }

    /** Parameters a stage's ranks hold before data-parallel sharding, split into TP-split and replicated parts. */
    record StageParams(double params, double largestLayer, double layers) {
    }

    static StageParams stageParams(ModelSpec m, ParameterBreakdown p, Parallelism par, int stage) {
        StageBytes b = new StageBytes();
        stageParams(m, p, par.tp(), par.pp(), par.ep(), stage, true, b);
        return new StageParams(b.params, b.largestLayer, b.layers);
    }

    /**
     * The first layer of a pipeline stage (stage = pp gives the layer count). Training splits evenly by
     * ⌊stage·L/pp⌋; serving engines give every stage ⌊L/pp⌋ layers and hand the remainder, one each, to the stages
     * just before the last, which already holds the LM head (vLLM get_pp_indices).
     */
    static int firstLayer(int layers, int pp, int stage, boolean serving) {
        if (!serving) {
            return (int) ((long) stage * layers / pp);
        }
        int base = layers / pp;
        int extra = layers % pp;
        // stages pp-1-extra .. pp-2 get one more layer each
        int firstExtra = pp - 1 - extra;
        return stage * base + Math.max(0, Math.min(stage, pp - 1) - firstExtra);
    }

    /** Fills {@code out.params}, {@code out.largestLayer} and {@code out.layers} for one pipeline stage. */
    private static void stageParams(ModelSpec m, ParameterBreakdown p, int tp, int pp, int ep, int stage,
                                    boolean serving, StageBytes out) {
        long h = m.hiddenSize();
        double perNorm = (double) m.norms().kind().paramsPerFeature() * h;
        // every dense layer holds the same parameters, and every MoE layer: cost each kind once
        double replicated = ParameterCounter.attentionReplicatedPerLayer(m.attention(), h);
        double attention = (ParameterCounter.attentionPerLayer(m.attention(), h) - replicated) / (double) tp
                + replicated;
        double norms = m.norms().perLayer() * perNorm;
        double dense = m.mlp() == null ? 0 : attention + ParameterCounter.mlpParams(m.mlp(), h) / (double) tp + norms;
        double moe = 0;
        if (m.moe() != null) {
            double expert = ParameterCounter.expertParams(m.moe(), h);
            double experts = m.moe().numExperts() * expert / (ep > 1 ? ep : tp);
            double shared = m.moe().sharedIntermediateSize() * 3.0 * h / tp;
            moe = attention + experts + shared + (double) m.moe().numExperts() * h + norms;
        }
        int from = firstLayer(m.numLayers(), pp, stage, serving);
        int to = firstLayer(m.numLayers(), pp, stage + 1, serving);
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
        out.params = total;
        out.largestLayer = largest;
        out.layers = layers;
    }

    /**
     * One pipeline stage's bytes per rank, as numbers: what {@link #bytes} fills. Mutable so that a search can reuse
     * one per thread; the estimator wraps the numbers in explained terms.
     */
    public static final class StageBytes {
        /** Parameters the stage's ranks hold before data-parallel sharding, its largest layer, its layer count. */
        public double params;
        public double largestLayer;
        public double layers;
        public double trainable;
        public int dpShard;
        public double weights;
        public double grads;
        public double optimizer;
        public double buffers;
        public double host;
        /** Saved activations waiting in host memory (activation offloading). */
        public double hostActivations;
        /** Saved activations, and the loss/recompute transients on top of them. */
        public double activations;
        public double transients;
        /** Saved bytes per layer kept for backward, the replicated (norm/residual) part, micro-batches in flight. */
        public double keptPerLayer;
        public double replicated;
        public double inFlight;
        public double stepTemporaries;
        public long nccl;
        public long forwardPhase;
        public long stepPhase;
        public long allocated;
        public long reserved;
        public long deviceUsed;

        /** The figures a memory estimate refuses (below zero or beyond 64 PiB): the workload's sizes overflowed. */
        public boolean plausible() {
            return MemoryEstimate.sane((long) weights) && MemoryEstimate.sane((long) grads)
                    && MemoryEstimate.sane((long) optimizer) && MemoryEstimate.sane((long) activations)
                    && MemoryEstimate.sane((long) (transients + buffers)) && MemoryEstimate.sane(forwardPhase)
                    && MemoryEstimate.sane(stepPhase) && MemoryEstimate.sane(allocated)
                    && MemoryEstimate.sane(reserved) && MemoryEstimate.sane(deviceUsed);
        }
    }

    /**
     * The bytes per rank of pipeline stage {@code stage}: weights, gradients and optimizer states under the
     * framework's sharding, activations in flight, buffers, the two phases and the three peaks. {@code w} supplies
     * only what the layout does not (method, framework, precision, optimizer, sequence length); the layout comes from
     * {@code layout}. Allocates nothing.
     */
    public static void bytes(ModelSpec m, ParameterBreakdown p, Workload w, Invariants inv, TrainingLayout layout,
                             int stage, StageBytes out) {
        stageParams(m, p, layout.tp, layout.pp, layout.ep, stage, false, out);
        boolean full = w.method() == Method.FULL;
        double trainable = full ? out.params : inv.loraParameters() * (out.layers / m.numLayers()) / layout.tp;
        int dp = layout.dp();
        int dpShard = layout.fsdp == FsdpMode.HYBRID_SHARD ? Math.max(1, layout.gpusPerNode() / (layout.tp * layout.cp))
                : layout.fsdp != FsdpMode.NONE ? dp * layout.cp : dp;
        int c = w.precision().computeBytes();
        double weightPerParam = inv.baseWeights().value() / (double) p.totalCount();
        double optimizerPerParam = inv.optimizerPerParam();
        double weights;
        double grads;
        double optimizer;
        double buffers = 0;
        double host = 0;
        boolean deepspeed = w.framework() == Framework.DEEPSPEED || layout.zero > 0 && w.framework() != Framework.MEGATRON;
        boolean megatron = w.framework() == Framework.MEGATRON;
        boolean fsdp = layout.fsdpShards();
        int z = layout.zero;
        if (megatron) {
            // bf16 params + fp32 main grads; fp32 master params and Adam states sharded by the distributed optimizer
            weights = out.params * 2;
            grads = trainable * 4;
            optimizer = trainable * (4 + optimizerPerParam) / (z >= 1 ? dp : 1);
        } else if (deepspeed) {
            // 16-bit model and gradients, fp32 master copy with the optimizer states (ZeRO paper's K = 12 for Adam)
            double master = w.precision().weightBytes() == 4 && !w.precision().mixed() ? 0 : 4;
            weights = out.params * (full ? 2 : weightPerParam) / (z == 3 ? dpShard : 1);
            grads = trainable * 2 / (z >= 2 ? dpShard : 1);
            optimizer = trainable * (master + optimizerPerParam) / (z >= 1 ? dpShard : 1);
            buffers = Math.min(DS_BUCKET, trainable) * 2 * (z == 3 ? 2 : 1); // IPG buckets (×2 with overlap_comm)
            if (z == 3) {
                buffers += Math.min(DS_MAX_LIVE, 2 * out.largestLayer) * 2; // gathered layer + prefetch
            }
        } else if (fsdp) {
            int wb = w.precision().weightBytes();
            double unit = out.largestLayer * c;
            // flat parameters keep the dtype the model was loaded in (fp32 under bf16-/fp16-mixed); MixedPrecision
            // casts only the gathered copy, so a frozen non-quantized base is sharded in its storage dtype too
            weights = out.params * (full || frozenInStorageDtype(w) ? wb : weightPerParam) / dpShard;
            grads = trainable * (full ? wb : LoraAdapters.bytesPerParameter(w)) / dpShard;
            optimizer = trainable * optimizerPerParam / dpShard;
            if (layout.pp > 1 && w.framework() == Framework.FSDP) {
                // torch.distributed.pipelining with FSDP2 (torchtitan): parameters are not resharded between
                // micro-batches (reshard_after_forward off when PP is on; set_reshard_after_backward(False)) and
                // gradients are not reduce-scattered until the last micro-batch (set_requires_gradient_sync(False)),
                // so the stage keeps unsharded parameters and unsharded gradients accumulated in the fp32 reduce dtype
                buffers = out.params * c + (layout.microbatches() > 1 ? trainable * 4 : 0);
            } else if (layout.fsdp == FsdpMode.SHARD_GRAD_OP) {
                buffers = out.params * c; // unsharded compute-dtype parameters kept from forward to backward
            } else {
                buffers = 2 * unit + 2 * out.largestLayer * (full ? wb : 0); // gathered unit + prefetch; its grads
            }
        } else {
            weights = out.params * (full ? w.precision().weightBytes() : weightPerParam);
            grads = trainable * (full ? w.precision().weightBytes() : 4);
            optimizer = trainable * optimizerPerParam;
            if (dp > 1) {
                buffers = grads; // DDP gradient buckets (gradient_as_bucket_view=False by default)
            }
        }
        if (!full) {
            weights += trainable * LoraAdapters.bytesPerParameter(w); // adapters (fp32 with PEFT)
        }
        if (layout.offloadOptimizer != Offload.NONE) {
            host += optimizer;
            optimizer = 0;
        }
        if (layout.offloadParams != Offload.NONE) {
            host += weights;
            // FSDP's CPU offload keeps the sharded parameters and gradients on the host (the optimizer steps there);
            // FSDP2 (torchtune, torchtitan) gathers units straight from pinned host shards into the buffers above;
            // FSDP1 (accelerate, the transformers Trainer) first copies each unit's shard to the GPU
            boolean fsdp2 = w.framework() != Framework.HF;
            weights = fsdp && fsdp2 ? 0 : Math.min(weights, 2 * out.largestLayer * c);
            if (fsdp) {
                host += grads;
                grads = 0;
            }
        }
        activations(m, inv.activationWorkload(), layout, stage, inv.saved(), out);
        long tokens = (long) layout.batchSize * w.seqLen() / layout.cp;
        if (layout.ep > 1 && m.moe() != null) {
            // all-to-all dispatch and combine buffers: every routed token copy of the hidden state, both ways
            buffers += 2.0 * tokens * m.moe().topK() * m.hiddenSize() * c;
        }
        long nccl = nccl(layout.gpus, layout.tp, layout.pp, layout.cp, layout.ep, dp);
        boolean foreach = w.optimizer() == OptimizerKind.ADAMW && !w.optimizerInBackward()
                && layout.offloadOptimizer == Offload.NONE;
        // the step's temporaries: DeepSpeed builds an fp32 gradient partition; torch AdamW's foreach path one
        // state-sized list of the (sharded) parameters; Megatron's fused Adam none
        double stepTemp = deepspeed ? trainable * 4 / (z >= 1 ? Math.max(1, dpShard) : 1)
                : megatron ? 0 : foreach ? grads : 0;
        long forward = (long) (weights + optimizer + out.activations + out.transients + buffers
                + (layout.gradAccum > 1 || megatron ? grads : 0));
        long step = (long) (weights + optimizer + grads + stepTemp);
        long peak = Math.max(forward, step);
        long churn = Math.max(0, peak - (long) (weights + optimizer));
        out.trainable = trainable;
        out.dpShard = dpShard;
        out.weights = weights;
        out.grads = grads;
        out.optimizer = optimizer;
        out.buffers = buffers;
        out.host = host + out.hostActivations;
        out.stepTemporaries = stepTemp;
        out.nccl = nccl;
        out.forwardPhase = forward;
        out.stepPhase = step;
        out.allocated = peak + inv.cublasWorkspace();
        out.reserved = peak + inv.cublasReserved() + (long) (Overheads.FRAGMENTATION * churn);
        out.deviceUsed = out.reserved + inv.context() + nccl;
    }

    private static Stage stage(ModelSpec m, ParameterBreakdown p, Workload w, Optional<Gpu> gpu, int stage,
                               int ranks, Invariants inv, TrainingLayout layout, String layoutText) {
        Parallelism par = w.parallelism();
        StageBytes b = new StageBytes();
        bytes(m, p, w, inv, layout, stage, b);
        double fraction = b.params / p.totalCount();
        double trainable = b.trainable;
        int dpShard = b.dpShard;
        double optimizerPerParam = inv.optimizerPerParam();
        List<String> assumptions = new ArrayList<>();
        ActivationMemory.linearAttentionAssumption(m).ifPresent(assumptions::add);
        boolean deepspeed = w.framework() == Framework.DEEPSPEED || par.zero() > 0 && w.framework() != Framework.MEGATRON;
        boolean megatron = w.framework() == Framework.MEGATRON;
        boolean fsdp = par.fsdp() != FsdpMode.NONE && par.fsdp() != FsdpMode.NO_SHARD;
        int z = par.zero();
        String scheme;
        if (megatron) {
            scheme = z >= 1 ? "Megatron distributed optimizer: 2 + 4 + 12/DP bytes per parameter"
                    : "Megatron: 18 bytes per parameter";
        } else if (deepspeed) {
            scheme = "DeepSpeed ZeRO-" + z + ": 16-bit params" + (z == 3 ? "/DP" : "") + " + 16-bit grads"
                    + (z >= 2 ? "/DP" : "") + " + fp32 master and optimizer states" + (z >= 1 ? "/DP" : "")
                    + " + reduce buckets " + Bytes.gib((long) (Math.min(DS_BUCKET, trainable) * 2 * (z == 3 ? 2 : 1)));
        } else if (fsdp) {
            boolean pipelined = par.pp() > 1 && w.framework() == Framework.FSDP;
            scheme = "FSDP " + par.fsdp().key() + ": parameters"
                    + (frozenInStorageDtype(w) ? " (the frozen base in its " + w.precision().weightBytes()
                    + "-byte storage dtype)" : "")
                    + ", gradients and optimizer states / " + dpShard
                    + " + unsharded " + (pipelined ? "stage parameters and fp32 gradients kept across micro-batches "
                    + "(pipeline schedule)" : par.fsdp() == FsdpMode.SHARD_GRAD_OP ? "parameters between forward and "
                    + "backward" : "layer being computed and the prefetched one");
        } else {
            scheme = par.dp() > 1 ? "DDP: full replicas + gradient buckets" : "no data-parallel sharding";
        }
        if (fsdp && frozenInStorageDtype(w) && w.precision().weightBytes() == 4) {
            assumptions.add("FSDP shards the frozen base in the dtype it was loaded in: fp32 under "
                    + w.precision().key() + " (as PEFT's examples load it); say precision bf16 if you load it in bf16");
        }
        if (par.offloadOptimizer() != Offload.NONE) {
            assumptions.add("optimizer states (and fp32 master weights) offloaded to " + par.offloadOptimizer().key());
        }
        if (par.offloadParams() != Offload.NONE) {
            assumptions.add("parameters offloaded to " + par.offloadParams().key() + "; the GPU keeps the layers "
                    + "being computed");
        }
        if (par.cp() > 1 && m.attention() instanceof Attention.Standard) {
            assumptions.add(w.framework() == Framework.FSDP
                    ? "context parallel (PyTorch context_parallel): each layer's attention all-gathers the sequence's "
                    + "K/V and accumulates its gradients in fp32 (" + Bytes.gib((long) ringAttention(m, w, layout))
                    + " during a layer's backward)"
                    : "context parallel: ring attention exchanges K/V chunks (double-buffered) per layer");
        }
        if (par.ep() > 1 && m.moe() != null) {
            assumptions.add("expert parallel: all-to-all dispatch and combine buffers of tokens × top-k × h");
        }
        double params = b.params;
        double layers = b.layers;
        Term weightsTerm = new Term("weights", "weights", (long) b.weights, () -> String.format(Locale.ROOT, "%s; stage "
                + "%d holds %,.0f parameters per rank (%.1f %% of the model: layers %d, TP %d%s)", scheme, stage,
                params, 100 * fraction, (int) layers, par.tp(), par.ep() > 1 ? ", EP " + par.ep() : ""));
        Term gradientsTerm = new Term("gradients", "gradients", (long) b.grads, () -> String.format(Locale.ROOT,
                "%,.0f trainable parameters per rank", trainable));
        Term optimizerTerm = new Term("optimizer", "optimizer states", (long) b.optimizer, () -> String.format(
                Locale.ROOT, "%.2f B of optimizer state per trainable parameter%s%s", optimizerPerParam,
                megatron || deepspeed ? " + 4 B fp32 master copy" : "", par.offloadOptimizer() != Offload.NONE
                        ? " (offloaded: 0 on the GPU)" : (megatron || deepspeed) && z >= 1 || fsdp
                        ? ", sharded over " + dpShard + " data-parallel ranks" : ""));
        double kept = b.keptPerLayer, replicatedBytes = b.replicated, flight = b.inFlight; // captured below
        Term activationsTerm = new Term("activations", "activations", (long) b.activations, () -> String.format(
                Locale.ROOT, "%d layers × %s per layer (replicated norm part %s%s, rest / TP %d, / CP %d) × %.2f "
                        + "micro-batches in flight (%s)%s", (int) layers, Bytes.mib((long) kept),
                Bytes.mib((long) replicatedBytes), par.sequenceParallel() ? " / TP (sequence parallel)" : "",
                par.tp(), par.cp(), flight, par.ppSchedule().key(), stage == par.pp() - 1
                        ? "; + LM head and loss / TP" : ""));
        double bufferBytes = b.buffers;
        double transients = b.transients;
        Term temporaryTerm = new Term("temporary", "temporaries and buffers", (long) (transients + bufferBytes),
                () -> String.format(Locale.ROOT, "loss and recompute transients %s%s + communication/unsharded "
                        + "buffers %s", Bytes.gib((long) transients), stage == par.pp() - 1
                        && w.framework() != Framework.MEGATRON ? " (loss: " + ActivationMemory.lossDescription(w)
                        + (w.framework() == Framework.FSDP && par.pp() > 1 ? "; the stage's fp32 logits output kept "
                        + "through it" : "") + ")" : "", Bytes.gib((long) bufferBytes)));
        // immutable lists built once (MemoryEstimate keeps them without copying)
        List<Term> terms = List.of(weightsTerm, gradientsTerm, optimizerTerm, activationsTerm, temporaryTerm,
                Overheads.overheadTerm(gpu, inv.context(), b.nccl, "NCCL buffers"));
        List<Phase> phases = List.of(new Phase("forward/backward (activations in flight)", b.forwardPhase,
                FORWARD_CONTENTS), new Phase("optimizer step", b.stepPhase, STEP_CONTENTS));
        Phase peak = b.forwardPhase >= b.stepPhase ? phases.get(0) : phases.get(1);
        List<Term> explanations = List.of(
                new Term("peak_allocated_bytes", "peak allocated", b.allocated, () -> "largest phase ('" + peak.name()
                        + "') + cuBLAS workspace"),
                new Term("peak_reserved_bytes", "peak reserved", b.reserved, () -> "allocated + segment rounding + "
                        + (int) (Overheads.FRAGMENTATION * 100) + " % of the transient bytes"),
                new Term("device_used_bytes", "device used (nvidia-smi)", b.deviceUsed, () -> "reserved + CUDA context "
                        + "+ NCCL buffers"));
        assumptions.add(layoutText);
        MemoryEstimate estimate = new MemoryEstimate(terms, phases, peak, b.allocated, b.reserved, b.deviceUsed,
                Optional.empty(), explanations, assumptions, (long) b.host);
        return new Stage("", ranks, estimate); // named by merge, which reports runs of equal stages
    }

    /** Micro-batches per optimizer step for each replica. */
    public static int microbatches(Workload w, Parallelism par) {
        return TrainingLayout.microbatches(par.globalBatchSize(), w.batchSize(), par.dp(), w.gradAccum());
    }

    // Per layer: the norm/residual part is replicated across TP ranks unless sequence parallel; the attention and
    // MLP parts are split by TP; context parallelism splits the sequence. Pipeline stages keep several micro-batches.
    // Fills activations, transients, keptPerLayer, replicated and inFlight (needs params/layers filled).
    static void activations(ModelSpec m, Workload w, TrainingLayout par, int stage, ActivationMemory.Saved saved,
                            StageBytes out) {
        long n = (long) par.batchSize * w.seqLen();
        int c = w.precision().computeBytes();
        int r = w.precision().weightBytes() == 4 || WeightMemory.kbitUpcast(w) ? 4 : c;
        long h = m.hiddenSize();
        // (torch.compile's fused norms keep no fp32 upcast: ActivationMemory)
        double upcast = ActivationMemory.compileFusesNorms(m, w) ? 0 : 4.0 * h;
        double replicatedPerToken = m.norms().perLayer() * (upcast + 4 + (w.method() == Method.FULL ? r * h + c * h
                : 0));
        double perLayerFull = saved.averageLayer();
        double replicated = Math.min(perLayerFull, replicatedPerToken * n);
        double perLayer = (replicated / (par.sequenceParallel ? par.tp : 1)
                + (perLayerFull - replicated) / par.tp) / par.cp;
        boolean ckpt = saved.recompute() > 0 && par.checkpointing == org.gpuplan.workload.Checkpointing.FULL;
        double keptPerLayer = ckpt ? (double) r * h * n / (par.sequenceParallel ? par.tp : 1) / par.cp
                : perLayer;
        boolean opSac = ActivationMemory.opLevelSelective(m, w.framework(), par.checkpointing);
        if (opSac) {
            // torchtitan's op-level selective checkpointing keeps each layer's input, every second matmul output
            // (q, v, gate, down in a Llama block) and the SDPA output with its log-sum-exp; the rest is recomputed
            Attention.Standard st = (Attention.Standard) m.attention();
            double q = (double) st.numHeads() * st.headDim();
            double kv = (double) st.numKvHeads() * st.headDim();
            double perToken = (double) r * h / (par.sequenceParallel ? par.tp : 1)
                    + c * (q + kv + m.mlp().intermediateSize() + q) / par.tp + (double) c * h / par.tp
                    + 4.0 * st.numHeads() / par.tp;
            keptPerLayer = perToken * n / par.cp;
            ckpt = true;
        }
        int pp = par.pp;
        int m0 = par.microbatches();
        double inFlight;
        if (pp == 1) {
            inFlight = 1;
        } else if (par.ppSchedule == PpSchedule.GPIPE) {
            inFlight = m0;
        } else {
            inFlight = Math.min(pp - stage, m0);
            if (par.ppSchedule == PpSchedule.INTERLEAVED && stage == 0) {
                inFlight *= 1 + (pp - 1) / (double) (pp * par.virtualPp);
            }
        }
        double layers = out.layers * keptPerLayer * inFlight;
        out.hostActivations = 0;
        if (w.activationOffloading()) {
            // saved tensors wait in host memory; the layer running and the one in transit stay (ActivationMemory)
            double onGpu = Math.min(layers, ActivationMemory.OFFLOAD_LAYERS_ON_GPU * keptPerLayer);
            out.hostActivations = layers - onGpu;
            layers = onGpu;
        }
        double outside = 0;
        double passing = ckpt ? perLayer : 0; // one layer rebuilt at a time during backward
        double lossPassing = 0;
        if (stage == pp - 1) {
            outside += saved.outside() / (double) par.tp / par.cp;
            // Megatron's vocab-parallel cross-entropy upcasts the logits to fp32 once (that buffer, kept for
            // backward, is the saved 4·V per token above) and turns it into the gradient in place (softmax −
            // one-hot), then casts it back: beyond the saved buffer only the 16-bit logits (c bytes per logit) are
            // alive, not the separate fp32 logits, log-softmax and gradient copies of an eager loss
            // torch.distributed.pipelining keeps a stage's forward output (torchtitan: the fp32 logits of
            // output(h).float()) in its forward cache until that micro-batch's backward has run, through the loss
            double logits = (double) ActivationMemory.lossWidth(m) * par.batchSize * w.seqLen();
            double stageOutput = w.framework() == Framework.FSDP && par.pp > 1 ? 4.0 * logits : 0;
            // torchtitan turns on loss_parallel with TP: its decomposed log-softmax needs more than the fused kernel
            ActivationMemory.Loss lp = ActivationMemory.lossParallel(w, par.tp)
                    ? ActivationMemory.lossParallel(logits) : null;
            double loss = w.framework() == Framework.MEGATRON
                    ? (double) w.precision().computeBytes() * m.vocabSize() * par.batchSize * w.seqLen()
                    : lp != null ? Math.max(lp.forward(), lp.backward() + stageOutput)
                    : Math.max(saved.lossForward(), saved.lossBackward() + stageOutput);
            lossPassing = loss / par.tp / par.cp;
        }
        // the loss's buffers are gone by the time a layer's backward runs its ring-attention exchange
        passing += Math.max(lossPassing, ringAttention(m, w, par));
        outside += saved.shared() / (double) par.cp;
        out.activations = layers + outside;
        out.transients = passing;
        out.keptPerLayer = keptPerLayer;
        out.replicated = replicated;
        out.inFlight = inFlight;
    }

    /**
     * Context parallelism's exchange buffers during one layer's attention backward. PyTorch's context_parallel (as
     * torchtitan uses it) all-gathers the whole sequence's K and V once per call (rotate method ALL_GATHER, the
     * default) and accumulates dq, dk, dv in fp32 (convert_to_f32), sending and receiving the fp32 dk/dv as it goes:
     * (2·c·cp + 3·4 + 2·2·4) bytes per local element, with K/V already repeated to the query heads (torchtitan calls
     * repeat_kv before SDPA). Megatron's ring (Transformer Engine, p2p) and DeepSpeed double-buffer the K/V chunks
     * of the key/value heads: 2·2·2·c bytes per local K element. Sources: torch/distributed/tensor/experimental/
     * _attention.py (_AllGatherRotater, _templated_ring_attention_backward); torchtitan models/llama/model.py.
     */
    static double ringAttention(ModelSpec m, Workload w, TrainingLayout par) {
        if (par.cp <= 1 || !(m.attention() instanceof Attention.Standard st)) {
            return 0;
        }
        int c = w.precision().computeBytes();
        double tokens = (double) par.batchSize * w.seqLen() / par.cp;
        if (w.framework() == Framework.FSDP) {
            double elements = tokens * st.numHeads() / par.tp * st.headDim();
            return (2.0 * c * par.cp + 12 + 16) * elements;
        }
        double kvElements = tokens * st.numKvHeads() / Math.max(1, Math.min(par.tp, st.numKvHeads())) * st.headDim();
        return 2.0 * 2 * 2 * c * kvElements;
    }

    /** Whether the model's attention can be split over tp ranks. */
    static boolean tpSplitsKv(ModelSpec m, int tp) {
        return !(m.attention() instanceof Attention.Standard s) || s.numKvHeads() >= tp;
    }
}
