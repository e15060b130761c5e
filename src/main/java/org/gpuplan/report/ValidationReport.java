package org.gpuplan.report;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.gpuplan.validate.ValidationResult;

/** Measured vs predicted, per case and summarised per kind of workload. */
public final class ValidationReport {

    private final List<ValidationResult> results;

    private ValidationReport(List<ValidationResult> results) {
        this.results = List.copyOf(results);
    }

    public static ValidationReport of(List<ValidationResult> results) {
        return new ValidationReport(results);
    }

    /** Median of |error| over the predicted cases, NaN if none. */
    public static double medianAbsError(List<ValidationResult> rs) {
        List<Double> errs = new ArrayList<>();
        rs.forEach(r -> r.error().ifPresent(e -> errs.add(Math.abs(e))));
        if (errs.isEmpty()) {
            return Double.NaN;
        }
        errs.sort(Double::compare);
        int n = errs.size();
        return n % 2 == 1 ? errs.get(n / 2) : (errs.get(n / 2 - 1) + errs.get(n / 2)) / 2;
    }

    public static double maxAbsError(List<ValidationResult> rs) {
        return rs.stream().flatMap(r -> r.error().stream()).mapToDouble(Math::abs).max().orElse(Double.NaN);
    }

    private Map<String, List<ValidationResult>> byKind() {
        Map<String, List<ValidationResult>> m = new TreeMap<>();
        results.forEach(r -> m.computeIfAbsent(r.validationCase().kind(), k -> new ArrayList<>()).add(r));
        return m;
    }

    public String toText() {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%-44s %-26s %16s %16s %8s %s%n", "case", "metric", "measured",
                "predicted", "error", "conf"));
        for (ValidationResult r : results) {
            var c = r.validationCase();
            out.append(String.format(Locale.ROOT, "%-44s %-26s %16s %16s %8s %s%n", c.id(), c.metric(),
                    fmt(c.measured(), c.metric()), r.predicted().map(p -> fmt(p, c.metric())).orElse("-"),
                    r.error().map(e -> String.format(Locale.ROOT, "%+.1f%%", 100 * e)).orElse("n/a"),
                    c.confidence()));
            if (r.predicted().isEmpty()) {
                out.append("    not predicted: ").append(r.reason()).append('\n');
            }
        }
        out.append(String.format(Locale.ROOT, "%n%-20s %6s %12s %12s%n", "kind", "cases", "median |err|",
                "max |err|"));
        byKind().forEach((k, rs) -> out.append(String.format(Locale.ROOT, "%-20s %6d %11.1f%% %11.1f%%%n", k,
                rs.stream().filter(r -> r.predicted().isPresent()).count(), 100 * medianAbsError(rs),
                100 * maxAbsError(rs))));
        out.append('\n');
        groups().forEach((k, rs) -> out.append(String.format(Locale.ROOT, "%-28s %6d %11.1f%% %11.1f%%%n",
                k.replace('_', ' '), rs.stream().filter(r -> r.predicted().isPresent()).count(),
                100 * medianAbsError(rs), 100 * maxAbsError(rs))));
        out.append("(bytes shown in GiB = 2^30 bytes; *_tokens metrics in tokens; *_s in seconds)\n");
        return out.toString();
    }

    public ObjectNode toJson() {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        var cases = root.putArray("cases");
        for (ValidationResult r : results) {
            var c = r.validationCase();
            ObjectNode o = cases.addObject().put("id", c.id()).put("kind", c.kind()).put("metric", c.metric())
                    .put("measured", c.measured()).put("source", c.source());
            r.predicted().ifPresent(p -> o.put("predicted", p));
            r.error().ifPresent(e -> o.put("error", e));
            if (r.predicted().isEmpty()) {
                o.put("not_predicted", r.reason());
            }
        }
        ObjectNode summary = root.putObject("summary");
        byKind().forEach((k, rs) -> summary.putObject(k).put("median_abs_error", medianAbsError(rs))
                .put("max_abs_error", maxAbsError(rs)));
        groups().forEach((k, rs) -> summary.putObject(k).put("median_abs_error", medianAbsError(rs))
                .put("max_abs_error", maxAbsError(rs)));
        return root;
    }

    /** Summary groups: memory and runtime apart, fully specified (H) cases apart, and everything. */
    private Map<String, List<ValidationResult>> groups() {
        Map<String, List<ValidationResult>> g = new java.util.LinkedHashMap<>();
        java.util.function.Predicate<ValidationResult> perf = r -> r.validationCase().perf();
        java.util.function.Predicate<ValidationResult> high = r -> r.validationCase().confidence().equals("H");
        java.util.function.Predicate<ValidationResult> train = r -> r.validationCase().kind().contains("train");
        g.put("memory", results.stream().filter(perf.negate()).toList());
        g.put("memory_fully_specified", results.stream().filter(perf.negate().and(high)).toList());
        g.put("perf_train", results.stream().filter(perf.and(train)).toList());
        g.put("perf_inference", results.stream().filter(perf.and(train.negate())).toList());
        g.put("fully_specified", results.stream().filter(high).toList());
        g.put("all", results);
        return g;
    }

    private static String fmt(double v, String metric) {
        if (metric.endsWith("_tokens")) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (metric.endsWith("_per_s") || metric.endsWith("_per_gpu")) {
            return String.format(Locale.ROOT, "%,.1f /s", v).replace(" /s", metric.contains("tflops") ? " TFLOPS"
                    : " tok/s");
        }
        if (metric.endsWith("_s")) {
            return String.format(Locale.ROOT, "%.2f ms", v * 1e3);
        }
        if (metric.startsWith("perf.")) {
            return String.format(Locale.ROOT, "%.4g", v);
        }
        return String.format(Locale.ROOT, "%.2f GiB", v / Units.GIB);
    }
}
