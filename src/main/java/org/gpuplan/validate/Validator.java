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
import org.gpuplan.perf.PerfEstimate;
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
    static final String BUILT_IN_PERF = "/gpuplan/validation/perf.jsonl";

    private final ModelResolver resolver;
    private final GpuCatalog gpus;

    public Validator(ModelResolver resolver, GpuCatalog gpus) {
        this.resolver = resolver;
        this.gpus = gpus;
    }

    /** The project's validation set of published measurements. */
    public static List<ValidationCase> builtIn() {
        List<ValidationCase> all = new ArrayList<>(resource(BUILT_IN));
        all.addAll(resource(BUILT_IN_PERF));
        return all;
    }

    private static List<ValidationCase> resource(String name) {
        try (InputStream in = Validator.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("validation set missing from the jar: " + name);
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), name.substring(name.lastIndexOf('/') + 1));
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
        // two cases run together on one line must not pass as the first of them
        ObjectMapper json = new ObjectMapper().enable(
                com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
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
                    n.path("confidence").asText(""), n.path("notes").asText(""),
                    n.path("config").isObject() ? n.get("config").toString() : ""));
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
        ModelSpec spec;
        String name;
        if (!c.inlineConfig().isEmpty()) {
            spec = HfConfigParser.parse(c.inlineConfig(), w.model(), c.id() + " (inline config)").spec();
            name = w.model();
        } else {
            LoadedModel loaded = resolver.resolve(w.model());
            spec = loaded.spec().orElseThrow(() -> new InvalidInputException("no architecture for " + w.model()));
            name = loaded.name();
        }
        if (w.architecture().isPresent()) {
            spec = HfConfigParser.withArchitecture(spec, w.architecture().get());
        }
        Estimate e = Estimator.estimate(name, spec, w, gpu);
        return metric(e, c.metric());
    }

    static double metric(Estimate e, String metric) {
        if (metric.startsWith("perf.")) {
            return perfMetric(e, metric.substring(5));
        }
        MemoryEstimate m = e.memory();
        return switch (metric) {
            case "peak_allocated_bytes" -> m.peakAllocated();
            case "peak_reserved_bytes" -> m.peakReserved();
            case "device_used_bytes" -> m.deviceUsed();
            case "weights_bytes" -> m.bytes("weights");
            case "kv_cache_bytes" -> m.bytes("kv_cache");
            case "recurrent_state_bytes" -> m.bytes("recurrent_state");
            case "recurrent_state_pool_bytes" -> m.bytes("recurrent_state_pool");
            case "activations_bytes", "compute_buffer_bytes" -> m.bytes("activations");
            case "kv_pool_bytes" -> m.pool().map(MemoryEstimate.KvPool::poolBytes).orElseThrow(
                    () -> new InvalidInputException("kv_pool_bytes needs a pooling engine"));
            case "kv_cache_capacity_tokens" -> m.pool().map(MemoryEstimate.KvPool::capacityTokens).orElseThrow(
                    () -> new InvalidInputException("kv_cache_capacity_tokens needs a pooling engine"));
            default -> throw new InvalidInputException("metric '" + metric + "' is not predicted (accepted: "
                    + "peak_allocated_bytes, peak_reserved_bytes, device_used_bytes, weights_bytes, kv_cache_bytes, "
                    + "recurrent_state_bytes, recurrent_state_pool_bytes, "
                    + "activations_bytes, compute_buffer_bytes, kv_pool_bytes, kv_cache_capacity_tokens)");
        };
    }

    /** perf.* metrics; {@code megatron_tflops_per_gpu} recounts FLOPs the way Megatron-LM reports them. */
    static double perfMetric(Estimate e, String key) {
        PerfEstimate p = e.perf().orElseThrow(() -> new InvalidInputException("perf." + key + " needs a gpu"));
        double v = switch (key) {
            case "megatron_tflops_per_gpu" -> megatronFlops(e) / p.stepTimeS() / e.workload().parallelism().gpus()
                    / 1e12;
            case "step_time_s" -> p.stepTimeS();
            case "mfu" -> p.mfu();
            case "tokens_per_s" -> p.tokensPerS();
            case "ttft_s" -> p.ttftS();
            case "tpot_s" -> p.tpotS();
            case "output_tokens_per_s" -> p.outputTokensPerS();
            // GPU kernel time as a profiler sums it (calibration/measure.py): the model's GPU-side figures
            case "kernel_time_s" -> p.figure("gpu_time_s");
            case "prefill_kernel_time_s" -> p.figure("prefill_gpu_s");
            case "decode_kernel_time_s" -> p.figure("decode_step_s");
            default -> p.figure(key);
        };
        if (Double.isNaN(v)) {
            throw new InvalidInputException("metric 'perf." + key + "' is not predicted for this task");
        }
        return v;
    }

    /**
     * Megatron-LM's reported FLOPs per step (training.py num_floating_point_operations for a GPT with MHA and a 4h
     * MLP): 72·B·s·L·h²·(1 + s/(6h) + V/(12·h·L)), B the global batch in sequences. It counts attention without the
     * causal halving, so TFLOP/s compare as step times.
     */
    static double megatronFlops(Estimate e) {
        var w = e.workload();
        var par = w.parallelism();
        double b = (double) w.batchSize() * org.gpuplan.memory.ShardedTraining.microbatches(w, par) * par.dp();
        double s = w.seqLen(), l = e.spec().numLayers(), h = e.spec().hiddenSize(), v = e.spec().vocabSize();
        return 72 * b * s * l * h * h * (1 + s / (6 * h) + v / (12 * h * l));
    }
}
