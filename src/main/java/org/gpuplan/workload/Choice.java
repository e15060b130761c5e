package org.gpuplan.workload;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import org.gpuplan.model.InvalidInputException;

/** Enums whose values users type: each has its spelling, and parsing errors list every accepted spelling. */
public interface Choice {

    String key();

    static <E extends Enum<E> & Choice> E parse(Class<E> type, String field, String text) {
        String t = normalize(text);
        for (E e : type.getEnumConstants()) {
            if (normalize(e.key()).equals(t)) {
                return e;
            }
        }
        throw new InvalidInputException(field + ": '" + text + "' is not accepted (accepted: "
                + Arrays.stream(type.getEnumConstants()).map(Choice::key).collect(Collectors.joining(", ")) + ")");
    }

    private static String normalize(String s) {
        return s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
