package org.gpuplan.model;

import java.util.function.Supplier;

/**
 * One named figure of an estimate with the formula that produced it, so every number can be explained. The formula
 * text is built when a report asks for it (the planner scores thousands of estimates and prints a few).
 *
 * @param key         stable machine name (JSON key)
 * @param label       human name
 * @param value       the figure (a count or bytes, as the owner says)
 * @param explanation builds the formula with its inputs substituted, and its source where it has one
 */
public record Term(String key, String label, long value, Supplier<String> explanation) {
    public Term {
        Checks.notNull(key, "term key");
        Checks.notNull(label, "term label");
        Checks.notNull(explanation, "term formula");
    }

    /** A term whose formula is a fixed text. */
    public Term(String key, String label, long value, String formula) {
        this(key, label, value, fixed(Checks.notNull(formula, "term formula")));
    }

    private static Supplier<String> fixed(String formula) {
        return () -> formula;
    }

    /** The formula with its inputs substituted. */
    public String formula() {
        return explanation.get();
    }
}
