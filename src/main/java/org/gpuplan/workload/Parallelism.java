package org.gpuplan.workload;

import org.gpuplan.model.InvalidInputException;

/**
 * How a job is spread over GPUs: data parallel (with ZeRO or FSDP sharding), tensor, sequence, pipeline, context and
 * expert parallelism, and offload. The data-parallel degree is what remains: dp = gpus / (tp · pp · cp).
 *
 * @param nodes            machines; GPUs per node = gpus / nodes
 * @param zero             DeepSpeed ZeRO stage 0–3 (Megatron: 1+ means the distributed optimizer)
 * @param virtualPp        model chunks per pipeline rank (interleaved schedule)
 * @param globalBatchSize  sequences per optimizer step over all replicas, 0 = micro-batch × grad_accum × dp
 * @param attentionDp      serving: attention runs data-parallel across the TP group (SGLang --enable-dp-attention
 *                         for MLA models), so each rank caches only its own sequences' latents
 */
public record Parallelism(int gpus, int nodes, int zero, FsdpMode fsdp, int tp, int pp, int virtualPp,
                          PpSchedule ppSchedule, int cp, int ep, boolean sequenceParallel, Offload offloadOptimizer,
                          Offload offloadParams, int globalBatchSize, boolean attentionDp) {

    public static final Parallelism SINGLE = new Parallelism(1, 1, 0, FsdpMode.NONE, 1, 1, 1, PpSchedule.ONE_F_ONE_B,
            1, 1, false, Offload.NONE, Offload.NONE, 0, false);

    public Parallelism {
        positive(gpus, "gpus");
        positive(nodes, "nodes");
        positive(tp, "tp");
        positive(pp, "pp");
        positive(virtualPp, "virtual_pp");
        positive(cp, "cp");
        positive(ep, "ep");
        if (gpus % nodes != 0) {
            throw new InvalidInputException("nodes: " + gpus + " gpus do not split evenly over " + nodes
                    + " nodes (gpus must be a multiple of nodes)");
        }
        if (zero < 0 || zero > 3) {
            throw new InvalidInputException("zero: " + zero + " is not a ZeRO stage (accepted: 0, 1, 2, 3)");
        }
        long modelParallel = (long) tp * pp * cp;
        if (gpus % modelParallel != 0) {
            throw new InvalidInputException("gpus: tp·pp·cp = " + tp + "·" + pp + "·" + cp + " = " + modelParallel
                    + " must divide gpus (" + gpus + "); the rest is data parallel. Change gpus or the parallel sizes");
        }
        long dp = gpus / modelParallel;
        if (ep > 1 && (dp * cp) % ep != 0) {
            throw new InvalidInputException("ep: expert parallel size " + ep + " must divide dp·cp = " + dp * cp
                    + " (experts are spread over data-parallel ranks)");
        }
        if (zero > 0 && fsdp != FsdpMode.NONE) {
            throw new InvalidInputException("zero and fsdp both set: choose DeepSpeed ZeRO (--zero) or PyTorch FSDP "
                    + "(--fsdp), not both");
        }
        if (sequenceParallel && tp == 1) {
            throw new InvalidInputException("sequence_parallel: needs tp > 1 (it splits the replicated activations "
                    + "across the tensor-parallel group)");
        }
        if (ppSchedule == PpSchedule.INTERLEAVED && virtualPp < 2) {
            throw new InvalidInputException("pp_schedule: interleaved needs virtual_pp ≥ 2 (model chunks per rank)");
        }
        if (virtualPp > 1 && pp == 1) {
            throw new InvalidInputException("virtual_pp: needs pp > 1");
        }
        if (offloadParams != Offload.NONE && zero < 3 && fsdp != FsdpMode.FULL_SHARD
                && fsdp != FsdpMode.HYBRID_SHARD) {
            throw new InvalidInputException("offload_params: parameter offload needs sharded parameters (zero 3 or "
                    + "fsdp full_shard/hybrid_shard)");
        }
        if (globalBatchSize < 0) {
            throw new InvalidInputException("global_batch_size must not be negative");
        }
    }

    private static void positive(int v, String field) {
        if (v < 1) {
            throw new InvalidInputException(field + ": must be a positive integer, got " + v);
        }
    }

    /** Data-parallel replicas. */
    public int dp() {
        return gpus / (tp * pp * cp);
    }

    public int gpusPerNode() {
        return gpus / nodes;
    }

    public boolean single() {
        return gpus == 1;
    }

    /** PyTorch FSDP sharding modes. */
    public enum FsdpMode implements Choice {
        NONE("none"), FULL_SHARD("full_shard"), SHARD_GRAD_OP("shard_grad_op"), HYBRID_SHARD("hybrid_shard"),
        NO_SHARD("no_shard");

        private final String key;

        FsdpMode(String key) {
            this.key = key;
        }

        @Override
        public String key() {
            return key;
        }
    }

    /** Pipeline schedules. */
    public enum PpSchedule implements Choice {
        ONE_F_ONE_B("1f1b"), INTERLEAVED("interleaved"), GPIPE("gpipe");

        private final String key;

        PpSchedule(String key) {
            this.key = key;
        }

        @Override
        public String key() {
            return key;
        }
    }

    /** Where offloaded state lives. */
    public enum Offload implements Choice {
        NONE("none"), CPU("cpu"), NVME("nvme");

        private final String key;

        Offload(String key) {
            this.key = key;
        }

        @Override
        public String key() {
            return key;
        }
    }
}
