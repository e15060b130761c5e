package org.gpuplan.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.plan.Changes;
import org.gpuplan.plan.FitSearch;
import org.gpuplan.plan.Plan;
import org.gpuplan.plan.Planner;
import org.gpuplan.workload.Parallelism;
import org.gpuplan.workload.Workload;

/** The planner's answer as a ranked table with the recommendation in words, or as JSON. */
public final class PlanReport {

    private PlanReport() {
    }

    public static ObjectNode json(Planner.Result r, List<Changes.Change> changes) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ArrayNode plans = root.putArray("plans");
        for (Plan p : r.plans()) {
            plans.add(planJson(p));
        }
        root.put("evaluated", r.evaluated());
        r.plans().stream().findFirst().ifPresent(p -> root.put("recommendation", recommendation(p)));
        ArrayNode a = root.putArray("assumptions");
        r.assumptions().forEach(a::add);
        if (!changes.isEmpty()) {
            root.set("changes", changesJson(changes));
        }
        return root;
    }

    static ObjectNode planJson(Plan p) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ObjectNode w = o.putObject("workload");
        p.workload().forEach(w::put);
        ObjectNode est = EstimateReport.of(p.estimate()).toJson();
        o.set("memory", est.get("memory"));
        o.set("perf", est.get("perf"));
        o.set("fit", est.get("fit"));
        num(o, "cost_usd", p.costUsd());
        num(o, "hourly_usd", p.hourlyUsd());
        num(o, "time_s", p.timeS());
        num(o, "usd_per_million_tokens", p.usdPerMillionTokens());
        o.put("gpus", p.gpus()).put("replicas", p.replicas()).put("instances", p.instances());
        o.put("cost_formula", costFormula(p));
        o.put("provider", p.price().map(x -> x.provider()).orElse(null));
        o.put("region", p.price().map(x -> x.region()).orElse(null));
        o.put("country", p.price().map(x -> x.country()).orElse(null));
        o.put("instance", p.price().map(x -> x.instance()).orElse(null));
        o.put("price_date", p.price().map(x -> x.date()).orElse(null));
        o.put("price_source", p.price().map(x -> x.source()).orElse(null));
        return o;
    }

    /** How the plan's dollars follow from the offer, with the numbers substituted. */
    static String costFormula(Plan p) {
        if (p.price().isEmpty()) {
            return "no price is known for this GPU";
        }
        var x = p.price().get();
        String hourly = String.format(Locale.ROOT, "hourly = %d instances × $%.4g/h (%s %s, %s) = $%.4g/h",
                p.instances(), p.hourlyUsd() / Math.max(1, p.instances()), x.provider(), x.instance(), x.date(),
                p.hourlyUsd());
        if (!p.estimate().workload().training()) {
            return hourly + String.format(Locale.ROOT, " for %d replica(s); $/M output tokens = hourly / (requests/s × "
                    + "output tokens × 3600) × 10^6 = $%.4g", p.replicas(), p.usdPerMillionTokens());
        }
        return hourly + String.format(Locale.ROOT, "; cost = hourly × time / 3600 = $%.4g × %.4g s / 3600 = $%.4g; "
                + "$/M tokens = cost / tokens × 10^6 = $%.4g", p.hourlyUsd(), p.timeS(), p.costUsd(),
                p.usdPerMillionTokens());
    }

    public static ArrayNode changesJson(List<Changes.Change> changes) {
        ArrayNode arr = JsonNodeFactory.instance.arrayNode();
        for (Changes.Change c : changes) {
            ObjectNode o = arr.addObject().put("change", c.description()).put("fits", c.fits())
                    .put("device_used_bytes", c.estimate().memory().deviceUsed())
                    .put("required_bytes", c.estimate().fit().map(f -> f.requiredBytes()).orElse(0L))
                    .put("peak_allocated_bytes", c.estimate().memory().peakAllocated());
            num(o, "slowdown", c.slowdown());
            ObjectNode w = o.putObject("workload");
            c.keys().forEach(w::put);
        }
        return arr;
    }

    public static ObjectNode fitJson(FitSearch.Result r) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put(r.key(), r.value());
        ObjectNode est = EstimateReport.of(r.estimate()).toJson();
        o.set("workload", est.get("workload"));
        o.set("memory", est.get("memory"));
        o.set("fit", est.get("fit"));
        o.set("perf", est.get("perf"));
        return o;
    }

    private static void num(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) {
            o.put(key, Math.round(v * 1000) / 1000.0);
        } else {
            o.putNull(key);
        }
    }

    /** The best plan in plain words. */
    public static String recommendation(Plan p) {
        Workload w = p.estimate().workload();
        Parallelism par = w.parallelism();
        String where = p.price().map(x -> String.format(Locale.ROOT, " on %s %s (%s%s, $%.2f/h as of %s)",
                x.provider(), x.instance(), x.region(), x.country().isEmpty() ? "" : ", " + x.country(),
                p.hourlyUsd(), x.date())).orElse(" (no price known for this GPU)");
        String mem = String.format(Locale.ROOT, "%.1f GiB of %.1f GiB per GPU", gib(p.estimate().memory().deviceUsed()),
                gib(p.estimate().gpu().orElseThrow().cudaTotalBytes()));
        if (!w.training()) {
            return String.format(Locale.ROOT, "Serve with %s on %d × %s%s%s, %s at up to %d concurrent sequences "
                            + "per replica (TTFT %.0f ms, TPOT %.1f ms); %d replica%s%s; %s; $%.2f per million output "
                            + "tokens.", w.framework().key(), par.gpus(), p.estimate().gpu().get().name(),
                    par.tp() > 1 ? " (tensor parallel " + par.tp() + ")" : "",
                    w.quant().key().equals("none") ? "" : ", " + w.quant().key() + " weights", "memory " + mem,
                    w.batchSize(), 1e3 * p.estimate().perf().get().ttftS(), 1e3 * p.estimate().perf().get().tpotS(),
                    p.replicas(), p.replicas() == 1 ? "" : "s", where, "hourly $" + fmt(p.hourlyUsd()),
                    p.usdPerMillionTokens());
        }
        return String.format(Locale.ROOT, "Train on %d × %s%s with %s%s: micro-batch %d, %s, checkpointing %s, %s "
                        + "(%s), %s. Takes %s, costs $%s ($%.2f per million tokens), MFU %.0f %%.",
                par.gpus(), p.estimate().gpu().get().name(), where, w.framework().key(), layout(par), w.batchSize(),
                w.method().key() + (w.method().key().equals("qlora") ? " (" + w.quant().key() + ")" : ""),
                w.checkpointing().key(), w.optimizer().key(), w.precision().key(), mem, duration(p.timeS()),
                fmt(p.costUsd()), p.usdPerMillionTokens(), 100 * p.estimate().perf().get().mfu());
    }

    static String layout(Parallelism par) {
        StringBuilder s = new StringBuilder();
        if (par.gpus() > 1) {
            s.append(" (dp ").append(par.dp());
            if (par.tp() > 1) {
                s.append(" × tp ").append(par.tp());
            }
            if (par.pp() > 1) {
                s.append(" × pp ").append(par.pp());
            }
            if (par.cp() > 1) {
                s.append(" × cp ").append(par.cp());
            }
            if (par.ep() > 1) {
                s.append(", ep ").append(par.ep());
            }
            if (par.fsdp() != Parallelism.FsdpMode.NONE) {
                s.append(", FSDP ").append(par.fsdp().key());
            }
            if (par.zero() > 0) {
                s.append(", ZeRO-").append(par.zero());
            }
            s.append(')');
        }
        return s.toString();
    }

    public static String text(Planner.Result r, List<Changes.Change> changes) {
        StringBuilder out = new StringBuilder();
        if (r.plans().isEmpty()) {
            out.append("No plan fits the constraints (").append(r.evaluated()).append(" configurations evaluated).\n");
        } else {
            boolean train = r.plans().get(0).estimate().workload().training();
            if (train) {
                out.append(String.format(Locale.ROOT, "%-3s %-22s %-32s %-10s %-44s %-9s %-10s %10s %10s %10s %11s %5s%n",
                        "#", "GPUs", "offer", "price date", "layout", "micro×acc", "ckpt", "mem/GPU", "step",
                        "time", "cost", "MFU"));
            } else {
                out.append(String.format(Locale.ROOT, "%-3s %-22s %-32s %-10s %-9s %6s %9s %9s %10s %10s %9s%n", "#",
                        "GPUs (replicas × tp)", "offer", "price date", "quant", "conc", "TTFT", "TPOT", "mem/GPU",
                        "$/hour", "$/M tok"));
            }
            int i = 1;
            for (Plan p : r.plans()) {
                Workload w = p.estimate().workload();
                var pe = p.estimate().perf().orElseThrow();
                String where = p.price().map(x -> x.provider() + " " + x.instance()).orElse("-");
                if (where.length() > 32) {
                    where = where.substring(0, 31) + "…";
                }
                String date = p.price().map(x -> x.date()).orElse("-");
                if (train) {
                    int accum = org.gpuplan.memory.ShardedTraining.microbatches(w, w.parallelism());
                    out.append(String.format(Locale.ROOT, "%-3d %-22s %-32s %-10s %-44s %-9s %-10s %10s %10s %10s %11s %4.0f%%%n",
                            i++, w.parallelism().gpus() + " × " + p.estimate().gpu().get().name(), where, date,
                            (w.method().key() + " " + w.optimizer().key() + layout(w.parallelism())).trim(),
                            w.batchSize() + "×" + accum, w.checkpointing().key(),
                            String.format(Locale.ROOT, "%.1f GiB", gib(p.estimate().memory().deviceUsed())),
                            String.format(Locale.ROOT, "%.2f s", pe.stepTimeS()), duration(p.timeS()),
                            "$" + fmt(p.costUsd()), 100 * pe.mfu()));
                } else {
                    out.append(String.format(Locale.ROOT, "%-3d %-22s %-32s %-10s %-9s %6d %7.0fms %7.1fms %10s %10s %9s%n",
                            i++, p.replicas() + " × " + w.parallelism().tp() + " × " + p.estimate().gpu().get().name(),
                            where, date, w.quant().key(), w.batchSize(), 1e3 * pe.ttftS(), 1e3 * pe.tpotS(),
                            String.format(Locale.ROOT, "%.1f GiB", gib(p.estimate().memory().deviceUsed())),
                            "$" + fmt(p.hourlyUsd()), "$" + fmt(p.usdPerMillionTokens())));
                }
            }
            out.append("\nRecommended: ").append(recommendation(r.plans().get(0))).append('\n');
        }
        r.assumptions().forEach(a -> out.append("note: ").append(a).append('\n'));
        out.append(r.evaluated()).append(" configurations evaluated. Prices change daily: each row shows its "
                + "date. (GiB = 2^30 bytes)\n");
        if (!changes.isEmpty()) {
            out.append('\n').append(changesText(changes));
        }
        return out.toString();
    }

    public static String changesText(List<Changes.Change> changes) {
        StringBuilder out = new StringBuilder("What to change to fit (memory required on the GPU, time per token "
                + "relative to now):\n");
        for (Changes.Change c : changes) {
            out.append(String.format(Locale.ROOT, "  %s %-70s %9.2f GiB  %s%n", c.fits() ? "✓" : "✗", c.description(),
                    gib(c.estimate().fit().map(f -> f.requiredBytes()).orElse(c.estimate().memory().deviceUsed())),
                    Double.isFinite(c.slowdown())
                            ? String.format(Locale.ROOT, "%.2f× time per token", c.slowdown()) : ""));
        }
        return out.toString();
    }

    static String duration(double s) {
        if (!Double.isFinite(s)) {
            return "-";
        }
        return s >= 2 * 86400 ? String.format(Locale.ROOT, "%.1f d", s / 86400)
                : s >= 3600 ? String.format(Locale.ROOT, "%.1f h", s / 3600)
                : s >= 60 ? String.format(Locale.ROOT, "%.0f min", s / 60) : String.format(Locale.ROOT, "%.1f s", s);
    }

    static String fmt(double usd) {
        return !Double.isFinite(usd) ? "-" : usd >= 100 ? String.format(Locale.ROOT, "%,.0f", usd)
                : String.format(Locale.ROOT, "%.2f", usd);
    }

    static double gib(long b) {
        return b / (double) (1L << 30);
    }

    public static String fitText(FitSearch.Result r, Map<String, String> job) {
        Estimate e = r.estimate();
        if (r.value() == 0) {
            return String.format(Locale.ROOT, "Nothing fits: even %s = 1 needs %.2f GiB of %.2f GiB on %s.%n"
                    + "'gpuplan estimate' with the same flags lists the changes that would make it fit.%n",
                    r.key(), gib(e.memory().deviceUsed()), gib(e.gpu().get().cudaTotalBytes()), e.gpu().get().name());
        }
        return String.format(Locale.ROOT, "Largest %s that fits %s: %,d (device memory %.2f GiB of %.2f GiB, peak "
                        + "allocated %.2f GiB).%n", r.key(), e.gpu().get().name(), r.value(),
                gib(e.memory().deviceUsed()), gib(e.gpu().get().cudaTotalBytes()), gib(e.memory().peakAllocated()));
    }
}
