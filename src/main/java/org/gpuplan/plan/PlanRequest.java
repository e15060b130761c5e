package org.gpuplan.plan;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;

/**
 * What the user wants planned: the model, the workload keys the user fixed (everything else is the planner's to
 * choose), and the constraints.
 *
 * @param fixed      workload keys as the user gave them (flags and file); the planner never changes these
 * @param objective  what "best" means
 * @param deadlineS  training must finish within this (seconds)
 * @param budgetUsd  and cost at most this
 * @param maxGpus    at most this many GPUs
 * @param gpus       allowed GPU names (empty = the whole catalog)
 * @param providers  allowed providers (empty = all)
 * @param region     eu, us, asia, a country code or a provider region (empty = anywhere)
 * @param spot       price at spot rates where offered
 * @param allow      changes the planner may make to what the user runs: quant, optimizer, lora
 * @param rps        serving: requests per second to sustain
 * @param ttftS      serving: time-to-first-token target
 * @param tpotS      serving: time-per-output-token target
 */
public record PlanRequest(String modelName, ModelSpec spec, Map<String, String> fixed, Objective objective,
                          OptionalDouble deadlineS, OptionalDouble budgetUsd, int maxGpus, List<String> gpus,
                          List<String> providers, Optional<String> region, boolean spot, Set<Allow> allow,
                          OptionalDouble rps, OptionalDouble ttftS, OptionalDouble tpotS) {

    public PlanRequest {
        fixed = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(fixed)); // keep key order
        gpus = List.copyOf(gpus);
        providers = List.copyOf(providers);
        allow = Set.copyOf(allow);
        if (maxGpus < 1 || maxGpus > 100_000) {
            throw new InvalidInputException("max_gpus: expected 1 to 100000, got " + maxGpus);
        }
    }

    /** What to minimize. */
    public enum Objective {
        COST, TIME, GPUS;

        public static Objective parse(String s) {
            return switch (s.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "cost" -> COST;
                case "time" -> TIME;
                case "gpus" -> GPUS;
                default -> throw new InvalidInputException("objective: unknown '" + s + "' (accepted: cost, time, gpus)");
            };
        }
    }

    /** Changes to the job itself that the user may allow. */
    public enum Allow {
        QUANT, OPTIMIZER, LORA;

        public static Set<Allow> parse(String s) {
            java.util.EnumSet<Allow> out = java.util.EnumSet.noneOf(Allow.class);
            for (String p : s.split(",")) {
                String k = p.trim().toLowerCase(java.util.Locale.ROOT);
                if (k.isEmpty()) {
                    continue;
                }
                out.add(switch (k) {
                    case "quant" -> QUANT;
                    case "optimizer" -> OPTIMIZER;
                    case "lora" -> LORA;
                    default -> throw new InvalidInputException("allow: unknown '" + p.trim()
                            + "' (accepted: quant, optimizer, lora)");
                });
            }
            return out;
        }
    }
}
