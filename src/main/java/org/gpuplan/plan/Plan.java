package org.gpuplan.plan;

import java.util.Map;
import java.util.Optional;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.hardware.Price;

/**
 * One candidate: the full workload (reproducible with {@code gpuplan estimate --workload}), its estimate, where to
 * rent it and what it costs.
 *
 * @param workload   every workload key of the candidate
 * @param price      the offer it is priced at (absent when no price is known for the GPU)
 * @param instances  instances of that offer (or serving replicas × instances)
 * @param hourlyUsd  $/hour for all of them
 * @param timeS      training: time to process the tokens; serving: NaN
 * @param costUsd    training: hourly × time; serving: one hour
 * @param usdPerMillionTokens serving: $ per million output tokens at the planned load; training: $ per million
 *                   trained tokens
 * @param replicas   serving replicas (1 for training)
 */
public record Plan(Map<String, String> workload, Estimate estimate, Optional<Price> price, int instances,
                   double hourlyUsd, double timeS, double costUsd, double usdPerMillionTokens, int replicas) {

    public Plan {
        workload = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(workload)); // keep key order
    }

    public int gpus() {
        return estimate.workload().parallelism().gpus() * replicas;
    }
}
