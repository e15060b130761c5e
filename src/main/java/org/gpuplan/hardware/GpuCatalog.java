package org.gpuplan.hardware;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.gpuplan.model.InvalidInputException;

/** The GPU catalog: {@code gpuplan/hardware/gpus.csv}, one row per accelerator with its sources. */
public final class GpuCatalog {

    private final List<Gpu> gpus;

    private GpuCatalog(List<Gpu> gpus) {
        this.gpus = List.copyOf(gpus);
    }

    public static GpuCatalog builtIn() {
        try (InputStream in = GpuCatalog.class.getResourceAsStream("/gpuplan/hardware/gpus.csv")) {
            if (in == null) {
                throw new IllegalStateException("gpus.csv missing from the jar");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "gpus.csv");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static GpuCatalog parse(String text, String where) {
        List<Gpu> gpus = new ArrayList<>();
        String[] lines = text.split("\r?\n");
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            List<String> f = splitCsv(lines[i]);
            if (f.size() < 12) {
                throw new InvalidInputException(where + " line " + (i + 1) + ": expected 13 columns");
            }
            try {
                gpus.add(new Gpu(f.get(0), f.get(1).isBlank() ? List.of() : Arrays.asList(f.get(1).split("\\|")),
                        f.get(2), f.get(3), f.get(4), Math.round(Double.parseDouble(f.get(5)) * 1e9),
                        Long.parseLong(f.get(6)) * 1024 * 1024,
                        Math.round(Double.parseDouble(f.get(7)) * 1024 * 1024 * 1024), Double.parseDouble(f.get(8)),
                        Double.parseDouble(f.get(9)), Double.parseDouble(f.get(10)), f.get(11)));
            } catch (NumberFormatException e) {
                throw new InvalidInputException(where + " line " + (i + 1) + ": bad number (" + e.getMessage() + ")");
            }
        }
        return new GpuCatalog(gpus);
    }

    private static List<String> splitCsv(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"' && quoted && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                cur.append('"');
                i++;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }

    public List<Gpu> gpus() {
        return gpus;
    }

    public Optional<Gpu> find(String name) {
        String n = normalize(name);
        return gpus.stream().filter(g -> normalize(g.name()).equals(n)
                || g.aliases().stream().anyMatch(a -> normalize(a).equals(n))).findFirst();
    }

    /** The GPU of that name, or a clear error listing the catalog. */
    public Gpu require(String name) {
        return find(name).orElseThrow(() -> new InvalidInputException("gpu: unknown GPU '" + name + "' (accepted: "
                + String.join(", ", gpus.stream().map(Gpu::name).toList()) + ")"));
    }

    private static String normalize(String s) {
        return s.trim().toLowerCase(Locale.ROOT).replace("_", "-").replace(" ", "-");
    }
}
