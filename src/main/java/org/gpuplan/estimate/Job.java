package org.gpuplan.estimate;

import java.util.Map;
import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.LoadedModel;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;

/**
 * A request made whole: the model found and read, its architecture (with any class override), the validated workload
 * (with what a weights file implies) and the GPU. The command line and the HTTP API build their jobs here.
 *
 * @param keys the workload keys as given, normalized (plain names and numbers): what searches start from
 */
public record Job(LoadedModel loaded, ModelSpec spec, Workload workload, GpuCatalog gpus, Optional<Gpu> gpu,
                  Map<String, String> keys) {

    /** Resolves the model named by the keys' {@code model}, parses the workload and looks up its GPU. */
    public static Job of(Map<String, String> raw, ModelResolver resolver, GpuCatalog catalog) {
        Map<String, String> keys = WorkloadParser.normalized(raw);
        if (keys.get("model") == null || keys.get("model").isBlank()) {
            throw new InvalidInputException("model: missing (a HuggingFace id, config.json, folder, .safetensors or "
                    + ".gguf, as MODEL or 'model' in the workload file)");
        }
        return of(keys, resolver.resolve(keys.get("model")), catalog);
    }

    /** The same for a model already read (an HTTP request's inline config.json). */
    public static Job of(Map<String, String> keys, LoadedModel loaded, GpuCatalog catalog) {
        Workload w = WorkloadParser.parse(Estimator.withFileDefaults(keys, loaded));
        Optional<Gpu> g = w.gpu().map(catalog::require);
        if (loaded.spec().isEmpty()) {
            throw new InvalidInputException("model: " + w.model() + " has no architecture to estimate from (give its "
                    + "config.json or a folder that has one)");
        }
        ModelSpec spec = w.architecture().map(a -> HfConfigParser.withArchitecture(loaded.spec().get(), a))
                .orElse(loaded.spec().get());
        return new Job(loaded, spec, w, catalog, g, java.util.Collections.unmodifiableMap(
                new java.util.LinkedHashMap<>(keys))); // key order kept: plans print it
    }

    /** The estimate of this job, with the warnings from reading the model first. */
    public Estimate estimate() {
        return Estimator.estimate(loaded.name(), spec, workload, gpu).withModelWarnings(loaded.warnings());
    }
}
