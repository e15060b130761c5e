package org.gpuplan.validate;

import java.util.Map;

/**
 * One published measurement: the workload that produced it, the figure, which metric it is, and where it was
 * published.
 *
 * @param metric        memory.* key of the estimate this figure corresponds to (peak_reserved_bytes, weights_bytes,
 *                      kv_cache_capacity_tokens, …)
 * @param measured      the figure in bytes (or tokens for *_tokens metrics)
 * @param inlineConfig  an HF config.json given in the case itself (architectures no hub id names), or ""
 * @param kind          grouping for the accuracy table (train-full, train-lora, train-qlora, infer-vllm, …)
 */
public record ValidationCase(String id, String kind, String metric, double measured, Map<String, String> workload,
                             String source, String confidence, String notes, String inlineConfig) {

    public ValidationCase(String id, String kind, String metric, double measured, Map<String, String> workload,
                          String source, String confidence, String notes) {
        this(id, kind, metric, measured, workload, source, confidence, notes, "");
    }

    /** Runtime cases (metric {@code perf.*}) as opposed to memory cases. */
    public boolean perf() {
        return metric.startsWith("perf.");
    }
}
