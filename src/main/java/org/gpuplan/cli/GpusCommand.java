package org.gpuplan.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.hardware.TensorDtype;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuplan gpus}: the GPU catalog. */
@Command(name = "gpus", mixinStandardHelpOptions = true, description = "Lists the GPU catalog with its sources.")
final class GpusCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Option(names = "--gpu-file", paramLabel = "FILE",
            description = "A CSV in the catalog's format (columns by header name; name, memory_gb, "
                    + "memory_bandwidth_tbs and bf16_dense_tflops or fp16_dense_tflops required, blank cells take "
                    + "the defaults) whose rows are added to the built-in catalog; a row with a built-in name "
                    + "replaces that GPU.")
    Path gpuFile;

    @Override
    public Integer call() throws Exception {
        GpuCatalog catalog = gpuFile == null ? GpuCatalog.builtIn() : GpuCatalog.withUserFile(gpuFile);
        StringBuilder out = new StringBuilder();
        if (common.json) {
            var arr = org.gpuplan.report.GpusReport.json(catalog);
            out.append(InspectCommand.JSON.writeValueAsString(arr)).append('\n');
        } else {
            String row = "%-16s %8s %12s %8s %9s %9s %-12s %6s %5s %4s%n";
            out.append(String.format(Locale.ROOT, row, "gpu", "memory", "CUDA total", "HBM TB/s", "bf16 TF",
                    "fp8 TF", "link GB/s", "domain", "TDP W", "cc"));
            for (Gpu g : catalog.gpus()) {
                Gpu.Interconnect ic = g.interconnect();
                out.append(String.format(Locale.ROOT, row, g.name(), num(g.memoryBytes() / 1e9) + " GB",
                        String.format(Locale.ROOT, "%.2f GiB", g.cudaTotalBytes() / (double) (1L << 30)),
                        String.format(Locale.ROOT, "%.3f", g.memoryBandwidthTbs()),
                        String.format(Locale.ROOT, "%.1f", g.bf16DenseTflops()),
                        g.supports(TensorDtype.FP8)
                                ? String.format(Locale.ROOT, "%.1f", g.denseTflops().get(TensorDtype.FP8)) : "-",
                        ic.link() + " " + num(ic.linkGBs()), "x" + ic.scaleUpGpus(),
                        g.tdpWatts() > 0 ? num(g.tdpWatts()) : "-",
                        g.computeCapability().isEmpty() ? "-" : g.computeCapability()));
            }
            out.append("(GB = 10^9 bytes as vendors state it; CUDA total = what PyTorch reports, GiB = 2^30 bytes;\n"
                    + " TF = dense TFLOPS, 10^12 FLOP/s without sparsity, \"-\" = no such tensor path or not found;\n"
                    + " link GB/s = scale-up bandwidth per GPU, one direction, 10^9 bytes/s; domain = GPUs on that link;\n"
                    + " --json adds every dtype's peak, the network and efficiency figures and each GPU's sources)\n");
        }
        return CommonOptions.print(spec, out.toString());
    }

    /** 80 → "80", 12.5 → "12.5". */
    private static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.format(Locale.ROOT, "%.0f", v)
                : String.format(Locale.ROOT, "%.1f", v);
    }
}
