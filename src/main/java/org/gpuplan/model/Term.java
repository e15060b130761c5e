package org.gpuplan.model;

/**
 * One named figure of an estimate with the formula that produced it, so every number can be explained.
 *
 * @param key     stable machine name (JSON key)
 * @param label   human name
 * @param value   the figure (a count or bytes, as the owner says)
 * @param formula the formula with its inputs substituted, and its source where it has one
 */
public record Term(String key, String label, long value, String formula) {
    public Term {
        Checks.notNull(key, "term key");
        Checks.notNull(label, "term label");
        Checks.notNull(formula, "term formula");
    }
}
