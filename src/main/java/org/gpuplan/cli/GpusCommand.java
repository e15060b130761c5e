package org.gpuplan.cli;

import java.util.Locale;
import java.util.concurrent.Callable;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.GpuCatalog;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/** {@code gpuplan gpus}: the GPU catalog. */
@Command(name = "gpus", mixinStandardHelpOptions = true, description = "Lists the GPU catalog with its sources.")
final class GpusCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
        StringBuilder out = new StringBuilder();
        if (common.json) {
            var arr = InspectCommand.JSON.createArrayNode();
            for (Gpu g : GpuCatalog.builtIn().gpus()) {
                arr.addObject().put("name", g.name()).put("memory_gb", g.memoryBytes() / 1e9)
                        .put("cuda_total_bytes", g.cudaTotalBytes()).put("nvidia_smi_total_bytes",
                                g.nvidiaSmiTotalBytes()).put("memory_bandwidth_tbs", g.memoryBandwidthTbs())
                        .put("bf16_dense_tflops", g.bf16DenseTflops()).put("tdp_w", g.tdpWatts())
                        .put("compute_capability", g.computeCapability()).put("source", g.source());
            }
            out.append(InspectCommand.JSON.writeValueAsString(arr)).append('\n');
        } else {
            out.append(String.format(Locale.ROOT, "%-16s %8s %12s %10s %10s %6s %5s%n", "gpu", "memory", "CUDA total",
                    "HBM TB/s", "bf16 TFLOPS", "TDP W", "sm"));
            for (Gpu g : GpuCatalog.builtIn().gpus()) {
                out.append(String.format(Locale.ROOT, "%-16s %5.0f GB %8.2f GiB %10.3f %10.1f %6.0f %5s%n", g.name(),
                        g.memoryBytes() / 1e9, g.cudaTotalBytes() / (double) (1L << 30), g.memoryBandwidthTbs(),
                        g.bf16DenseTflops(), g.tdpWatts(), g.computeCapability()));
            }
            out.append("(GB = 10^9 bytes as vendors state it; CUDA total = what PyTorch reports, GiB = 2^30 bytes)\n");
        }
        spec.commandLine().getOut().print(out);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
