package org.gpuplan.workload;

import org.gpuplan.model.InvalidInputException;

/**
 * Where llama.cpp places the layers: the last {@code count} repeating layers on the GPU (-ngl; {@link #ALL} for every
 * layer and the output layer), the routed experts of the first {@code cpuMoe} layers in host memory (--n-cpu-moe;
 * {@link #ALL} for --cpu-moe), and whether ggml's scheduler runs batched matmuls of host-resident weights on the GPU
 * by copying the weight over (op offload, on by default since mid-2025; {@code --no-op-offload} and earlier builds:
 * off).
 */
public record GpuLayers(int count, boolean opOffload, int cpuMoe) {

    /** Every layer and the output layer on the GPU (llama.cpp's -ngl 999). */
    public static final int ALL = -1;

    public static final GpuLayers DEFAULT = new GpuLayers(ALL, true, 0);

    public GpuLayers {
        if (count < 0 && count != ALL) {
            throw new InvalidInputException("n_gpu_layers must be 0 or more (or 'all'), got " + count);
        }
        if (cpuMoe < 0 && cpuMoe != ALL) {
            throw new InvalidInputException("n_cpu_moe must be 0 or more (or 'all'), got " + cpuMoe);
        }
    }

    /** Layers (from the first) whose routed experts stay in host memory, for a model of {@code layers} layers. */
    public int cpuMoeLayers(int layers) {
        return cpuMoe == ALL ? layers : Math.min(cpuMoe, layers);
    }

    /** Some layers stay in host memory for a model of {@code layers} repeating layers. */
    public boolean partial(int layers) {
        return count != ALL && count <= layers;
    }
}
