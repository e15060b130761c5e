package org.gpuplan.hardware;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.gpuplan.model.InvalidInputException;

/**
 * One accelerator model from the GPU catalog.
 *
 * @param name                catalog name, e.g. {@code H100-SXM-80GB}
 * @param aliases             other accepted spellings
 * @param computeCapability   CUDA compute capability (decides e.g. the cuBLAS workspace size), "9.0"
 * @param memoryBytes         advertised memory (GB = 10^9 bytes, as vendors state it)
 * @param nvidiaSmiTotalBytes the total {@code nvidia-smi} shows, in bytes
 * @param cudaTotalBytes      the total CUDA reports to a process ({@code torch.cuda.get_device_properties().total_memory},
 *                            the "total capacity" of PyTorch's out-of-memory message); what fits is measured
 *                            against this
 * @param memoryBandwidthTbs  memory bandwidth, TB/s (10^12 bytes/s)
 * @param denseTflops         dense (no sparsity) peak per dtype, TFLOPS (10^12/s); a dtype the GPU lacks is absent
 * @param tdpWatts            board power
 * @param interconnect        how this GPU talks to its peers
 * @param matmulEfficiency    the fraction of the BF16 peak the best large matmul reaches (measured "maximum
 *                            achievable matmul FLOPS" where the catalog has it, else the documented default)
 * @param memoryEfficiency    the fraction of memory bandwidth a streaming kernel reaches
 * @param clockFactor         sustained tensor-core clock relative to the part whose matmul ceiling is given (below 1
 *                            for a power-capped variant); scales matmul and attention kernels, not memory bandwidth
 * @param source              where the figures come from
 */
public record Gpu(String name, List<String> aliases, String vendor, String architecture, String computeCapability,
                  long memoryBytes, long nvidiaSmiTotalBytes, long cudaTotalBytes, double memoryBandwidthTbs,
                  Map<TensorDtype, Double> denseTflops, double tdpWatts, Interconnect interconnect,
                  double matmulEfficiency, double memoryEfficiency, double clockFactor, String source) {

    /**
     * Bandwidth to host memory, one direction, in GB/s: the PCIe link of a PCIe card as the catalog gives it; for
     * socketed parts NVLink-C2C on Grace superchips (450 GB/s) and otherwise the PCIe generation their baseboards use
     * (x16 Gen5 64 GB/s on Hopper and Blackwell, Gen4 32 GB/s on Ampere and Ada, Gen3 16 GB/s before) — assumed.
     */
    public double hostLinkGBs() {
        String link = interconnect.link().toUpperCase(java.util.Locale.ROOT);
        if (link.startsWith("PCIE")) {
            return interconnect.linkGBs();
        }
        String n = name.toUpperCase(java.util.Locale.ROOT);
        if (n.startsWith("GH200") || n.startsWith("GB200") || n.startsWith("GB300")) {
            return 450;
        }
        return switch (architecture.toLowerCase(java.util.Locale.ROOT)) {
            case "hopper", "blackwell" -> 64;
            case "ampere", "ada" -> 32;
            default -> 16;
        };
    }

    /** Used when the catalog has no measured matmul ceiling for a GPU (median of the measured NVIDIA parts). */
    public static final double DEFAULT_MATMUL_EFFICIENCY = 0.78;
    /** aiconfigurator's {@code mem_bw_empirical_scaling_factor} for every NVIDIA system. */
    public static final double DEFAULT_MEMORY_EFFICIENCY = 0.80;

    public Gpu {
        if (name == null || name.isBlank()) {
            throw new InvalidInputException("gpu: name is missing");
        }
        aliases = List.copyOf(aliases);
        if (memoryBytes <= 0 || nvidiaSmiTotalBytes <= 0 || cudaTotalBytes <= 0) {
            throw new InvalidInputException("gpu " + name + ": memory must be positive");
        }
        if (!(memoryBandwidthTbs > 0) || memoryBandwidthTbs > 1000) {
            throw new InvalidInputException("gpu " + name + ": memory_bandwidth_tbs must be in (0, 1000]");
        }
        EnumMap<TensorDtype, Double> peaks = new EnumMap<>(TensorDtype.class);
        denseTflops.forEach((k, v) -> {
            if (!(v > 0) || v > 1e6) {
                throw new InvalidInputException("gpu " + name + ": " + k.column() + " must be positive");
            }
            peaks.put(k, v);
        });
        if (!peaks.containsKey(TensorDtype.BF16) && !peaks.containsKey(TensorDtype.FP16)) {
            throw new InvalidInputException("gpu " + name + ": bf16_dense_tflops or fp16_dense_tflops is required");
        }
        denseTflops = Map.copyOf(peaks);
        if (!(clockFactor > 0 && clockFactor <= 1)) {
            throw new InvalidInputException("gpu " + name + ": power_clock_factor must be in (0, 1], got "
                    + clockFactor);
        }
        if (!(matmulEfficiency > 0 && matmulEfficiency <= 1) || !(memoryEfficiency > 0 && memoryEfficiency <= 1)) {
            throw new InvalidInputException("gpu " + name + ": efficiencies must be in (0, 1]");
        }
    }

    /** Hopper (compute capability 9.0) gets PyTorch's larger cuBLAS workspace. */
    public boolean isHopper() {
        return "9.0".equals(computeCapability);
    }

    public int computeMajor() {
        // the digits before the dot (asked for every estimate: no regex split)
        int major = 0;
        for (int i = 0; i < computeCapability.length(); i++) {
            char ch = computeCapability.charAt(i);
            if (ch == '.') {
                break;
            }
            if (ch < '0' || ch > '9' || major > 1000) {
                return 0;
            }
            major = major * 10 + (ch - '0');
        }
        return major;
    }

    public double bf16DenseTflops() {
        return denseTflops.getOrDefault(TensorDtype.BF16, denseTflops.getOrDefault(TensorDtype.FP16, 0.0));
    }

    /**
     * The dense peak a matmul in {@code dtype} gets, falling back to the nearest slower path the hardware has
     * (FP8/INT8/FP4 on a GPU without it run as 16-bit after dequantisation; TF32 without tensor cores runs as FP32).
     */
    public double peakTflops(TensorDtype dtype) {
        Double v = denseTflops.get(dtype);
        if (v != null) {
            return v;
        }
        return switch (dtype) {
            case FP4 -> peakTflops(TensorDtype.FP8);
            case FP8, INT8 -> bf16DenseTflops();
            case TF32 -> peakTflops(TensorDtype.FP32);
            case FP32 -> bf16DenseTflops() / 4; // no FP32 figure: assume the usual 1:4 ratio to 16-bit tensor
            case BF16 -> denseTflops.getOrDefault(TensorDtype.FP16, 0.0);
            case FP16 -> denseTflops.getOrDefault(TensorDtype.BF16, 0.0);
        };
    }

    public boolean supports(TensorDtype dtype) {
        return denseTflops.containsKey(dtype);
    }

    /**
     * How a GPU reaches its peers.
     *
     * @param link           the scale-up link, e.g. {@code NVLink4}, {@code PCIe4}, {@code XGMI}
     * @param linkGBs        scale-up bandwidth per GPU, one direction, GB/s (10^9 bytes/s)
     * @param scaleUpGpus    GPUs that share that link domain (a node of 8, or a 72-GPU NVL72 rack)
     * @param networkGBs     scale-out bandwidth per GPU between domains, one direction, GB/s
     */
    public record Interconnect(String link, double linkGBs, int scaleUpGpus, double networkGBs) {
        /** A server holds at most this many GPUs; a larger scale-up domain (NVL72) is rack-scale and spans nodes. */
        static final int SERVER_GPUS = 8;

        public Interconnect {
            if (!(linkGBs > 0) || !(networkGBs > 0) || scaleUpGpus < 1) {
                throw new InvalidInputException("gpu interconnect: link_gbs, network_gbs and scale_up_gpus must be positive");
            }
        }

        /**
         * GPUs that share the fast link when each node holds {@code gpusPerNode}: the scale-up domain ends at the node
         * (eight 1-GPU instances talk over the network), except a rack-scale NVLink domain, which spans its trays.
         */
        public int domainGpus(int gpusPerNode) {
            return scaleUpGpus > SERVER_GPUS ? scaleUpGpus : Math.max(1, Math.min(scaleUpGpus, gpusPerNode));
        }
    }
}
