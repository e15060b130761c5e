package org.gpuplan.workload;

import org.gpuplan.model.InvalidInputException;

/**
 * Where llama.cpp places the layers: the last {@code count} repeating layers on the GPU (-ngl; {@link #ALL} for every
 * layer and the output layer), and whether ggml's scheduler runs batched matmuls of host-resident weights on the GPU
 * by copying the weight over (op offload, on by default since mid-2025; {@code --no-op-offload} and earlier builds:
 * off).
 */
public record GpuLayers(int count, boolean opOffload) {

    /** Every layer and the output layer on the GPU (llama.cpp's -ngl 999). */
    public static final int ALL = -1;

    public static final GpuLayers DEFAULT = new GpuLayers(ALL, true);

    public GpuLayers {
        if (count < 0 && count != ALL) {
            throw new InvalidInputException("n_gpu_layers must be 0 or more (or 'all'), got " + count);
        }
    }

    /** Some layers stay in host memory for a model of {@code layers} repeating layers. */
    public boolean partial(int layers) {
        return count != ALL && count <= layers;
    }
}
