package org.gpuplan.perf;

import org.gpuplan.hardware.Gpu;
import org.gpuplan.memory.MemoryEstimate;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.workload.Workload;

/** Runtime of a workload on a GPU: training step time and throughput, or serving latency and throughput. */
public final class PerfModel {

    private PerfModel() {
    }

    public static PerfEstimate estimate(ModelSpec m, ParameterBreakdown p, Workload w, Gpu g, MemoryEstimate memory) {
        if (w.training()) {
            return RlGenerationPerf.withGeneration(m, p, w, g, TrainingPerf.estimate(m, p, w, g));
        }
        long weights = org.gpuplan.memory.WeightMemory.weights(m, p, w).value();
        return InferencePerf.estimate(m, p, w, g, memory, weights);
    }
}
