package org.gpuplan.hardware;

import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.Set;
import org.gpuplan.model.InvalidInputException;

/**
 * One public offer of GPU hardware: a provider's instance (one or more GPUs) in a region, with its hourly price.
 *
 * <p>Prices are per <em>instance</em> per hour in US dollars, as the source states them (hyperscaler instances bundle
 * vCPUs, memory and local disks); {@link #usdPerGpuHour(boolean)} divides by the GPU count. The field names match the
 * columns of {@code gpuplan/hardware/prices.csv}.
 *
 * @param provider        who sells it, e.g. {@code AWS}
 * @param region          the provider's region name, {@code unknown} when the source does not say, {@code global}
 *                        for a marketplace without a location
 * @param country         ISO 3166-1 alpha-2 code of the region's location, blank when unknown
 * @param instance        the provider's name for the offer, e.g. {@code p5.48xlarge}
 * @param gpu             a GPU catalog name or alias, e.g. {@code H100-SXM-80GB}
 * @param gpusPerInstance GPUs in one instance
 * @param onDemandUsdHour on-demand price of the whole instance, USD per hour
 * @param spotUsdHour     spot / preemptible price of the whole instance, absent when the source gives none
 * @param egressNote      what the source says about data-transfer charges, blank if nothing
 * @param date            the date the source states for the price (yyyy-mm-dd)
 * @param source          where the number comes from (repository@commit path, or URL)
 */
public record Price(String provider, String region, String country, String instance, String gpu, int gpusPerInstance,
                    double onDemandUsdHour, OptionalDouble spotUsdHour, String egressNote, String date,
                    String source) {

    /** Upper bound for a sane instance price; larger values are typing errors (or a price per month). */
    public static final double MAX_USD_HOUR = 10_000;
    public static final int MAX_GPUS_PER_INSTANCE = 1024;

    /** The 27 member states of the European Union (ISO 3166-1 alpha-2; Greece is GR). */
    static final Set<String> EU_27 = Set.of("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR",
            "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE");

    /** Countries that {@code asia} selects: East, South, South-East and Central Asia and the Middle East. */
    static final Set<String> ASIA = Set.of("AE", "AF", "AM", "AZ", "BD", "BH", "BN", "BT", "CN", "GE", "HK", "ID",
            "IL", "IN", "IQ", "IR", "JO", "JP", "KG", "KH", "KR", "KW", "KZ", "LA", "LB", "LK", "MM", "MN", "MO", "MV",
            "MY", "NP", "OM", "PH", "PK", "PS", "QA", "SA", "SG", "SY", "TH", "TJ", "TL", "TM", "TW", "UZ", "VN", "YE");

    public Price {
        provider = required(provider, "provider", null);
        instance = required(instance, "instance", provider);
        String what = provider + " " + instance;
        gpu = required(gpu, "gpu", what);
        region = region == null || region.isBlank() ? "unknown" : region.trim();
        country = country == null ? "" : country.trim().toUpperCase(Locale.ROOT);
        if (!country.isEmpty() && !country.matches("[A-Z]{2}")) {
            throw new InvalidInputException("price " + what + ": country must be an ISO 3166-1 alpha-2 code such as "
                    + "DE or US (or blank), got '" + clip(country) + "'");
        }
        if (gpusPerInstance < 1 || gpusPerInstance > MAX_GPUS_PER_INSTANCE) {
            throw new InvalidInputException("price " + what + ": gpus_per_instance must be in [1, "
                    + MAX_GPUS_PER_INSTANCE + "], got " + gpusPerInstance);
        }
        checkPrice(onDemandUsdHour, "on_demand_usd_hour", what);
        spotUsdHour = spotUsdHour == null ? OptionalDouble.empty() : spotUsdHour;
        if (spotUsdHour.isPresent()) {
            checkPrice(spotUsdHour.getAsDouble(), "spot_usd_hour", what);
        }
        egressNote = egressNote == null ? "" : egressNote.trim();
        date = date == null ? "" : date.trim();
        if (!date.isEmpty()) {
            if (!isIsoDate(date)) {
                throw new InvalidInputException("price " + what + ": date must be yyyy-mm-dd, got '" + clip(date)
                        + "'");
            }
        }
        source = source == null ? "" : source.trim();
    }

    /** The instance's hourly price: with {@code spot} the spot price where there is one, else on-demand. */
    public double usdPerInstanceHour(boolean spot) {
        return spot && spotUsdHour.isPresent() ? spotUsdHour.getAsDouble() : onDemandUsdHour;
    }

    /** Instance price divided by its GPUs. */
    public double usdPerGpuHour(boolean spot) {
        return usdPerInstanceHour(spot) / gpusPerInstance;
    }

    /** True when the offer's country is one of the 27 EU member states (EEA-only countries and CH are not). */
    public boolean inEu() {
        return EU_27.contains(country);
    }

    /**
     * Whether the offer lies in {@code r}: {@code eu} (EU-27), {@code us}, {@code asia}, a country code ({@code DE})
     * or a provider region name ({@code eu-central-1}); case-insensitive.
     */
    public boolean inRegion(String r) {
        if (r == null || r.isBlank()) {
            throw new InvalidInputException("region: empty (accepted: eu, us, asia, a country code such as DE, or a "
                    + "provider region such as eu-central-1)");
        }
        String want = r.trim();
        return switch (want.toLowerCase(Locale.ROOT)) {
            case "eu" -> inEu();
            case "us" -> country.equals("US");
            case "asia" -> ASIA.contains(country);
            default -> country.equalsIgnoreCase(want) || region.equalsIgnoreCase(want);
        };
    }

    private static String required(String value, String field, String what) {
        if (value == null || value.isBlank()) {
            throw new InvalidInputException("price" + (what == null ? "" : " " + what) + ": " + field
                    + " is missing");
        }
        return value.trim();
    }

    private static void checkPrice(double v, String field, String what) {
        if (!Double.isFinite(v) || v <= 0 || v > MAX_USD_HOUR) {
            throw new InvalidInputException("price " + what + ": " + field + " must be a positive number of USD per "
                    + "instance-hour, at most " + (long) MAX_USD_HOUR + ", got " + v);
        }
    }

    private static String clip(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    /** A calendar date written yyyy-mm-dd. */
    static boolean isIsoDate(String date) {
        if (!date.matches("\\d{4}-\\d{2}-\\d{2}")) {
            return false;
        }
        try {
            LocalDate.parse(date);
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }
}
