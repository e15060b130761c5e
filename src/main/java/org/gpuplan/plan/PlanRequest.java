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

    /** The constraint keys {@link #of} accepts (the plan command's options in snake_case). */
    public static final List<String> CONSTRAINT_KEYS = List.of("objective", "deadline", "budget", "max_gpus",
            "only_gpus", "providers", "region", "spot", "allow", "rps", "ttft", "tpot");

    /**
     * A request from constraints given as text, as the command line and the HTTP API take them: {@code deadline}
     * 48h, {@code budget} 5000, {@code max_gpus} 64, {@code only_gpus} and {@code providers} comma-separated,
     * {@code region} eu, {@code spot} true, {@code objective} cost|time|gpus, {@code allow} quant,optimizer,lora,
     * {@code rps} 20, {@code ttft} 500ms, {@code tpot} 40ms. Absent keys take the defaults.
     */
    public static PlanRequest of(String modelName, ModelSpec spec, Map<String, String> fixed,
                                 Map<String, String> constraints) {
        Map<String, String> c = new java.util.HashMap<>();
        constraints.forEach((k, v) -> {
            String key = k.trim().toLowerCase(java.util.Locale.ROOT).replace('-', '_');
            if (!CONSTRAINT_KEYS.contains(key)) {
                throw new InvalidInputException("plan: unknown constraint '" + k + "' (accepted: "
                        + String.join(", ", CONSTRAINT_KEYS) + ")");
            }
            if (v != null && !v.isBlank()) {
                c.put(key, v.trim());
            }
        });
        int maxGpus = 1024;
        if (c.containsKey("max_gpus")) {
            double m;
            try {
                m = Double.parseDouble(c.get("max_gpus"));
            } catch (NumberFormatException e) {
                m = Double.NaN;
            }
            if (!(m >= 1 && m <= 100_000) || m != Math.rint(m)) {
                throw new InvalidInputException("max_gpus: expected 1 to 100000, got '" + c.get("max_gpus") + "'");
            }
            maxGpus = (int) m;
        }
        String spot = c.getOrDefault("spot", "false").toLowerCase(java.util.Locale.ROOT);
        if (!spot.equals("true") && !spot.equals("false")) {
            throw new InvalidInputException("spot: expected true or false, got '" + c.get("spot") + "'");
        }
        return new PlanRequest(modelName, spec, fixed, Objective.parse(c.getOrDefault("objective", "cost")),
                seconds(c, "deadline"), positive(c, "budget"), maxGpus, list(c, "only_gpus"), list(c, "providers"),
                Optional.ofNullable(c.get("region")), spot.equals("true"), Allow.parse(c.getOrDefault("allow", "")),
                positive(c, "rps"), seconds(c, "ttft"), seconds(c, "tpot"));
    }

    private static OptionalDouble seconds(Map<String, String> c, String key) {
        return c.containsKey(key) ? OptionalDouble.of(Durations.seconds(key, c.get(key))) : OptionalDouble.empty();
    }

    private static OptionalDouble positive(Map<String, String> c, String key) {
        return c.containsKey(key) ? OptionalDouble.of(Durations.positive(key, c.get(key))) : OptionalDouble.empty();
    }

    private static List<String> list(Map<String, String> c, String key) {
        return c.containsKey(key) ? java.util.Arrays.stream(c.get(key).split(",")).map(String::trim)
                .filter(s -> !s.isEmpty()).toList() : List.of();
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
