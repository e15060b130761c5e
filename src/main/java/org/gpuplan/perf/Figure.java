package org.gpuplan.perf;

import java.util.function.Supplier;

/**
 * One named figure of the runtime estimate, with the formula that produced it (the time-side twin of
 * {@link org.gpuplan.model.Term}). The formula text is built only when a report asks for it: the planner scores
 * thousands of candidates and prints a few, and formatting every explanation cost more than computing the numbers.
 *
 * @param key         stable machine name
 * @param unit        s, tokens/s, FLOP, fraction, GPU-hours …
 * @param explanation builds the formula with its inputs substituted
 */
public record Figure(String key, String label, double value, String unit, Supplier<String> explanation) {

    public Figure {
        java.util.Objects.requireNonNull(explanation, "figure explanation");
    }

    /** A figure whose formula is a fixed text. */
    public Figure(String key, String label, double value, String unit, String formula) {
        this(key, label, value, unit, () -> formula);
    }

    /** The formula with its inputs substituted. */
    public String formula() {
        return explanation.get();
    }
}
