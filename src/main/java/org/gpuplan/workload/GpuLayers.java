package org.gpuplan.workload;

import org.gpuplan.model.InvalidInputException;

/**
 * Where a serving engine keeps the weights. llama.cpp places layers: the last {@code count} repeating layers on the GPU (-ngl; {@link #ALL} for every
 * layer and the output layer), the routed experts of the first {@code cpuMoe} layers in host memory (--n-cpu-moe;
 * {@link #ALL} for --cpu-moe), and whether ggml's scheduler runs batched matmuls of host-resident weights on the GPU
 * by copying the weight over (op offload, on by default since mid-2025; {@code --no-op-offload} and earlier builds:
 * off). vLLM and SGLang keep {@code cpuOffloadGib} GiB of each GPU's weights in pinned host memory
 * (--cpu-offload-gb), read over the host link in every forward. {@code llamacppBuild} is the llama.cpp build number
 * (b5781 → 5781; 0 when not given) whose compute graph to follow.
 */
public record GpuLayers(int count, boolean opOffload, int cpuMoe, double cpuOffloadGib, int llamacppBuild) {

    /** Every layer and the output layer on the GPU (llama.cpp's -ngl 999). */
    public static final int ALL = -1;

    public static final GpuLayers DEFAULT = new GpuLayers(ALL, true, 0, 0, 0);

    /** A llama.cpp build number far beyond any release: a typo, not a build. */
    public static final int MAX_BUILD = 1_000_000;

    public GpuLayers(int count, boolean opOffload, int cpuMoe, double cpuOffloadGib) {
        this(count, opOffload, cpuMoe, cpuOffloadGib, 0);
    }

    public GpuLayers {
        if (count < 0 && count != ALL) {
            throw new InvalidInputException("n_gpu_layers must be 0 or more (or 'all'), got " + count);
        }
        if (!(cpuOffloadGib >= 0) || cpuOffloadGib > 1e6) {
            throw new InvalidInputException("cpu_offload_gb must be a number of GiB from 0 to 1000000, got "
                    + cpuOffloadGib);
        }
        if (llamacppBuild < 0 || llamacppBuild > MAX_BUILD) {
            throw new InvalidInputException("llamacpp_build must be a llama.cpp build number such as b5781 or 5781, "
                    + "got " + llamacppBuild);
        }
        if (cpuMoe < 0 && cpuMoe != ALL) {
            throw new InvalidInputException("n_cpu_moe must be 0 or more (or 'all'), got " + cpuMoe);
        }
    }

    /** Layers (from the first) whose routed experts stay in host memory, for a model of {@code layers} layers. */
    public int cpuMoeLayers(int layers) {
        return cpuMoe == ALL ? layers : Math.min(cpuMoe, layers);
    }

    /** Any of llama.cpp's placement settings differs from its default (every layer on the GPU, op offload on). */
    public boolean llamaCppPlacement() {
        return count != ALL || !opOffload || cpuMoe != 0;
    }

    /** vLLM/SGLang's --cpu-offload-gb in bytes. */
    public long cpuOffloadBytes() {
        return (long) (cpuOffloadGib * (1L << 30));
    }

    /** Some layers stay in host memory for a model of {@code layers} repeating layers. */
    public boolean partial(int layers) {
        return count != ALL && count <= layers;
    }
}
