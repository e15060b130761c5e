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

    /**
     * Training spreads experts over the data-parallel (and context-parallel) ranks only; serving engines over the
     * tensor- and data-parallel ranks. Null when {@code ep} fits training.
     */
    public static InvalidInputException trainingExpertProblem(int gpus, int tp, int pp, int cp, int ep) {
        long dpCp = (long) gpus / ((long) tp * pp * cp) * cp;
        return ep > 1 && dpCp % ep != 0 ? new InvalidInputException("ep: expert parallel size " + ep
                + " must divide dp·cp = " + dpCp + " when training (experts are spread over data-parallel ranks)")
                : null;
    }

    public Parallelism {
        InvalidInputException problem = problem(gpus, nodes, zero, fsdp, tp, pp, virtualPp, ppSchedule, cp, ep,
                sequenceParallel, offloadOptimizer, offloadParams, globalBatchSize);
        if (problem != null) {
            throw problem;
        }
    }

    /**
     * What is wrong with these sizes, or null when they form a valid layout. Builds no message unless one is wrong,
     * so a search can test millions of layouts with it.
     */
    public static InvalidInputException problem(int gpus, int nodes, int zero, FsdpMode fsdp, int tp, int pp,
                                                int virtualPp, PpSchedule ppSchedule, int cp, int ep,
                                                boolean sequenceParallel, Offload offloadOptimizer,
                                                Offload offloadParams, int globalBatchSize) {
        if (gpus < 1 || nodes < 1 || tp < 1 || pp < 1 || virtualPp < 1 || cp < 1 || ep < 1) {
            String field = gpus < 1 ? "gpus" : nodes < 1 ? "nodes" : tp < 1 ? "tp" : pp < 1 ? "pp"
                    : virtualPp < 1 ? "virtual_pp" : cp < 1 ? "cp" : "ep";
            int v = gpus < 1 ? gpus : nodes < 1 ? nodes : tp < 1 ? tp : pp < 1 ? pp : virtualPp < 1 ? virtualPp
                    : cp < 1 ? cp : ep;
            return new InvalidInputException(field + ": must be a positive integer, got " + v);
        }
        if (gpus % nodes != 0) {
            return new InvalidInputException("nodes: " + gpus + " gpus do not split evenly over " + nodes
                    + " nodes (gpus must be a multiple of nodes)");
        }
        if (zero < 0 || zero > 3) {
            return new InvalidInputException("zero: " + zero + " is not a ZeRO stage (accepted: 0, 1, 2, 3)");
        }
        long modelParallel = (long) tp * pp * cp;
        if (gpus % modelParallel != 0) {
            return new InvalidInputException("gpus: tp·pp·cp = " + tp + "·" + pp + "·" + cp + " = " + modelParallel
                    + " must divide gpus (" + gpus + "); the rest is data parallel. Change gpus or the parallel sizes");
        }
        long dp = gpus / modelParallel;
        if (ep > 1 && (dp * cp) % ep != 0 && (dp * tp) % ep != 0) {
            return new InvalidInputException("ep: expert parallel size " + ep + " must divide dp·cp = " + dp * cp
                    + " (training: experts are spread over data-parallel ranks) or, serving, tp·dp = " + dp * tp
                    + " (vLLM --enable-expert-parallel, SGLang --ep-size)");
        }
        if (zero > 0 && fsdp != FsdpMode.NONE) {
            return new InvalidInputException("zero and fsdp both set: choose DeepSpeed ZeRO (--zero) or PyTorch FSDP "
                    + "(--fsdp), not both");
        }
        if (sequenceParallel && tp == 1) {
            return new InvalidInputException("sequence_parallel: needs tp > 1 (it splits the replicated activations "
                    + "across the tensor-parallel group)");
        }
        if (ppSchedule == PpSchedule.INTERLEAVED && virtualPp < 2) {
            return new InvalidInputException("pp_schedule: interleaved needs virtual_pp ≥ 2 (model chunks per rank)");
        }
        if (virtualPp > 1 && pp == 1) {
            return new InvalidInputException("virtual_pp: needs pp > 1");
        }
        if ((offloadOptimizer == Offload.NVME || offloadParams == Offload.NVME) && zero < 3) {
            return new InvalidInputException("offload: NVMe offload is DeepSpeed's ZeRO-Infinity, a ZeRO-3 feature; "
                    + (fsdp != FsdpMode.NONE ? "FSDP offloads to the CPU only: use cpu" : "use --zero 3, or "
                    + "offload to cpu"));
        }
        if (offloadParams != Offload.NONE && zero < 3 && fsdp != FsdpMode.FULL_SHARD
                && fsdp != FsdpMode.HYBRID_SHARD) {
            return new InvalidInputException("offload_params: parameter offload needs sharded parameters (zero 3 or "
                    + "fsdp full_shard/hybrid_shard)");
        }
        if (globalBatchSize < 0) {
            return new InvalidInputException("global_batch_size must not be negative");
        }
        return null;
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
