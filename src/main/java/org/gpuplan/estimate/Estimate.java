package org.gpuplan.estimate;

import java.util.List;
import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.memory.MemoryEstimate;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.workload.Workload;

/**
 * The answer for one model × workload × GPU: memory term by term with its peaks, and whether it fits.
 *
 * @param memory    the most loaded GPU
 * @param fit       present when a GPU was given
 * @param warnings  things that make the job fail or differ from what was asked
 * @param ranks     every distinct rank of a multi-GPU job (one entry on one GPU)
 * @param hostMemoryBytesPerNode host memory per node taken by offloaded state
 * @param perf      runtime, throughput and utilization; present when a GPU was given
 */
public record Estimate(String modelName, ModelSpec spec, ParameterBreakdown parameters, Workload workload,
                       Optional<Gpu> gpu, MemoryEstimate memory, Optional<Fit> fit, List<String> warnings,
                       List<Rank> ranks, long hostMemoryBytesPerNode,
                       Optional<org.gpuplan.perf.PerfEstimate> perf) {

    public Estimate {
        warnings = List.copyOf(warnings);
        ranks = List.copyOf(ranks);
    }

    /** The same estimate with warnings about the model itself (from reading its config) before its own. */
    public Estimate withModelWarnings(List<String> model) {
        if (model.isEmpty()) {
            return this;
        }
        List<String> all = new java.util.ArrayList<>(model);
        all.addAll(warnings);
        return new Estimate(modelName, spec, parameters, workload, gpu, memory, fit, all, ranks,
                hostMemoryBytesPerNode, perf);
    }

    /** One kind of rank (pipeline stages differ) and how many GPUs are of that kind. */
    public record Rank(String name, int gpus, MemoryEstimate memory) {

        /** Host memory one such rank offloads to. */
        public long hostBytes() {
            return memory.hostBytes();
        }
    }

    /**
     * Whether the job fits the GPU.
     *
     * @param availableBytes what CUDA reports as the GPU's total memory
     * @param requiredBytes  the estimate's device-used bytes
     */
    public record Fit(long availableBytes, long requiredBytes) {
        public long headroomBytes() {
            return availableBytes - requiredBytes;
        }

        public boolean fits() {
            return requiredBytes <= availableBytes;
        }
    }
}
