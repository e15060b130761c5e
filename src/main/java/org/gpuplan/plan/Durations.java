package org.gpuplan.plan;

import java.util.Locale;
import org.gpuplan.model.InvalidInputException;

/** Parses "48h", "2d", "90m", "500ms", "3600" (seconds) into seconds. */
public final class Durations {

    private Durations() {
    }

    public static double seconds(String field, String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        double unit = 1;
        String num = t;
        if (t.endsWith("ms")) {
            unit = 1e-3;
            num = t.substring(0, t.length() - 2);
        } else if (t.endsWith("s")) {
            num = t.substring(0, t.length() - 1);
        } else if (t.endsWith("min")) {
            unit = 60;
            num = t.substring(0, t.length() - 3);
        } else if (t.endsWith("m")) {
            unit = 60;
            num = t.substring(0, t.length() - 1);
        } else if (t.endsWith("h")) {
            unit = 3600;
            num = t.substring(0, t.length() - 1);
        } else if (t.endsWith("d")) {
            unit = 86400;
            num = t.substring(0, t.length() - 1);
        } else if (t.endsWith("w")) {
            unit = 7 * 86400;
            num = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(num.trim()) * unit;
            if (!(v > 0) || !Double.isFinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new InvalidInputException(field + ": expected a duration such as 48h, 2d, 90m, 500ms or seconds, "
                    + "got '" + s + "'");
        }
    }

    public static double positive(String field, String s) {
        try {
            double v = Double.parseDouble(s.trim().replace("$", "").replace("_", ""));
            if (!(v > 0) || !Double.isFinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new InvalidInputException(field + ": expected a positive number, got '" + s + "'");
        }
    }
}
