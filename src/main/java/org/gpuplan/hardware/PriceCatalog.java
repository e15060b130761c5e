package org.gpuplan.hardware;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;
import org.gpuplan.model.InvalidInputException;

/**
 * The price catalog: {@code gpuplan/hardware/prices.csv}, one row per public offer (provider, region, instance) with
 * its on-demand and spot price per instance-hour, the date the source gives and the source.
 *
 * <p>The CSV is read by its header: {@code provider}, {@code instance}, {@code gpu}, {@code gpus_per_instance} and
 * {@code on_demand_usd_hour} are required; {@code region}, {@code country}, {@code spot_usd_hour},
 * {@code egress_note}, {@code date} and {@code source} are optional, other columns are ignored. Fields containing
 * commas are quoted ({@code "a, b"}, a quote inside is doubled). Blank lines and lines starting with {@code #} are
 * skipped.
 */
public final class PriceCatalog {

    static final String RESOURCE = "/gpuplan/hardware/prices.csv";
    static final long MAX_FILE_BYTES = 4L << 20;
    static final int MAX_ROWS = 100_000;
    static final List<String> REQUIRED =
            List.of("provider", "instance", "gpu", "gpus_per_instance", "on_demand_usd_hour");
    static final List<String> COLUMNS = List.of("provider", "region", "country", "instance", "gpu",
            "gpus_per_instance", "on_demand_usd_hour", "spot_usd_hour", "egress_note", "date", "source");

    private static volatile PriceCatalog builtIn;

    private final List<Price> prices;

    private PriceCatalog(List<Price> prices) {
        this.prices = List.copyOf(prices);
    }

    /** The catalog shipped with gpuplan. */
    public static PriceCatalog builtIn() {
        PriceCatalog c = builtIn;
        if (c == null) {
            try (InputStream in = PriceCatalog.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException("prices.csv missing from the jar");
                }
                c = parse(decode(in.readAllBytes(), "prices.csv"), "prices.csv");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            builtIn = c;
        }
        return c;
    }

    /**
     * The built-in catalog with the rows of a user's CSV file added; a user row with the same provider, instance and
     * region as a built-in row (case-insensitive) replaces it in place.
     */
    public static PriceCatalog withUserFile(Path file) {
        String where = file.toString();
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file)) {
            bytes = in.readNBytes((int) MAX_FILE_BYTES + 1);
        } catch (IOException e) {
            throw new InvalidInputException("price-file: cannot read " + where + " (" + oneLine(e.getMessage()) + ")");
        }
        if (bytes.length > MAX_FILE_BYTES) {
            throw new InvalidInputException("price-file: " + where + " is larger than 4 MiB");
        }
        PriceCatalog user = parse(decode(bytes, where), where);
        Map<String, Price> byKey = new LinkedHashMap<>();
        for (Price p : user.prices) {
            byKey.put(key(p), p);
        }
        List<Price> merged = new ArrayList<>(builtIn().prices.size() + byKey.size());
        for (Price p : builtIn().prices) {
            Price replacement = byKey.remove(key(p));
            merged.add(replacement == null ? p : replacement);
        }
        merged.addAll(byKey.values());
        return new PriceCatalog(merged);
    }

    /** Parses catalog text; {@code where} names the file in error messages. */
    static PriceCatalog parse(String text, String where) {
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1);
        }
        String[] lines = text.split("\r\n|\n|\r", -1);
        int headerLine = 0;
        while (headerLine < lines.length && (lines[headerLine].isBlank() || lines[headerLine].startsWith("#"))) {
            headerLine++;
        }
        if (headerLine == lines.length) {
            throw new InvalidInputException(where + ": empty price catalog (expected a CSV header with "
                    + String.join(", ", REQUIRED) + ")");
        }
        String headerWhere = where + " line " + (headerLine + 1);
        List<String> header = new ArrayList<>();
        for (String h : Csv.split(lines[headerLine], headerWhere)) {
            String name = h.trim().toLowerCase(Locale.ROOT);
            if (name.isEmpty()) {
                throw new InvalidInputException(headerWhere + ": header column " + (header.size() + 1)
                        + " is empty (columns: " + String.join(", ", COLUMNS) + ")");
            }
            if (header.contains(name)) {
                throw new InvalidInputException(headerWhere + ": column '" + name + "' appears twice in the header");
            }
            header.add(name);
        }
        for (String r : REQUIRED) {
            if (!header.contains(r)) {
                throw new InvalidInputException(headerWhere + ": missing column '" + r + "' (required: "
                        + String.join(", ", REQUIRED) + ")");
            }
        }
        List<Price> prices = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        for (int i = headerLine + 1; i < lines.length; i++) {
            if (lines[i].isBlank() || lines[i].startsWith("#")) {
                continue;
            }
            String lineWhere = where + " line " + (i + 1);
            if (prices.size() >= MAX_ROWS) {
                throw new InvalidInputException(lineWhere + ": more than " + MAX_ROWS + " prices");
            }
            List<String> cells = Csv.split(lines[i], lineWhere);
            if (cells.size() > header.size()) {
                throw new InvalidInputException(lineWhere + ": " + cells.size() + " fields but the header has "
                        + header.size() + " columns (quote fields that contain commas)");
            }
            Price p = new Row(header, cells, lineWhere).toPrice();
            Integer first = seen.putIfAbsent(key(p), i + 1);
            if (first != null) {
                throw new InvalidInputException(lineWhere + ": columns 'provider'/'instance'/'region': the offer "
                        + p.provider() + " " + p.instance() + " in " + p.region() + " is already on line " + first);
            }
            prices.add(p);
        }
        return new PriceCatalog(prices);
    }

    /** Every offer, built-in order first, then offers only the user file has. */
    public List<Price> prices() {
        return prices;
    }

    /** The offers of this GPU: a row's {@code gpu} matches its name or an alias (case, '_' and ' ' ignored). */
    public List<Price> forGpu(Gpu gpu) {
        Set<String> names = new LinkedHashSet<>();
        names.add(normalize(gpu.name()));
        for (String a : gpu.aliases()) {
            names.add(normalize(a));
        }
        return prices.stream().filter(p -> names.contains(normalize(p.gpu()))).toList();
    }

    /** The distinct {@code gpu} values of rows that name no GPU of {@code gpus}, in catalog order. */
    public List<String> unknownGpus(GpuCatalog gpus) {
        Set<String> unknown = new LinkedHashSet<>();
        for (Price p : prices) {
            if (gpus.find(p.gpu()).isEmpty()) {
                unknown.add(p.gpu());
            }
        }
        return List.copyOf(unknown);
    }

    /** One CSV row read by column name. */
    private record Row(List<String> header, List<String> cells, String where) {

        String text(String column) {
            int i = header.indexOf(column);
            return i < 0 || i >= cells.size() ? "" : cells.get(i).trim();
        }

        String required(String column) {
            String t = text(column);
            if (t.isEmpty()) {
                throw new InvalidInputException(where + ": column '" + column + "' is empty");
            }
            return t;
        }

        int gpus() {
            String t = required("gpus_per_instance");
            try {
                double v = Double.parseDouble(t);
                if (v != Math.rint(v) || v < 1 || v > Price.MAX_GPUS_PER_INSTANCE) {
                    throw new NumberFormatException();
                }
                return (int) v;
            } catch (NumberFormatException e) {
                throw new InvalidInputException(where + ": column 'gpus_per_instance' must be a whole number in [1, "
                        + Price.MAX_GPUS_PER_INSTANCE + "], got '" + clip(t) + "'");
            }
        }

        double usd(String column, String t) {
            try {
                double v = Double.parseDouble(t);
                if (!Double.isFinite(v) || v <= 0 || v > Price.MAX_USD_HOUR) {
                    throw new NumberFormatException();
                }
                return v;
            } catch (NumberFormatException e) {
                throw new InvalidInputException(where + ": column '" + column + "' must be a positive number of USD "
                        + "per instance-hour, at most " + (long) Price.MAX_USD_HOUR + ", got '" + clip(t) + "'");
            }
        }

        Price toPrice() {
            String provider = required("provider");
            String instance = required("instance");
            String gpu = required("gpu");
            int gpus = gpus();
            double onDemand = usd("on_demand_usd_hour", required("on_demand_usd_hour"));
            String s = text("spot_usd_hour");
            OptionalDouble spot = s.isEmpty() || s.equals("-") || s.equals("\u2014") ? OptionalDouble.empty()
                    : OptionalDouble.of(usd("spot_usd_hour", s));
            String country = text("country");
            if (!country.isEmpty() && !country.matches("[A-Za-z]{2}")) {
                throw new InvalidInputException(where + ": column 'country' must be an ISO 3166-1 alpha-2 code such "
                        + "as DE or US (or blank), got '" + clip(country) + "'");
            }
            String date = text("date");
            if (!date.isEmpty()) {
                if (!Price.isIsoDate(date)) {
                    throw new InvalidInputException(where + ": column 'date' must be yyyy-mm-dd, got '" + clip(date)
                            + "'");
                }
            }
            try {
                return new Price(provider, text("region"), country, instance, gpu, gpus, onDemand, spot,
                        text("egress_note"), date, text("source"));
            } catch (InvalidInputException e) {
                throw new InvalidInputException(where + ": " + e.getMessage());
            }
        }
    }

    /** Strict UTF-8: a malformed byte is reported with its line. */
    private static String decode(byte[] bytes, String where) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length + 1);
        CoderResult result = decoder.decode(in, out, true);
        if (!result.isError()) {
            result = decoder.flush(out);
        }
        if (result.isError()) {
            int at = in.position();
            int line = 1;
            for (int i = 0; i < at; i++) {
                if (bytes[i] == '\n') {
                    line++;
                }
            }
            throw new InvalidInputException(where + " line " + line + ": not UTF-8 text (byte 0x"
                    + String.format(Locale.ROOT, "%02X", bytes[at] & 0xFF) + " at offset " + at + ")");
        }
        out.flip();
        return out.toString();
    }

    private static String key(Price p) {
        return normalizeKey(p.provider()) + "\n" + normalizeKey(p.instance()) + "\n" + normalizeKey(p.region());
    }

    private static String normalizeKey(String s) {
        return s.trim().toLowerCase(Locale.ROOT);
    }

    private static String normalize(String s) {
        return s.trim().toLowerCase(Locale.ROOT).replace("_", "-").replace(" ", "-");
    }

    private static String clip(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ");
    }
}
