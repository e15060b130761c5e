package org.gpuplan.perf;

import java.util.List;

/**
 * The runtime answer: every figure with its formula, and the headline numbers of the JSON {@code perf} object.
 * Figures that do not apply to the task are NaN (training figures for serving, and the reverse).
 *
 * @param computeUtilization         hardware FLOPs per second over the dense peak
 * @param memoryBandwidthUtilization bytes moved per second over the memory bandwidth
 * @param bound                      {@code compute-bound}, {@code memory-bound} or {@code host-bound} (eager PyTorch
 *                                   issues kernels more slowly than the GPU runs them)
 */
public record PerfEstimate(List<Figure> figures, double stepTimeS, double tokensPerS, double mfu,
                           double modelTflopsPerGpu, double trainTimeS, double gpuHours, double ttftS, double tpotS,
                           double outputTokensPerS, double maxConcurrency, double computeUtilization,
                           double memoryBandwidthUtilization, String bound) {

    public PerfEstimate {
        figures = List.copyOf(figures);
    }

    public double figure(String key) {
        return figures.stream().filter(f -> f.key().equals(key)).mapToDouble(Figure::value).findFirst()
                .orElse(Double.NaN);
    }
}
