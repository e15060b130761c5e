package org.gpuplan.validate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.LoadedModel;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.memory.MemoryEstimate;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;

/** Runs the estimator over published measurements and reports measured vs predicted. */
public final class Validator {

    static final String BUILT_IN = "/gpuplan/validation/memory.jsonl";

    private final ModelResolver resolver;
    private final GpuCatalog gpus;

    public Validator(ModelResolver resolver, GpuCatalog gpus) {
        this.resolver = resolver;
        this.gpus = gpus;
    }

    /** The project's validation set of published measurements. */
    public static List<ValidationCase> builtIn() {
        try (InputStream in = Validator.class.getResourceAsStream(BUILT_IN)) {
            if (in == null) {
                throw new IllegalStateException("validation set missing from the jar");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "memory.jsonl");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Cases from a JSON-lines file of the same format. */
    public static List<ValidationCase> read(Path file) {
        try {
            if (Files.size(file) > 50_000_000) {
                throw new InvalidInputException("measured: " + file + " is larger than 50 MB");
            }
            return parse(Files.readString(file), file.getFileName().toString());
        } catch (IOException e) {
            throw new InvalidInputException("measured: cannot read " + file + ": " + e.getMessage());
        }
    }

    static List<ValidationCase> parse(String text, String where) {
        ObjectMapper json = new ObjectMapper();
        List<ValidationCase> out = new ArrayList<>();
        int line = 0;
        for (String l : text.split("\n")) {
            line++;
            if (l.isBlank() || l.startsWith("#")) {
                continue;
            }
            JsonNode n;
            try {
                n = json.readTree(l);
            } catch (IOException e) {
                throw new InvalidInputException(where + " line " + line + ": not valid JSON");
            }
            if (!n.hasNonNull("id") || !n.hasNonNull("metric") || !n.hasNonNull("measured")
                    || !n.path("workload").isObject()) {
                throw new InvalidInputException(where + " line " + line + ": each case needs id, metric, measured and "
                        + "a workload object");
            }
            Map<String, String> workload = new LinkedHashMap<>();
            n.get("workload").fields().forEachRemaining(e -> workload.put(e.getKey(), e.getValue().isArray()
                    ? String.join(",", iterate(e.getValue())) : e.getValue().asText()));
            out.add(new ValidationCase(n.get("id").asText(), n.path("kind").asText("other"),
                    n.get("metric").asText(), n.get("measured").asDouble(), workload, n.path("source").asText(""),
                    n.path("confidence").asText(""), n.path("notes").asText("")));
        }
        return out;
    }

    private static List<String> iterate(JsonNode arr) {
        List<String> out = new ArrayList<>();
        arr.forEach(x -> out.add(x.asText()));
        return out;
    }

    public List<ValidationResult> run(List<ValidationCase> cases) {
        List<ValidationResult> out = new ArrayList<>();
        for (ValidationCase c : cases) {
            try {
                out.add(new ValidationResult(c, Optional.of(predict(c)), ""));
            } catch (InvalidInputException e) {
                out.add(new ValidationResult(c, Optional.empty(), e.getMessage()));
            }
        }
        return out;
    }

    double predict(ValidationCase c) {
        Workload w = WorkloadParser.parse(c.workload());
        Optional<Gpu> gpu = w.gpu().map(gpus::require);
        LoadedModel loaded = resolver.resolve(w.model());
        ModelSpec spec = loaded.spec().orElseThrow(() -> new InvalidInputException("no architecture for " + w.model()));
        if (w.architecture().isPresent()) {
            spec = HfConfigParser.withArchitecture(spec, w.architecture().get());
        }
        Estimate e = Estimator.estimate(loaded.name(), spec, w, gpu);
        return metric(e, c.metric());
    }

    static double metric(Estimate e, String metric) {
        MemoryEstimate m = e.memory();
        return switch (metric) {
            case "peak_allocated_bytes" -> m.peakAllocated();
            case "peak_reserved_bytes" -> m.peakReserved();
            case "device_used_bytes" -> m.deviceUsed();
            case "weights_bytes" -> m.bytes("weights");
            case "kv_cache_bytes" -> m.bytes("kv_cache");
            case "activations_bytes", "compute_buffer_bytes" -> m.bytes("activations");
            case "kv_pool_bytes" -> m.pool().map(MemoryEstimate.KvPool::poolBytes).orElseThrow(
                    () -> new InvalidInputException("kv_pool_bytes needs a pooling engine"));
            case "kv_cache_capacity_tokens" -> m.pool().map(MemoryEstimate.KvPool::capacityTokens).orElseThrow(
                    () -> new InvalidInputException("kv_cache_capacity_tokens needs a pooling engine"));
            default -> throw new InvalidInputException("metric '" + metric + "' is not predicted (accepted: "
                    + "peak_allocated_bytes, peak_reserved_bytes, device_used_bytes, weights_bytes, kv_cache_bytes, "
                    + "activations_bytes, compute_buffer_bytes, kv_pool_bytes, kv_cache_capacity_tokens)");
        };
    }
}
