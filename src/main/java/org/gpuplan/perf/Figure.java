package org.gpuplan.perf;

/**
 * One named figure of the runtime estimate, with the formula that produced it (the time-side twin of
 * {@link org.gpuplan.model.Term}).
 *
 * @param key     stable machine name
 * @param unit    s, tokens/s, FLOP, fraction, GPU-hours …
 */
public record Figure(String key, String label, double value, String unit, String formula) {
}
