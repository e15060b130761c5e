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
 * @param hostOverheadUs   user override of the host time to issue one kernel, in microseconds (eager PyTorch
 *                         dispatch and launch; 0 ignores the host)
 * @param enforceEager     serving engines without CUDA graphs (vLLM --enforce-eager, SGLang --disable-cuda-graph):
 *                         every decode kernel issued from the host, and no graph memory
 * @param liger            Liger kernels (transformers/TRL use_liger_kernel): Triton RMSNorm, SwiGLU and RoPE that keep
 *                         only their inputs, and the fused linear cross-entropy
 * @param expandableSegments PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True: the caching allocator grows one segment
 *                         per pool instead of cutting a segment per large request (reserved memory of one-GPU runs)
 */
public record PerfOptions(double trainTokens, boolean maxBatch, boolean compile, boolean float8Linear,
                          boolean tpCommOverlap, OptionalDouble matmulEfficiency, OptionalDouble memoryEfficiency,
                          OptionalDouble commEfficiency, OptionalDouble hostOverheadUs, boolean enforceEager,
                          boolean liger, boolean expandableSegments) {

    public static final PerfOptions DEFAULT = new PerfOptions(0, false, false, false, false, OptionalDouble.empty(),
            OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(), false, false, false);

    public PerfOptions {
        if (!(trainTokens >= 0) || trainTokens > 1e18) {
            throw new InvalidInputException("tokens: expected a non-negative number up to 1e18, got " + trainTokens);
        }
        fraction(matmulEfficiency, "matmul_efficiency");
        fraction(memoryEfficiency, "memory_efficiency");
        fraction(commEfficiency, "comm_efficiency");
        if (hostOverheadUs.isPresent() && !(hostOverheadUs.getAsDouble() >= 0
                && hostOverheadUs.getAsDouble() <= 10_000)) {
            throw new InvalidInputException("host_overhead_us: expected microseconds per kernel from 0 to 10000, got "
                    + hostOverheadUs.getAsDouble());
        }
    }

    /** Fused norm and gated-MLP kernels: torch.compile's (Inductor) or Liger's keep the same tensors for backward. */
    public boolean fusedKernels() {
        return compile || liger;
    }

    private static void fraction(OptionalDouble v, String key) {
        if (v.isPresent() && !(v.getAsDouble() > 0 && v.getAsDouble() <= 1)) {
            throw new InvalidInputException(key + ": expected a fraction in (0, 1], got " + v.getAsDouble());
        }
    }
}
