package org.gpuplan.plan;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;

/** {@code gpuplan fit}: the largest micro-batch, sequence length or concurrency that fits a GPU (binary search). */
public final class FitSearch {

    /**
     * The answer.
     *
     * @param key      the workload key solved for
     * @param value    the largest value that fits (0 when even the smallest does not)
     * @param estimate the estimate at that value (at 1 when nothing fits)
     */
    public record Result(String key, int value, Estimate estimate) {
    }

    private FitSearch() {
    }

    /** Accepted {@code --max} targets and the workload key each solves for. */
    public static String key(String target) {
        return switch (target.trim().toLowerCase(java.util.Locale.ROOT).replace('_', '-')) {
            case "seq-len", "seq", "context" -> "seq_len";
            case "batch-size", "batch", "micro-batch" -> "batch_size";
            case "concurrency", "sequences" -> "batch_size";
            case "gpu-layers", "n-gpu-layers", "ngl" -> "n_gpu_layers";
            default -> throw new InvalidInputException("max: unknown '" + target
                    + "' (accepted: seq-len, batch-size, concurrency, gpu-layers)");
        };
    }

    public static Result largest(String modelName, ModelSpec spec, Map<String, String> job, Gpu gpu, String key) {
        Candidates c = new Candidates(modelName, spec);
        Map<String, String> base = new LinkedHashMap<>(job);
        if (key.equals("seq_len")) {
            base.remove("prompt_len"); // the context is what is solved for
            base.remove("output_len");
        }
        if ("batch_size".equals(key) && "max".equals(base.get("batch_size"))) {
            base.remove("batch_size");
        }
        // llama.cpp's -ngl runs up to the layer count + 1 (the output layer)
        int hi = key.equals("seq_len") ? (int) Math.min(Math.max(spec.maxContext(), 1024), 1 << 22)
                : key.equals("n_gpu_layers") ? spec.numLayers() + 1 : 1 << 16;
        Optional<Estimate> first = at(c, base, gpu, key, 1);
        if (first.isEmpty()) {
            throw new InvalidInputException("fit: the workload is not valid for " + gpu.name());
        }
        if (!Candidates.fits(first.get())) {
            return new Result(key, 0, first.get());
        }
        int lo = 1;
        Estimate best = first.get();
        // exponential probe, then bisection: memory grows monotonically with batch and sequence length
        int probe = 2;
        while (probe <= hi) {
            Optional<Estimate> e = at(c, base, gpu, key, probe);
            if (e.isEmpty() || !Candidates.fits(e.get())) {
                hi = probe - 1;
                break;
            }
            lo = probe;
            best = e.get();
            probe *= 2;
        }
        hi = Math.min(hi, probe - 1);
        while (lo < hi) {
            int mid = lo + (hi - lo + 1) / 2;
            Optional<Estimate> e = at(c, base, gpu, key, mid);
            if (e.isPresent() && Candidates.fits(e.get())) {
                lo = mid;
                best = e.get();
            } else {
                hi = mid - 1;
            }
        }
        return new Result(key, lo, best);
    }

    private static Optional<Estimate> at(Candidates c, Map<String, String> base, Gpu gpu, String key, int v) {
        return c.estimate(Candidates.with(base, key, String.valueOf(v)), gpu);
    }
}
