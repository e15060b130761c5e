package org.gpuplan.hardware;

import java.util.List;
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
 * @param memoryBandwidthTbs  memory bandwidth, TB/s
 * @param bf16DenseTflops     dense BF16 tensor TFLOPS
 * @param tdpWatts            board power
 * @param source              where the figures come from
 */
public record Gpu(String name, List<String> aliases, String vendor, String architecture, String computeCapability,
                  long memoryBytes, long nvidiaSmiTotalBytes, long cudaTotalBytes, double memoryBandwidthTbs, double bf16DenseTflops,
                  double tdpWatts, String source) {

    public Gpu {
        if (name == null || name.isBlank()) {
            throw new InvalidInputException("gpu: name is missing");
        }
        aliases = List.copyOf(aliases);
        if (memoryBytes <= 0 || nvidiaSmiTotalBytes <= 0 || cudaTotalBytes <= 0) {
            throw new InvalidInputException("gpu " + name + ": memory must be positive");
        }
    }

    /** Hopper (compute capability 9.0) gets PyTorch's larger cuBLAS workspace. */
    public boolean isHopper() {
        return "9.0".equals(computeCapability);
    }

    public int computeMajor() {
        try {
            return Integer.parseInt(computeCapability.split("\\.")[0]);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
