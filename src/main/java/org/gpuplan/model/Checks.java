package org.gpuplan.model;

/** Constructor guards: invalid architecture values fail fast with a message naming the field. */
final class Checks {
    private Checks() {
    }

    static <T> T notNull(T value, String field) {
        if (value == null) {
            throw new InvalidInputException(field + " is missing");
        }
        return value;
    }

    static int positive(int value, String field) {
        if (value <= 0) {
            throw new InvalidInputException(field + " must be a positive integer, got " + value);
        }
        return value;
    }

    static int range(int value, int min, int max, String field) {
        if (value < min || value > max) {
            throw new InvalidInputException(field + " must be between " + min + " and " + max + ", got " + value);
        }
        return value;
    }
}
