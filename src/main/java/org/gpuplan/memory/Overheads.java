package org.gpuplan.memory;

import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.model.Term;

/**
 * Memory outside the model's tensors: the CUDA context and library workspaces, and the caching allocator's slack.
 * Each constant is a cited assumption.
 */
public final class Overheads {

    /**
     * CUDA context with lazy module loading (PyTorch sets CUDA_MODULE_LOADING=LAZY since 1.13): 274 MiB measured in
     * pytorch/pytorch#86509, "~300MB"–"around 400MB" per PyTorch maintainers (#107667, #109888); we take 400 MiB to
     * include cuBLAS/cuDNN handles.
     */
    public static final long CUDA_CONTEXT = 400 * Bytes.MIB;

    /** PyTorch's default cuBLAS workspace ":4096:2:16:8" = 8,519,680 B, plus the 1 MiB cuBLASLt workspace. */
    public static final long CUBLAS_WORKSPACE = 8_519_680L + Bytes.MIB;

    /** On Hopper (sm90) PyTorch uses a 32 MiB cuBLAS workspace (4096 KiB × 8), plus cuBLASLt's 1 MiB. */
    public static final long CUBLAS_WORKSPACE_HOPPER = 32 * Bytes.MIB + Bytes.MIB;

    /**
     * Share of the transient bytes (activations, loss and optimizer temporaries) that the caching allocator keeps as
     * cached-but-unusable blocks at the reserved peak. One published OOM report shows 13.5 % of reserved memory
     * unallocated (the project's framework notes, §4); we take 10 % of the churning bytes.
     */
    public static final double FRAGMENTATION = 0.10;

    private Overheads() {
    }

    /** The CUDA context: the workload's override, else {@link #CUDA_CONTEXT}. */
    public static long context(org.gpuplan.workload.Workload w) {
        return w.cudaContextBytes().orElse(CUDA_CONTEXT);
    }

    public static long cublasWorkspace(Optional<Gpu> gpu) {
        return gpu.map(Gpu::isHopper).orElse(false) ? CUBLAS_WORKSPACE_HOPPER : CUBLAS_WORKSPACE;
    }

    /** cuBLAS workspaces are taken from the caching allocator: an 8.125 MiB request reserves a 20 MiB segment. */
    public static long cublasReserved(Optional<Gpu> gpu) {
        return gpu.map(Gpu::isHopper).orElse(false) ? 34 * Bytes.MIB : 20 * Bytes.MIB + 2 * Bytes.MIB;
    }

    public static Term overheadTerm(Optional<Gpu> gpu, long context, long extraNonTorch, String extraLabel) {
        long ws = cublasWorkspace(gpu);
        return new Term("overhead", "CUDA context and workspaces", context + ws + extraNonTorch,
                () -> "CUDA context " + Bytes.mib(context) + (context == CUDA_CONTEXT ? " (lazy module loading; "
                        + "pytorch#86509, #109888)" : " (given)") + " + cuBLAS "
                        + "workspace " + Bytes.mib(ws) + (gpu.map(Gpu::isHopper).orElse(false)
                        ? " (32 MiB on Hopper)" : " (:4096:2:16:8)") + (extraNonTorch > 0 ? " + " + extraLabel + " "
                        + Bytes.mib(extraNonTorch) : ""));
    }
}
