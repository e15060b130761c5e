package org.gpuplan.workload;

import java.util.Arrays;
import java.util.stream.Collectors;
import org.gpuplan.model.InvalidInputException;

/** Enums whose values users type: each has its spelling, and parsing errors list every accepted spelling. */
public interface Choice {

    String key();

    /** Other spellings users type for this value (e.g. a library's name for it); none by default. */
    default java.util.List<String> aliases() {
        return java.util.List.of();
    }

    static <E extends Enum<E> & Choice> E parse(Class<E> type, String field, String text) {
        String t = text.trim();
        for (E e : type.getEnumConstants()) {
            if (sameSpelling(e.key(), t)) {
                return e;
            }
            for (String alias : e.aliases()) {
                if (sameSpelling(alias, t)) {
                    return e;
                }
            }
        }
        throw new InvalidInputException(field + ": '" + text + "' is not accepted (accepted: "
                + Arrays.stream(type.getEnumConstants()).map(Choice::key).collect(Collectors.joining(", ")) + ")");
    }

    /**
     * Equal ignoring case, with '_' and '-' interchangeable (compared in place: every planner candidate parses its
     * workload keys).
     */
    private static boolean sameSpelling(String key, String text) {
        if (key.length() != text.length()) {
            return false;
        }
        for (int i = 0; i < key.length(); i++) {
            char a = key.charAt(i);
            char b = text.charAt(i);
            if (a != b && fold(a) != fold(b)) {
                return false;
            }
        }
        return true;
    }

    private static char fold(char c) {
        return c == '_' ? '-' : Character.toLowerCase(c);
    }
}
