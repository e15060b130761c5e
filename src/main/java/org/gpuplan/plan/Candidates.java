package org.gpuplan.plan;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;

/**
 * Evaluates candidate workloads given as workload keys (the same keys a user writes), so that every plan is
 * reproducible with {@code gpuplan estimate --workload}. Counts what it evaluated.
 */
final class Candidates {

    private final String modelName;
    private final ModelSpec spec;
    private final boolean alwaysPerf;
    private int evaluated;

    Candidates(String modelName, ModelSpec spec) {
        this(modelName, spec, false);
    }

    /** @param alwaysPerf compute the runtime even for candidates that do not fit (to compare changes) */
    Candidates(String modelName, ModelSpec spec, boolean alwaysPerf) {
        this.modelName = modelName;
        this.spec = spec;
        this.alwaysPerf = alwaysPerf;
    }

    int evaluated() {
        return evaluated;
    }

    /** Counts a configuration scored without an estimate (by a {@link TrainingEvaluator}). */
    void counted() {
        evaluated++;
    }

    /** The workload of these keys on this GPU, or empty when the combination is invalid. */
    static Optional<Workload> workload(Map<String, String> keys, Gpu gpu) {
        try {
            Map<String, String> k = new LinkedHashMap<>(keys);
            k.put("gpu", gpu.name());
            return Optional.of(WorkloadParser.parse(k));
        } catch (InvalidInputException e) {
            return Optional.empty();
        }
    }

    /** The full estimate of a configuration already scored (not counted again). */
    Optional<Estimate> explain(Map<String, String> keys, Gpu gpu) {
        evaluated--;
        return estimate(keys, gpu);
    }

    /** The estimate of these keys on this GPU, or empty when the combination is invalid. */
    Optional<Estimate> estimate(Map<String, String> keys, Gpu gpu) {
        evaluated++;
        try {
            Map<String, String> k = new LinkedHashMap<>(keys);
            k.put("gpu", gpu.name());
            Workload w = WorkloadParser.parse(k);
            Estimate memory = Estimator.estimateMemory(modelName, spec, w, Optional.of(gpu));
            // the runtime model only for candidates that fit (most rejected candidates never need it)
            return Optional.of(alwaysPerf || fits(memory) ? Estimator.withPerf(memory) : memory);
        } catch (InvalidInputException e) {
            return Optional.empty();
        }
    }

    /**
     * Fits the GPU; for an engine with a KV pool, the pool must also hold the requested sequences (the engine would
     * otherwise queue or preempt them) and at least one whole sequence.
     */
    static boolean fits(Estimate e) {
        if (!e.fit().map(Estimate.Fit::fits).orElse(false)) {
            return false;
        }
        return e.memory().pool().map(p -> p.holds(e.memory().bytes("kv_cache"), e.workload().seqLen()))
                .orElse(true);
    }

    static Map<String, String> with(Map<String, String> base, String... kv) {
        Map<String, String> out = new LinkedHashMap<>(base);
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] == null) {
                out.remove(kv[i]);
            } else {
                out.put(kv[i], kv[i + 1]);
            }
        }
        return out;
    }
}
