package org.gpuplan.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.hardware.TensorDtype;

/** The GPU catalog as JSON ({@code gpus --json} and the HTTP API): every figure with its source. */
public final class GpusReport {

    private GpusReport() {
    }

    public static ArrayNode json(GpuCatalog catalog) {
        ArrayNode arr = JsonNodeFactory.instance.arrayNode();
        for (Gpu g : catalog.gpus()) {
            ObjectNode o = arr.addObject().put("name", g.name()).put("vendor", g.vendor())
                    .put("architecture", g.architecture()).put("memory_gb", g.memoryBytes() / 1e9)
                    .put("cuda_total_bytes", g.cudaTotalBytes())
                    .put("nvidia_smi_total_bytes", g.nvidiaSmiTotalBytes())
                    .put("memory_bandwidth_tbs", g.memoryBandwidthTbs())
                    .put("bf16_dense_tflops", g.bf16DenseTflops());
            ObjectNode dense = o.putObject("dense_tflops");
            for (TensorDtype d : TensorDtype.values()) {
                if (g.supports(d)) {
                    dense.put(d.name().toLowerCase(Locale.ROOT), g.denseTflops().get(d));
                }
            }
            if (g.tdpWatts() > 0) {
                o.put("tdp_w", g.tdpWatts());
            } else {
                o.putNull("tdp_w");
            }
            if (g.computeCapability().isEmpty()) {
                o.putNull("compute_capability");
            } else {
                o.put("compute_capability", g.computeCapability());
            }
            Gpu.Interconnect ic = g.interconnect();
            o.put("link", ic.link()).put("link_gbs", ic.linkGBs()).put("scale_up_gpus", ic.scaleUpGpus())
                    .put("network_gbs", ic.networkGBs()).put("matmul_efficiency", g.matmulEfficiency())
                    .put("memory_efficiency", g.memoryEfficiency()).put("power_clock_factor", g.clockFactor())
                    .put("source", g.source());
        }
        return arr;
    }
}
