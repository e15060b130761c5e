package org.gpuplan.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.gpuplan.io.CatalogEntry;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ParsedConfig;
import org.gpuplan.model.Attention;
import org.gpuplan.model.Family;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.ParameterCounter;

/** The built-in catalog as a table, optionally filtered by family and total-parameter range. */
public final class ModelsReport {

    /** One catalog row with its computed counts. */
    public record Row(CatalogEntry entry, ModelSpec spec, ParameterBreakdown parameters) {
    }

    private final List<Row> rows;

    private ModelsReport(List<Row> rows) {
        this.rows = List.copyOf(rows);
    }

    public static ModelsReport of(ModelCatalog catalog, Optional<String> family, Optional<Long> minParams,
                                  Optional<Long> maxParams) {
        family.ifPresent(f -> {
            if (Family.byModelType(f).isEmpty() && !f.equalsIgnoreCase("gemma3") && !f.equalsIgnoreCase("llama4")) {
                throw new InvalidInputException("--family: unknown family '" + f + "' (accepted: "
                        + String.join(", ", Family.modelTypes()) + ")");
            }
        });
        List<Row> rows = new ArrayList<>();
        for (CatalogEntry e : catalog.entries()) {
            ParsedConfig pc = HfConfigParser.parse(catalog.config(e), e.id(), e.id());
            ParameterBreakdown b = ParameterCounter.count(pc.spec());
            boolean familyOk = family.map(f -> matchesFamily(pc.spec().family(), f)).orElse(true);
            boolean minOk = minParams.map(m -> b.totalCount() >= m).orElse(true);
            boolean maxOk = maxParams.map(m -> b.totalCount() <= m).orElse(true);
            if (familyOk && minOk && maxOk) {
                rows.add(new Row(e, pc.spec(), b));
            }
        }
        return new ModelsReport(rows);
    }

    private static boolean matchesFamily(Family family, String wanted) {
        String w = wanted.toLowerCase(Locale.ROOT).replace('-', '_');
        return family.modelType().equals(w) || (w.equals("gemma3") && family == Family.GEMMA3)
                || (w.equals("llama4") && family == Family.LLAMA4);
    }

    public List<Row> rows() {
        return rows;
    }

    /**
     * Parses a parameter count such as {@code 7e9}, {@code 7B}, {@code 500M}, {@code 1.5b}, {@code 124439808}.
     */
    public static long parseCount(String text, String option) {
        String t = text.trim().toUpperCase(Locale.ROOT).replace("_", "").replace(",", "");
        double scale = 1;
        if (t.endsWith("T")) {
            scale = 1e12;
        } else if (t.endsWith("B")) {
            scale = 1e9;
        } else if (t.endsWith("M")) {
            scale = 1e6;
        } else if (t.endsWith("K")) {
            scale = 1e3;
        }
        if (scale != 1) {
            t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t) * scale;
            if (v < 0 || Double.isNaN(v) || v > 1e15) {
                throw new NumberFormatException();
            }
            return Math.round(v);
        } catch (NumberFormatException e) {
            throw new InvalidInputException(option + ": expected a parameter count such as 7B, 500M or 7e9, got '"
                    + text + "'");
        }
    }

    public ArrayNode toJson() {
        ArrayNode arr = JsonNodeFactory.instance.arrayNode();
        for (Row r : rows) {
            var o = arr.addObject();
            o.put("id", r.entry().id());
            o.put("family", r.spec().family().modelType());
            o.put("parameters_total", r.parameters().totalCount());
            o.put("parameters_active", r.parameters().activeCount());
            o.put("layers", r.spec().numLayers());
            o.put("hidden_size", r.spec().hiddenSize());
            o.put("attention", r.spec().attention().variant().name());
            o.put("max_context", r.spec().maxContext());
            o.put("source", r.entry().source());
        }
        return arr;
    }

    public String toText() {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%-44s %-16s %10s %10s %6s %7s %-14s %9s%n", "model", "family",
                "params", "active", "layers", "hidden", "attention", "context"));
        for (Row r : rows) {
            ModelSpec s = r.spec();
            String attn = s.attention().variant().name();
            if (s.attention() instanceof Attention.Standard st) {
                attn += " " + st.numHeads() + "/" + st.numKvHeads();
            } else {
                attn += " " + s.attention().numHeads();
            }
            out.append(String.format(Locale.ROOT, "%-44s %-16s %10s %10s %6d %7d %-14s %9s%n", r.entry().id(),
                    s.family().modelType(), Units.shortCount(r.parameters().totalCount()),
                    Units.shortCount(r.parameters().activeCount()), s.numLayers(), s.hiddenSize(), attn,
                    s.maxContext() > 0 ? Units.count(s.maxContext()) : "-"));
        }
        out.append(rows.size()).append(" model").append(rows.size() == 1 ? "" : "s")
                .append(" (params = total parameters computed from each config.json; B = 10^9)\n");
        return out.toString();
    }
}
