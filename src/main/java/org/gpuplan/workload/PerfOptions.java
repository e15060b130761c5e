package org.gpuplan.workload;

import java.util.OptionalDouble;
import org.gpuplan.model.InvalidInputException;

/**
 * What the runtime model needs beyond the memory workload.
 *
 * @param trainTokens      tokens to process in the whole run (0 = not asked): gives train time and GPU-hours
 * @param maxBatch         {@code --batch-size max}: serve at the largest concurrency the KV pool allows
 * @param compile          torch.compile (fused elementwise kernels; CUDA graphs for decode)
 * @param float8Linear     training linears in FP8 (torchao Float8Linear / Transformer Engine)
 * @param tpCommOverlap    tensor-parallel communication overlapped with GEMMs (Megatron --tp-comm-overlap, async TP)
 * @param matmulEfficiency user override of the GPU's matmul ceiling (fraction of the dense peak)
 * @param memoryEfficiency user override of the achievable fraction of memory bandwidth
 * @param commEfficiency   user override of the achievable fraction of link bandwidth in collectives
 */
public record PerfOptions(double trainTokens, boolean maxBatch, boolean compile, boolean float8Linear,
                          boolean tpCommOverlap, OptionalDouble matmulEfficiency, OptionalDouble memoryEfficiency,
                          OptionalDouble commEfficiency) {

    public static final PerfOptions DEFAULT = new PerfOptions(0, false, false, false, false, OptionalDouble.empty(),
            OptionalDouble.empty(), OptionalDouble.empty());

    public PerfOptions {
        if (!(trainTokens >= 0) || trainTokens > 1e18) {
            throw new InvalidInputException("tokens: expected a non-negative number up to 1e18, got " + trainTokens);
        }
        fraction(matmulEfficiency, "matmul_efficiency");
        fraction(memoryEfficiency, "memory_efficiency");
        fraction(commEfficiency, "comm_efficiency");
    }

    private static void fraction(OptionalDouble v, String key) {
        if (v.isPresent() && !(v.getAsDouble() > 0 && v.getAsDouble() <= 1)) {
            throw new InvalidInputException(key + ": expected a fraction in (0, 1], got " + v.getAsDouble());
        }
    }
}
