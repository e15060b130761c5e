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
                double attentionFlops) {

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
    /**
     * The first FlashAttention generation (FlashAttention 1.x, and the Triton FlashAttention kernel of the same era):
     * FlashAttention-2 paper (Dao, 2023), "reaching only 25-40% of the theoretical maximum FLOPs/s" on A100 (0.325
     * taken). No Hopper measurement: scaled from Ampere as FlashAttention-2 is (0.35 / 0.60).
     */
    static final double FA1_AMPERE = 0.325;
    static final double FA1_HOPPER = FA1_AMPERE * FA2_HOPPER / FA2_AMPERE;

    static Roofline of(Gpu gpu, TensorDtype dtype, PerfOptions o, double kernelGapS, boolean hopperNativeAttention) {
        return of(gpu, dtype, o, kernelGapS, hopperNativeAttention, false);
    }

    static Roofline of(Gpu gpu, TensorDtype dtype, PerfOptions o, double kernelGapS, boolean hopperNativeAttention,
                       boolean firstGenerationFlash) {
        // a power-capped part runs its tensor cores at a lower sustained clock: matmuls and attention alike
        boolean hopper = gpu.computeMajor() >= 9;
        double attention = (firstGenerationFlash ? (hopper ? FA1_HOPPER : FA1_AMPERE)
                : hopper ? (hopperNativeAttention ? HOPPER_NATIVE : FA2_HOPPER) : FA2_AMPERE) * gpu.clockFactor();
        // FP8 matmuls reach a lower share of their peak: ml-engineering MAMF on H100 70.9 % (FP8) vs 80.3 % (BF16)
        double fp8 = dtype == TensorDtype.FP8 || dtype == TensorDtype.FP4 ? 70.9 / 80.3 : 1.0;
        double matmulCeiling = o.matmulEfficiency().orElse(gpu.matmulEfficiency() * fp8 * gpu.clockFactor());
        double ceiling16 = o.matmulEfficiency().orElse(gpu.matmulEfficiency() * gpu.clockFactor());
        // the attention kernel runs in 16 bits even when the linears run in FP8 or a weight-only format
        // (Float8Linear and quantized checkpoints convert only the Linear layers): the 16-bit peak and ceiling
        boolean wide = dtype == TensorDtype.FP32 || dtype == TensorDtype.TF32 || dtype == TensorDtype.BF16
                || dtype == TensorDtype.FP16;
        double attentionPeak = wide ? gpu.peakTflops(dtype)
                : Math.max(gpu.peakTflops(TensorDtype.BF16), gpu.peakTflops(TensorDtype.FP16));
        return new Roofline(gpu, dtype, matmulCeiling, o.memoryEfficiency().orElse(gpu.memoryEfficiency()),
                kernelGapS, attentionPeak * 1e12 * Math.min(attention, ceiling16));
    }

    /** The tensor dtype a precision's matmuls run in (mixed precision computes in its 16-bit type). */
    static TensorDtype dtypeOf(org.gpuplan.workload.Precision p) {
        return switch (p) {
            case FP32 -> TensorDtype.FP32;
            case FP16, FP16_MIXED -> TensorDtype.FP16;
            case BF16, BF16_MIXED -> TensorDtype.BF16;
        };
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

    /** A single row (one sequence decoding) runs as a CUDA-core GEMV (cuBLAS gemv, gpt-fast/llama.cpp kernels). */
    static final double GEMV_ROWS = 2;

    /**
     * A GEMM of {@code rows × k → rows × n} over {@code weights} weight elements.
     *
     * <p>Tensor-core path: max(compute at the size-dependent efficiency, memory traffic). A one-row GEMV
     * streams the weights through CUDA cores, one instruction per weight to convert it (plus the dequantization
     * instructions of a weight-only format) and one FMA per row; the loads and the arithmetic come from the same
     * warps and are taken as not overlapped: memory time + instructions / (FP32 FLOPS / 2).
     */
    double gemm(double flops, double rows, double k, double n, double bytes, double weights, double dequantInstr) {
        if (rows < GEMV_ROWS) {
            return Math.max(memory(bytes) + instructions(weights * (1 + dequantInstr + rows)), kernelGapS);
        }
        double side = Math.max(1, Math.min(rows, Math.min(k, n)));
        double compute = flops / (peakFlops() * matmulCeiling * sizeFactor(side));
        // a weight-only format dequantizes each weight tile once per pass in the GEMM main loop
        return Math.max(Math.max(compute + instructions(weights * dequantInstr), memory(bytes)), kernelGapS);
    }

    double gemm(double flops, double rows, double k, double n, double bytes) {
        return gemm(flops, rows, k, n, bytes, k * n, 0);
    }

    /** Fused attention: compute-bound at the attention kernel's achievable FLOP/s, or bound by the KV bytes it reads. */
    double attention(double flops, double bytes) {
        double compute = flops / attentionFlops;
        return Math.max(Math.max(compute, memory(bytes)), kernelGapS);
    }

    /** A memory-bound kernel (norms, activations, optimizer). */
    double memory(double bytes) {
        return bytes / (bandwidth() * memoryEfficiency);
    }

    /** CUDA-core instructions: one per lane per clock, FP32 FLOPS / 2 (an FMA counts as 2 FLOPs). */
    double instructions(double count) {
        return count / (gpu.peakTflops(TensorDtype.FP32) * 1e12 / 2);
    }
}
