package org.gpuplan.hardware;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
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

    /** The built-in catalog with the rows of a user's CSV file added; a row whose name exists replaces it. */
    public static GpuCatalog withUserFile(java.nio.file.Path file) {
        String text;
        try {
            if (java.nio.file.Files.size(file) > 4 << 20) {
                throw new InvalidInputException("gpu-file: " + file + " is larger than 4 MiB");
            }
            text = java.nio.file.Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new InvalidInputException("gpu-file: " + file + " is not UTF-8 text");
        } catch (IOException e) {
            throw new InvalidInputException("gpu-file: cannot read " + file + " (" + e.getMessage() + ")");
        }
        GpuCatalog user = parse(text, "gpu-file " + file.getFileName());
        List<Gpu> merged = new ArrayList<>(user.gpus);
        for (Gpu g : builtIn().gpus) {
            if (user.find(g.name()).isEmpty()) {
                merged.add(g);
            }
        }
        return new GpuCatalog(merged);
    }

    private static final List<String> REQUIRED = List.of("name", "memory_gb", "memory_bandwidth_tbs");

    static GpuCatalog parse(String text, String where) {
        List<Gpu> gpus = new ArrayList<>();
        Map<String, String> names = new java.util.HashMap<>();
        String[] lines = text.split("\r?\n");
        if (lines.length == 0 || lines[0].isBlank()) {
            throw new InvalidInputException(where + ": empty GPU catalog (expected a CSV header with "
                    + String.join(", ", REQUIRED) + ")");
        }
        List<String> header = Csv.split(lines[0].replace("\uFEFF", ""), where + " line 1").stream().map(String::trim).toList();
        for (String r : REQUIRED) {
            if (!header.contains(r)) {
                throw new InvalidInputException(where + ": missing column '" + r + "' (required: "
                        + String.join(", ", REQUIRED) + ")");
            }
        }
        if (!header.contains("bf16_dense_tflops") && !header.contains("fp16_dense_tflops")) {
            throw new InvalidInputException(where + ": missing column 'bf16_dense_tflops' (or fp16_dense_tflops)");
        }
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].isBlank() || lines[i].startsWith("#")) {
                continue;
            }
            if (gpus.size() >= 10_000) {
                throw new InvalidInputException(where + ": more than 10000 GPUs");
            }
            List<String> f = Csv.split(lines[i], where + " line " + (i + 1));
            Row row = new Row(header, f, where + " line " + (i + 1));
            Gpu g = row.toGpu();
            for (String n : concat(g.name(), g.aliases())) {
                String owner = names.putIfAbsent(normalize(n), g.name());
                if (owner != null && !owner.equals(g.name())) {
                    throw new InvalidInputException(where + " line " + (i + 1) + ": column 'name'/'aliases': '" + n
                            + "' is already used by " + owner);
                }
            }
            gpus.add(g);
        }
        return new GpuCatalog(gpus);
    }

    /** One CSV row read by column name; blank optional cells take the documented defaults. */
    private record Row(List<String> header, List<String> cells, String where) {

        String text(String column) {
            int i = header.indexOf(column);
            return i < 0 || i >= cells.size() ? "" : cells.get(i).trim();
        }

        double number(String column, double fallback) {
            String t = text(column);
            if (t.isEmpty() || t.equals("-") || t.equals("\u2014")) {
                return fallback;
            }
            try {
                double v = Double.parseDouble(t);
                if (!Double.isFinite(v) || v < 0) {
                    throw new NumberFormatException();
                }
                return v;
            } catch (NumberFormatException e) {
                throw new InvalidInputException(where + ": column '" + column + "' must be a non-negative number, got '"
                        + (t.length() > 40 ? t.substring(0, 40) + "..." : t) + "'");
            }
        }

        Gpu toGpu() {
            String name = text("name");
            if (name.isEmpty()) {
                throw new InvalidInputException(where + ": column 'name' is empty");
            }
            double memoryGb = number("memory_gb", 0);
            if (!(memoryGb > 0) || memoryGb > 100_000) {
                throw new InvalidInputException(where + ": column 'memory_gb' must be in (0, 100000]");
            }
            // Without a sighting, HBM sizes are binary (80 GB HBM = 80 GiB): nvidia-smi shows that, CUDA ~0.5 GiB less.
            double smiMib = bounded("nvidia_smi_total_mib", memoryGb * 1024, 1.1e8);
            double cudaGib = bounded("cuda_total_gib", Math.max(smiMib / 1024 - 0.5, smiMib / 1024 * 0.9), 1.1e5);
            Map<TensorDtype, Double> peaks = new EnumMap<>(TensorDtype.class);
            for (TensorDtype d : TensorDtype.values()) {
                double v = number(d.column(), 0);
                if (v > 1e6) {
                    throw new InvalidInputException(where + ": column '" + d.column() + "' must be at most 1000000");
                }
                if (v > 0) {
                    peaks.put(d, v);
                }
            }
            if (!peaks.containsKey(TensorDtype.BF16) && !peaks.containsKey(TensorDtype.FP16)) {
                throw new InvalidInputException(where + ": column 'bf16_dense_tflops' (or fp16_dense_tflops) must be "
                        + "a positive number");
            }
            double bandwidth = bounded("memory_bandwidth_tbs", 0, 1000);
            String aliases = text("aliases");
            String link = text("link");
            double linkGbs = bounded("link_gbs", 32, 1e6);
            double scaleUp = bounded("scale_up_gpus", 8, 100_000);
            if (scaleUp != Math.rint(scaleUp)) {
                throw new InvalidInputException(where + ": column 'scale_up_gpus' must be a whole number, got '"
                        + text("scale_up_gpus") + "'");
            }
            double networkGbs = bounded("network_gbs", 12.5, 1e6);
            double matmul = bounded("matmul_efficiency", Gpu.DEFAULT_MATMUL_EFFICIENCY, 1);
            double memory = bounded("memory_efficiency", Gpu.DEFAULT_MEMORY_EFFICIENCY, 1);
            double clock = bounded("power_clock_factor", 1, 1);
            double tdp = number("tdp_w", 0);
            try {
                Gpu.Interconnect ic = new Gpu.Interconnect(link.isEmpty() ? "PCIe4" : link, linkGbs, (int) scaleUp,
                        networkGbs);
                return new Gpu(name, aliases.isEmpty() ? List.of()
                        : Arrays.stream(aliases.split("\\|")).map(String::trim).filter(a -> !a.isEmpty()).toList(),
                        text("vendor"), text("architecture"), text("compute_capability"), Math.round(memoryGb * 1e9),
                        Math.round(smiMib * 1024 * 1024), Math.round(cudaGib * 1024 * 1024 * 1024),
                        bandwidth, peaks, tdp, ic, matmul, memory, clock,
                        (text("source") + (text("retrieved").isEmpty() ? "" : " (retrieved " + text("retrieved") + ")"))
                                .trim());
            } catch (InvalidInputException e) {
                throw new InvalidInputException(where + ": " + e.getMessage());
            }
        }

        /** A number in (0, max]; a blank cell takes the default. */
        double bounded(String column, double fallback, double max) {
            double v = number(column, fallback);
            if (!(v > 0) || v > max) {
                throw new InvalidInputException(where + ": column '" + column + "' must be in (0, "
                        + (max == Math.rint(max) ? String.format(Locale.ROOT, "%.0f", max) : Double.toString(max))
                        + "], got '" + text(column) + "'");
            }
            return v;
        }
    }

    public List<Gpu> gpus() {
        return gpus;
    }

    public Optional<Gpu> find(String name) {
        Optional<Gpu> named = lookup(normalize(name));
        return named.isPresent() ? named : lookup(normalize(deviceName(name)));
    }

    private Optional<Gpu> lookup(String n) {
        return gpus.stream().filter(g -> normalize(g.name()).equals(n)
                || g.aliases().stream().anyMatch(a -> normalize(a).equals(n))).findFirst();
    }

    /**
     * A device name as nvidia-smi, torch.cuda.get_device_name() or rocm-smi print it ("NVIDIA GeForce RTX 4090",
     * "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB", "Tesla T4", "AMD Instinct MI300X") in the catalog's terms.
     */
    static String deviceName(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT).replaceAll("\\s+", " ");
        n = n.replaceAll("^(nvidia |amd |tesla |geforce |quadro |instinct |radeon )+", "");
        for (String[] r : DEVICE_NAMES) {
            n = n.replaceAll(r[0], r[1]);
        }
        return n;
    }

    /** How the drivers' device names differ from the catalog's, as regex rewrites applied in order. */
    private static final String[][] DEVICE_NAMES = {
        {"^h100 80gb hbm3$", "h100-sxm-80gb"}, {"^h100 pcie$", "h100-pcie-80gb"}, {"^h100 nvl$", "h100-nvl-94gb"},
        {"^a100-sxm4-(40|80)gb$", "a100-sxm-$1gb"}, {"^a100 (40|80)gb pcie$", "a100-pcie-$1gb"},
        {"^a100-pcie-(40|80)gb$", "a100-pcie-$1gb"}, {"^gh200 480gb$", "gh200-96gb"},
        {"^gh200 144g hbm3e$", "gh200-141gb"}, {"^rtx (\\d000) ada generation$", "rtx-$1-ada"},
        {"^rtx pro 6000 blackwell.*$", "rtx-pro-6000"}
    };

    /** The GPU of that name, or a clear error listing the catalog. */
    public Gpu require(String name) {
        return find(name).orElseThrow(() -> new InvalidInputException("gpu: unknown GPU '" + name + "' (accepted: "
                + String.join(", ", gpus.stream().map(Gpu::name).toList()) + ")"));
    }

    private static List<String> concat(String first, List<String> rest) {
        List<String> all = new ArrayList<>(rest.size() + 1);
        all.add(first);
        all.addAll(rest);
        return all;
    }

    private static String normalize(String s) {
        return s.trim().toLowerCase(Locale.ROOT).replace("_", "-").replace(" ", "-");
    }
}
