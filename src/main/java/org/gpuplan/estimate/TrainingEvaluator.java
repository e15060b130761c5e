package org.gpuplan.estimate;

import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.memory.ShardedTraining;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.ParameterCounter;
import org.gpuplan.perf.TrainingPerf;
import org.gpuplan.workload.Parallelism;
import org.gpuplan.workload.TrainingLayout;
import org.gpuplan.workload.Workload;

/**
 * Whether a multi-GPU training layout fits, and how fast it runs, without building an {@link Estimate}: the same
 * numeric cores as {@link Estimator} (the sharded memory model stage by stage, the step-time model), minus the
 * explanations, for searches that score millions of layouts.
 *
 * <p>A search fixes the model, the GPU and a few <em>variants</em> (validated workloads that differ in method,
 * optimizer or framework) and varies a {@link TrainingLayout}. What depends only on the variant, the micro-batch,
 * tp, cp, ep, the sharding family and checkpointing (what autograd saves, the cost of each pass) is computed on
 * first use and kept; after that an evaluation allocates nothing. One instance per thread.
 */
public final class TrainingEvaluator {

    /** The verdict on one layout. Mutable and reused: read it before the next evaluation. */
    public static final class Result {
        /** False when the layout is not a valid workload (the estimator would refuse it). */
        public boolean valid;
        /** Whether every rank fits the GPU (paged optimizer states do not count, as in {@link Estimate#fit()}). */
        public boolean fits;
        /** Device memory of the fullest rank, bytes (as nvidia-smi shows it). */
        public long deviceUsedBytes;
        /** What decides the fit: the fullest rank less its paged optimizer states, bytes. */
        public long requiredBytes;
        public double stepS;
        public double tokensPerS;
    }

    private final ModelSpec spec;
    private final ParameterBreakdown params;
    private final Gpu gpu;
    private final Optional<Gpu> someGpu;
    private final Workload[] variants;
    private final Memo<ShardedTraining.Invariants> invariants = new Memo<>();
    private final Memo<TrainingPerf.Passes> passes = new Memo<>();
    private final ShardedTraining.StageBytes stage = new ShardedTraining.StageBytes();
    private final TrainingPerf.Step step = new TrainingPerf.Step();

    /**
     * @param variants the workloads a search switches between (training on several GPUs); a layout is evaluated
     *                 with the method, framework, precision, optimizer and options of one of them
     */
    public TrainingEvaluator(ModelSpec spec, Gpu gpu, int variants) {
        this.spec = spec;
        this.params = ParameterCounter.count(spec);
        this.gpu = gpu;
        this.someGpu = Optional.of(gpu);
        this.variants = new Workload[variants];
    }

    /** Whether variant {@code i} has been given. */
    public boolean hasVariant(int i) {
        return variants[i] != null;
    }

    /** Sets variant {@code i}: a validated multi-GPU training workload (its own layout does not matter). */
    public void setVariant(int i, Workload w) {
        if (!w.training() || w.parallelism().single()) {
            throw new IllegalArgumentException("a variant is a multi-GPU training workload");
        }
        variants[i] = w;
    }

    /**
     * Evaluates {@code layout} under variant {@code v} into {@code out}: the same fit, device memory and step time
     * as {@link Estimator#estimate} gives for the variant's workload with this layout.
     */
    public Result evaluate(int v, TrainingLayout layout, Result out) {
        Workload w = variants[v];
        out.valid = false;
        out.fits = false;
        if (layout.gpus < 2 || layout.batchSize < 1 || layout.gradAccum < 1
                || Parallelism.problem(layout.gpus, layout.nodes, layout.zero, layout.fsdp, layout.tp, layout.pp,
                layout.virtualPp, layout.ppSchedule, layout.cp, layout.ep, layout.sequenceParallel,
                layout.offloadOptimizer, layout.offloadParams, layout.globalBatchSize) != null
                || Parallelism.trainingExpertProblem(layout.gpus, layout.tp, layout.pp, layout.cp, layout.ep) != null
                || ShardedTraining.problem(spec, w.framework(), layout.tp, layout.pp, layout.ep, layout.zero,
                layout.fsdp) != null) {
            return out;
        }
        ShardedTraining.Invariants inv = invariants(v, w, layout);
        if (inv == null) {
            return out;
        }
        // the fullest stage decides (the first of equals, as the estimator reports it)
        long worstUsed = -1;
        long worstOptimizer = 0;
        for (int s = 0; s < layout.pp; s++) {
            ShardedTraining.bytes(spec, params, w, inv, layout, s, stage);
            if (!stage.plausible()) {
                return out;
            }
            if (stage.deviceUsed > worstUsed) {
                worstUsed = stage.deviceUsed;
                worstOptimizer = (long) stage.optimizer;
            }
        }
        long paged = w.optimizer().paged() ? worstOptimizer : 0;
        out.valid = true;
        out.deviceUsedBytes = worstUsed;
        out.requiredBytes = worstUsed - paged;
        out.fits = out.requiredBytes <= gpu.cudaTotalBytes();
        TrainingPerf.step(spec, w, gpu, passes(v, w, layout), layout, step);
        out.stepS = step.stepS;
        out.tokensPerS = step.tokensPerS;
        return out;
    }

    /** What autograd saves and the other stage-invariant parts: per variant, micro-batch, checkpointing, sharding. */
    private ShardedTraining.Invariants invariants(int v, Workload w, TrainingLayout l) {
        boolean packable = l.batchSize < (1 << 24);
        long key = ((long) v << 40) | ((long) l.batchSize << 16) | (l.checkpointing.ordinal() << 4)
                | (l.zero > 0 ? 2 : 0) | (l.fsdpShards() ? 1 : 0);
        ShardedTraining.Invariants inv = packable ? invariants.get(key) : null;
        if (inv == null) {
            try {
                inv = ShardedTraining.invariants(spec, params, w.withLayout(l), someGpu);
            } catch (InvalidInputException e) {
                return null; // (not memoized: another layout of the same key may be valid)
            }
            if (packable) {
                invariants.put(key, inv);
            }
        }
        return inv;
    }

    /** The cost of each pass: per variant, micro-batch, tp, cp and ep. */
    private TrainingPerf.Passes passes(int v, Workload w, TrainingLayout l) {
        boolean packable = l.batchSize < (1 << 22) && l.tp < (1 << 10) && l.cp < (1 << 10) && l.ep < (1 << 10)
                && v < (1 << 12);
        long key = ((long) v << 52) | ((long) l.batchSize << 30) | ((long) l.tp << 20) | ((long) l.cp << 10) | l.ep;
        TrainingPerf.Passes ps = packable ? passes.get(key) : null;
        if (ps == null) {
            ps = TrainingPerf.passes(spec, params, w, gpu, l.batchSize, l.tp, l.cp, l.ep);
            if (packable) {
                passes.put(key, ps);
            }
        }
        return ps;
    }

    /** An open-addressing map from long keys to values: lookups without boxing. */
    private static final class Memo<T> {
        private long[] keys = new long[64];
        private Object[] values = new Object[64];
        private int size;

        @SuppressWarnings("unchecked")
        T get(long key) {
            int mask = keys.length - 1;
            for (int i = slot(key, mask); ; i = (i + 1) & mask) {
                Object v = values[i];
                if (v == null) {
                    return null;
                }
                if (keys[i] == key) {
                    return (T) v;
                }
            }
        }

        void put(long key, T value) {
            if (2 * (size + 1) > keys.length) {
                long[] oldKeys = keys;
                Object[] oldValues = values;
                keys = new long[oldKeys.length * 2];
                values = new Object[oldKeys.length * 2];
                size = 0;
                for (int i = 0; i < oldKeys.length; i++) {
                    if (oldValues[i] != null) {
                        insert(oldKeys[i], oldValues[i]);
                    }
                }
            }
            insert(key, value);
        }

        private void insert(long key, Object value) {
            int mask = keys.length - 1;
            int i = slot(key, mask);
            while (values[i] != null && keys[i] != key) {
                i = (i + 1) & mask;
            }
            if (values[i] == null) {
                size++;
            }
            keys[i] = key;
            values[i] = value;
        }

        private static int slot(long key, int mask) {
            long h = key * 0x9E3779B97F4A7C15L;
            return (int) (h ^ (h >>> 32)) & mask;
        }
    }
}
