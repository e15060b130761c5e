package org.gpuplan.hardware;

import java.util.ArrayList;
import java.util.List;
import org.gpuplan.model.InvalidInputException;

/** The CSV dialect of the catalogs: one record per line, commas, quoted fields with doubled quotes. */
final class Csv {

    private Csv() {
    }

    /** Splits one CSV line: commas separate fields, a quoted field may contain commas and doubled quotes. */
    static List<String> split(String line, String where) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"' && quoted && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                cur.append('"');
                i++;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        if (quoted) {
            throw new InvalidInputException(where + ": unterminated quoted field (a field that starts with \" must "
                    + "end with \" on the same line)");
        }
        out.add(cur.toString());
        return out;
    }

}
