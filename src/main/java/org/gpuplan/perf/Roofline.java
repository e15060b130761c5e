package org.gpuplan.perf;

import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.TensorDtype;
import org.gpuplan.workload.PerfOptions;

/**
 * Time of one kernel as a roofline with size-dependent efficiency: {@code max(FLOPs / (peak · ceiling · size),
 * bytes / (bandwidth · memory efficiency))}.
 *
 * <p>The ceiling is the measured maximum achievable matmul fraction of the GPU (ml-engineering's MAMF table);
 * {@code size = d / (d + 128)} for the GEMM's smallest side d models the tile quantization and wave tail that keep
 * small matmuls far below peak (a 128-wide side gets half the ceiling, a 4096-wide side 97 %).
 */
record Roofline(Gpu gpu, TensorDtype dtype, double matmulCeiling, double memoryEfficiency, double kernelGapS,
                double attentionEfficiency) {

    /** The side length at which a GEMM reaches half of the ceiling. */
    static final double HALF_EFFICIENCY_SIDE = 128;
    /**
     * Fraction of the dense peak a fused attention kernel reaches. FlashAttention-2 paper (Dao, 2023): "50-73% of the
     * theoretical maximum FLOPs/s on A100" (0.6 taken); FlashAttention-3 paper (Shah et al., 2024): FlashAttention-2
     * reaches "only 35% utilization on the H100", FlashAttention-3 up to 75 % (0.6 taken for Hopper-native kernels:
     * FA3, cuDNN fused attention in Transformer Engine, FlashInfer/TRT-LLM kernels).
     */
    static final double FA2_AMPERE = 0.60;
    static final double FA2_HOPPER = 0.35;
    static final double HOPPER_NATIVE = 0.60;

    static Roofline of(Gpu gpu, TensorDtype dtype, PerfOptions o, double kernelGapS, boolean hopperNativeAttention) {
        double attention = gpu.computeMajor() >= 9 ? (hopperNativeAttention ? HOPPER_NATIVE : FA2_HOPPER)
                : FA2_AMPERE;
        return new Roofline(gpu, dtype, o.matmulEfficiency().orElse(gpu.matmulEfficiency()),
                o.memoryEfficiency().orElse(gpu.memoryEfficiency()), kernelGapS, attention);
    }

    double peakFlops() {
        return gpu.peakTflops(dtype) * 1e12;
    }

    double bandwidth() {
        return gpu.memoryBandwidthTbs() * 1e12;
    }

    static double sizeFactor(double smallestSide) {
        return smallestSide / (smallestSide + HALF_EFFICIENCY_SIDE);
    }

    /** A GEMM of {@code rows × k → rows × n}: compute at the size-dependent efficiency, or memory traffic. */
    double gemm(double flops, double rows, double k, double n, double bytes) {
        double side = Math.max(1, Math.min(rows, Math.min(k, n)));
        double compute = flops / (peakFlops() * matmulCeiling * sizeFactor(side));
        return Math.max(Math.max(compute, memory(bytes)), kernelGapS);
    }

    /** Fused attention: compute-bound at the attention kernel's efficiency, or bound by the KV bytes it reads. */
    double attention(double flops, double bytes) {
        double compute = flops / (peakFlops() * Math.min(attentionEfficiency, matmulCeiling));
        return Math.max(Math.max(compute, memory(bytes)), kernelGapS);
    }

    /** A memory-bound kernel (norms, activations, optimizer). */
    double memory(double bytes) {
        return bytes / (bandwidth() * memoryEfficiency);
    }

    /** CUDA-core (non-tensor) work such as dequantizing weights in a weight-only GEMV. */
    double alu(double ops) {
        return ops / (gpu.peakTflops(TensorDtype.FP32) * 1e12);
    }
}
