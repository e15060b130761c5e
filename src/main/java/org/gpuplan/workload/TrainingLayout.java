package org.gpuplan.workload;

import org.gpuplan.workload.Parallelism.FsdpMode;
import org.gpuplan.workload.Parallelism.Offload;
import org.gpuplan.workload.Parallelism.PpSchedule;

/**
 * The parts of a multi-GPU training workload that a planner varies from candidate to candidate (parallel sizes,
 * sharding, micro-batch, checkpointing), as plain fields.
 *
 * <p>Deliberately mutable: the sharded memory model and the step-time model read a candidate's layout from here, so
 * that a search can refill one object per thread instead of building a {@link Workload} and a {@link Parallelism}
 * for each of millions of candidates. The estimator fills one from a validated workload ({@link #of}); a planner
 * fills only combinations that the same validation accepts. Never shared between threads.
 */
public final class TrainingLayout {

    public int gpus = 1;
    public int nodes = 1;
    public int tp = 1;
    public int pp = 1;
    public int cp = 1;
    public int ep = 1;
    public int zero;
    public FsdpMode fsdp = FsdpMode.NONE;
    public boolean sequenceParallel;
    public PpSchedule ppSchedule = PpSchedule.ONE_F_ONE_B;
    public int virtualPp = 1;
    public Offload offloadOptimizer = Offload.NONE;
    public Offload offloadParams = Offload.NONE;
    public int batchSize = 1;
    public int gradAccum = 1;
    /** Sequences per optimizer step over all replicas, 0 = micro-batch × grad_accum × dp. */
    public int globalBatchSize;
    public Checkpointing checkpointing = Checkpointing.NONE;

    /** The layout of a validated workload. */
    public static TrainingLayout of(Workload w) {
        return new TrainingLayout().set(w);
    }

    /** Copies the workload's layout into this object. */
    public TrainingLayout set(Workload w) {
        Parallelism par = w.parallelism();
        gpus = par.gpus();
        nodes = par.nodes();
        tp = par.tp();
        pp = par.pp();
        cp = par.cp();
        ep = par.ep();
        zero = par.zero();
        fsdp = par.fsdp();
        sequenceParallel = par.sequenceParallel();
        ppSchedule = par.ppSchedule();
        virtualPp = par.virtualPp();
        offloadOptimizer = par.offloadOptimizer();
        offloadParams = par.offloadParams();
        batchSize = w.batchSize();
        gradAccum = w.gradAccum();
        globalBatchSize = par.globalBatchSize();
        checkpointing = w.checkpointing();
        return this;
    }

    /** Data-parallel replicas: gpus / (tp · pp · cp). */
    public int dp() {
        return gpus / (tp * pp * cp);
    }

    public int gpusPerNode() {
        return gpus / nodes;
    }

    /** Micro-batches per optimizer step for each replica. */
    public int microbatches() {
        return microbatches(globalBatchSize, batchSize, dp(), gradAccum);
    }

    /** Micro-batches per step: global batch / (micro-batch · dp) when a global batch is set, else grad_accum. */
    public static int microbatches(int globalBatchSize, int batchSize, int dp, int gradAccum) {
        return globalBatchSize > 0 ? Math.max(1, globalBatchSize / (batchSize * dp)) : gradAccum;
    }

    /** PyTorch FSDP that shards parameters (full_shard, hybrid_shard, shard_grad_op). */
    public boolean fsdpShards() {
        return fsdp != FsdpMode.NONE && fsdp != FsdpMode.NO_SHARD;
    }
}
