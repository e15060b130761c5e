package org.gpuplan.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.gpuplan.model.InvalidInputException;

/**
 * Typed, validated access to the fields of a config.json object. Every accessor accepts alternative spellings of a key
 * (first present, non-null one wins) and reports errors with the file and the key's first spelling.
 */
final class ConfigFields {
    /** Largest value accepted for a single dimension or count; hostile configs cannot force huge products. */
    static final long MAX_VALUE = 1L << 40;

    private final JsonNode node;
    private final String where;

    ConfigFields(JsonNode node, String where) {
        if (node == null || !node.isObject()) {
            throw new InvalidInputException(where + ": expected a JSON object");
        }
        this.node = node;
        this.where = where;
    }

    String where() {
        return where;
    }

    JsonNode node() {
        return node;
    }

    boolean has(String name) {
        JsonNode v = node.get(name);
        return v != null && !v.isNull();
    }

    /** True when the key is present, even with a null value (e.g. {@code "sliding_window": null}). */
    boolean present(String name) {
        return node.has(name);
    }

    Optional<ConfigFields> object(String name) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            return Optional.empty();
        }
        if (!v.isObject()) {
            throw new InvalidInputException(where + ": '" + name + "' must be an object");
        }
        return Optional.of(new ConfigFields(v, where + " " + name));
    }

    OptionalLong optLong(String... names) {
        for (String name : names) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                continue;
            }
            if (!v.isNumber() || (!v.isIntegralNumber() && v.asDouble() != Math.rint(v.asDouble()))) {
                throw new InvalidInputException(where + ": '" + name + "' must be an integer, got " + brief(v));
            }
            double d = v.asDouble();
            if (Math.abs(d) > MAX_VALUE) {
                throw new InvalidInputException(where + ": '" + name + "' = " + brief(v) + " is out of range (at most "
                        + MAX_VALUE + ")");
            }
            return OptionalLong.of(v.isIntegralNumber() ? v.asLong() : (long) d);
        }
        return OptionalLong.empty();
    }

    OptionalInt optInt(String... names) {
        OptionalLong v = optLong(names);
        if (v.isEmpty()) {
            return OptionalInt.empty();
        }
        if (v.getAsLong() > Integer.MAX_VALUE || v.getAsLong() < Integer.MIN_VALUE) {
            throw new InvalidInputException(where + ": '" + names[0] + "' = " + v.getAsLong() + " is out of range");
        }
        return OptionalInt.of((int) v.getAsLong());
    }

    /** A required positive integer. */
    int positive(String... names) {
        OptionalInt v = optInt(names);
        if (v.isEmpty()) {
            throw new InvalidInputException(where + ": missing '" + names[0] + "'" + alternatives(names));
        }
        return checkPositive(v.getAsInt(), names[0]);
    }

    /** An optional positive integer with a default. */
    int positiveOr(int fallback, String... names) {
        OptionalInt v = optInt(names);
        return v.isEmpty() ? fallback : checkPositive(v.getAsInt(), names[0]);
    }

    /** An optional non-negative integer with a default. */
    int nonNegativeOr(int fallback, String... names) {
        OptionalInt v = optInt(names);
        if (v.isEmpty()) {
            return fallback;
        }
        if (v.getAsInt() < 0) {
            throw new InvalidInputException(where + ": '" + names[0] + "' must not be negative, got " + v.getAsInt());
        }
        return v.getAsInt();
    }

    /** The largest of several probabilities (0 to 1), each defaulting to {@code fallback} when absent. */
    double maxProbability(double fallback, String... names) {
        double max = 0;
        for (String name : names) {
            JsonNode v = node.get(name);
            double d = fallback;
            if (v != null && !v.isNull()) {
                if (!v.isNumber() || !(v.asDouble() >= 0 && v.asDouble() <= 1)) {
                    throw new InvalidInputException(where + ": '" + name + "' must be a probability from 0 to 1, got "
                            + brief(v));
                }
                d = v.asDouble();
            }
            max = Math.max(max, d);
        }
        return max;
    }

    /**
     * Whether an optional cap such as {@code final_logit_softcapping} is on: a positive number turns it on, null or 0
     * turns it off, and an absent key means {@code fallback} (the config class's default).
     */
    boolean capOn(boolean fallback, String name) {
        JsonNode v = node.get(name);
        if (v == null) {
            return fallback;
        }
        if (v.isNull()) {
            return false;
        }
        if (!v.isNumber() || !(v.asDouble() >= 0) || Double.isInfinite(v.asDouble())) {
            throw new InvalidInputException(where + ": '" + name + "' must be a positive number or null, got "
                    + brief(v));
        }
        return v.asDouble() > 0;
    }

    boolean bool(boolean fallback, String... names) {
        for (String name : names) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                continue;
            }
            if (!v.isBoolean()) {
                throw new InvalidInputException(where + ": '" + name + "' must be true or false, got " + brief(v));
            }
            return v.booleanValue();
        }
        return fallback;
    }

    Optional<String> text(String... names) {
        for (String name : names) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) {
                continue;
            }
            if (!v.isTextual()) {
                throw new InvalidInputException(where + ": '" + name + "' must be a string, got " + brief(v));
            }
            return Optional.of(v.textValue());
        }
        return Optional.empty();
    }

    List<String> strings(String name) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw new InvalidInputException(where + ": '" + name + "' must be a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode item : v) {
            if (!item.isTextual()) {
                throw new InvalidInputException(where + ": '" + name + "' must be a list of strings, got " + brief(item));
            }
            out.add(item.textValue());
        }
        return out;
    }

    List<Integer> ints(String name) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw new InvalidInputException(where + ": '" + name + "' must be a list of integers");
        }
        List<Integer> out = new ArrayList<>();
        for (JsonNode item : v) {
            if (!item.isIntegralNumber() || !item.canConvertToInt()) {
                throw new InvalidInputException(where + ": '" + name + "' must be a list of integers, got "
                        + brief(item));
            }
            out.add(item.intValue());
        }
        return out;
    }

    /** Number of entries of an object or array field, 0 when absent. */
    int size(String name) {
        JsonNode v = node.get(name);
        return v == null || v.isNull() ? 0 : v.size();
    }

    private int checkPositive(int value, String name) {
        if (value <= 0) {
            throw new InvalidInputException(where + ": '" + name + "' must be a positive integer, got " + value);
        }
        return value;
    }

    private static String alternatives(String... names) {
        if (names.length <= 1) {
            return "";
        }
        return " (also accepted: " + String.join(", ", List.of(names).subList(1, names.length)) + ")";
    }

    static String brief(JsonNode v) {
        String s = v.toString();
        return s.length() > 40 ? s.substring(0, 40) + "…" : s;
    }
}
