package org.gpuplan.hardware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.stream.Stream;
import org.gpuplan.model.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class PriceCatalogTest {

    static final PriceCatalog PRICES = PriceCatalog.builtIn();
    static final GpuCatalog GPUS = GpuCatalog.builtIn();
    static final String HEADER = "provider,region,country,instance,gpu,gpus_per_instance,on_demand_usd_hour,"
            + "spot_usd_hour,egress_note,date,source\n";

    @TempDir
    Path tmp;

    static Price only(PriceCatalog catalog, String provider, String instance) {
        List<Price> found = catalog.prices().stream()
                .filter(p -> p.provider().equals(provider) && p.instance().equals(instance)).toList();
        assertThat(found).as(provider + " " + instance).hasSize(1);
        return found.get(0);
    }

    Path write(String name, String text) throws IOException {
        Path f = tmp.resolve(name);
        Files.writeString(f, text, StandardCharsets.UTF_8);
        return f;
    }

    static Price price(String region, String country, int gpus, double onDemand, Double spot) {
        return new Price("Acme", region, country, "box", "H100", gpus, onDemand,
                spot == null ? OptionalDouble.empty() : OptionalDouble.of(spot), "", "2026-11-01", "test");
    }

    @Test
    void builtInHasAtLeastFortyRowsWithUniqueOffers() {
        assertThat(PRICES.prices()).hasSizeGreaterThanOrEqualTo(40);
        Set<String> keys = new HashSet<>();
        for (Price p : PRICES.prices()) {
            String key = (p.provider() + "|" + p.instance() + "|" + p.region()).toLowerCase(Locale.ROOT);
            assertThat(keys.add(key)).as("duplicate offer %s", key).isTrue();
        }
    }

    @Test
    void everyBuiltInGpuResolvesInTheGpuCatalog() {
        assertThat(PRICES.unknownGpus(GPUS)).isEmpty();
        for (Price p : PRICES.prices()) {
            assertThat(PRICES.forGpu(GPUS.require(p.gpu()))).as(p.gpu()).contains(p);
        }
    }

    @Test
    void everyBuiltInRowHasDateSourceCountryAndSanePrices() {
        for (Price p : PRICES.prices()) {
            String what = p.provider() + " " + p.instance() + " " + p.region();
            assertThat(p.date()).as(what).matches("\\d{4}-\\d{2}-\\d{2}");
            assertThat(p.source()).as(what).isNotBlank();
            assertThat(p.region()).as(what).isNotBlank();
            assertThat(p.country()).as(what).matches("|[A-Z]{2}");
            if (p.region().equals("unknown") || p.region().equals("global")) {
                assertThat(p.country()).as(what).isEmpty();
            } else {
                assertThat(p.country()).as(what).isNotEmpty();
            }
            if (p.spotUsdHour().isPresent()) {
                assertThat(p.spotUsdHour().getAsDouble()).as(what).isLessThanOrEqualTo(p.onDemandUsdHour());
            }
            // a per-GPU hour between 5 cents and 50 dollars: anything else is a per-GPU/per-instance mix-up
            assertThat(p.usdPerGpuHour(false)).as(what).isBetween(0.05, 50.0);
        }
    }

    @Test
    void awsP5PerGpuPriceIs688() {
        Price p5 = only(PRICES, "AWS", "p5.48xlarge");
        assertThat(p5.gpusPerInstance()).isEqualTo(8);
        assertThat(p5.onDemandUsdHour()).isEqualTo(55.04);
        assertThat(p5.usdPerGpuHour(false)).isCloseTo(6.88, within(1e-9));
        assertThat(p5.usdPerGpuHour(true)).as("no spot price: falls back to on-demand").isCloseTo(6.88, within(1e-9));
        assertThat(GPUS.require(p5.gpu()).name()).isEqualTo("H100-SXM-80GB");
    }

    @Test
    void azureNd96isrIsConvertedToAnInstancePrice() {
        Price nd = only(PRICES, "Azure", "Standard_ND96isr_H100_v5");
        assertThat(nd.onDemandUsdHour()).isCloseTo(98.32, within(1e-9));
        assertThat(nd.usdPerGpuHour(false)).isCloseTo(12.29, within(1e-9));
    }

    @Test
    void euFilterFindsHopperOffers() {
        List<Price> euHopper = new java.util.ArrayList<>();
        for (String name : List.of("H100-SXM-80GB", "H200-SXM-141GB")) {
            euHopper.addAll(PRICES.forGpu(GPUS.require(name)).stream().filter(Price::inEu).toList());
        }
        assertThat(euHopper).isNotEmpty();
        assertThat(euHopper).allSatisfy(p -> assertThat(p.inRegion("eu")).isTrue());
        assertThat(PRICES.prices().stream().filter(p -> p.inRegion("europe-west1")).map(Price::country))
                .isNotEmpty().containsOnly("BE");
        assertThat(PRICES.prices().stream().filter(p -> p.inRegion("us"))).isNotEmpty();
    }

    @Test
    void forGpuMatchesNamesAndAliasesIgnoringCaseAndSeparators() {
        List<Price> a10g = PRICES.forGpu(GPUS.require("a10g"));
        assertThat(a10g).isNotEmpty().allSatisfy(p -> assertThat(p.gpu()).isEqualToIgnoringCase("A10G"));
        // catalog rows may use an alias ("H100") or a spelling with spaces/underscores
        PriceCatalog c = PriceCatalog.parse(HEADER
                + "X,r1,US,a,H100,1,2,,,2026-01-01,s\n"
                + "X,r1,US,b,h100 sxm 80gb,1,2,,,2026-01-01,s\n"
                + "X,r1,US,c,H100_PCIe,1,2,,,2026-01-01,s\n", "t.csv");
        assertThat(c.forGpu(GPUS.require("H100-SXM-80GB"))).extracting(Price::instance).containsExactly("a", "b");
        assertThat(c.forGpu(GPUS.require("H100-PCIe-80GB"))).extracting(Price::instance).containsExactly("c");
    }

    @Test
    void unknownGpusListsRowsOutsideTheGpuCatalog() {
        PriceCatalog c = PriceCatalog.parse(HEADER
                + "X,r,US,a,H100,1,2,,,,\n"
                + "X,r,US,b,Quantum-9000,1,2,,,,\n"
                + "X,r,US,c,Quantum-9000,2,2,,,,\n", "t.csv");
        assertThat(c.unknownGpus(GPUS)).containsExactly("Quantum-9000");
    }

    @Test
    void userFileAddsRowsAndReplacesTheSameOffer() throws IOException {
        Path f = write("mine.csv", HEADER
                + "aws,Unknown,,P5.48XLARGE,H100-SXM-80GB,8,40.00,12.5,,2026-11-20,\"our contract, 2026\"\n"
                + "Hetzner-like,fsn1,DE,gpu-box,L40S,1,0.99,,free inside the region,2026-11-20,quote\n");
        PriceCatalog c = PriceCatalog.withUserFile(f);
        assertThat(c.prices()).hasSize(PRICES.prices().size() + 1);
        List<Price> p5 = c.prices().stream().filter(p -> p.instance().equalsIgnoreCase("p5.48xlarge")).toList();
        assertThat(p5).singleElement().satisfies(p -> {
            assertThat(p.onDemandUsdHour()).isEqualTo(40.0);
            assertThat(p.usdPerGpuHour(true)).isCloseTo(12.5 / 8, within(1e-12));
            assertThat(p.source()).isEqualTo("our contract, 2026");
        });
        Price added = c.prices().get(c.prices().size() - 1);
        assertThat(added.provider()).isEqualTo("Hetzner-like");
        assertThat(added.inEu()).isTrue();
        assertThat(added.inRegion("DE")).isTrue();
        assertThat(added.inRegion("FSN1")).isTrue();
        assertThat(added.egressNote()).isEqualTo("free inside the region");
        // a row in another region is a different offer: added, not replaced
        Path other = write("other.csv", HEADER + "AWS,eu-central-1,DE,p5.48xlarge,H100,8,60,,,2026-11-20,x\n");
        assertThat(PriceCatalog.withUserFile(other).prices()).hasSize(PRICES.prices().size() + 1);
        assertThat(PRICES.prices()).noneMatch(p -> p.onDemandUsdHour() == 40.0 && p.instance().equals("P5.48XLARGE"));
    }

    @Test
    void userFileNeedsOnlyTheRequiredColumnsInAnyOrder() throws IOException {
        Path f = write("min.csv", "\uFEFFon_demand_usd_hour,gpu,instance,provider,gpus_per_instance,notes\r\n"
                + "# a comment\r\n"
                + "3.5,A100,my-node,Lab,4,ignored column\r\n\r\n");
        PriceCatalog c = PriceCatalog.withUserFile(f);
        Price mine = only(c, "Lab", "my-node");
        assertThat(mine.region()).isEqualTo("unknown");
        assertThat(mine.country()).isEmpty();
        assertThat(mine.spotUsdHour()).isEmpty();
        assertThat(mine.usdPerGpuHour(true)).isCloseTo(0.875, within(1e-12));
        assertThat(mine.inEu()).isFalse();
    }

    static final String R5 = "provider,instance,gpu,gpus_per_instance,on_demand_usd_hour";

    /** Header, data row, and the '|'-separated fragments the one-line message must contain. */
    static Stream<Arguments> malformed() {
        return Stream.of(
            Arguments.of("provider,instance,gpu,on_demand_usd_hour", "A,b,H100,2",
                    "line 1|missing column 'gpus_per_instance'"),
            Arguments.of("provider,instance,gpu,gpus_per_instance", "A,b,H100,2",
                    "line 1|missing column 'on_demand_usd_hour'"),
            Arguments.of(R5, "A,b,H100,8,abc", "line 2|column 'on_demand_usd_hour'|'abc'"),
            Arguments.of(R5, "A,b,H100,8,-3", "line 2|column 'on_demand_usd_hour'|'-3'"),
            Arguments.of(R5, "A,b,H100,8,0", "line 2|column 'on_demand_usd_hour'"),
            Arguments.of(R5, "A,b,H100,8,NaN", "line 2|column 'on_demand_usd_hour'"),
            Arguments.of(R5, "A,b,H100,8,20000", "line 2|column 'on_demand_usd_hour'"),
            Arguments.of(R5, "A,b,H100,0,2", "line 2|column 'gpus_per_instance'"),
            Arguments.of(R5, "A,b,H100,1.5,2", "line 2|column 'gpus_per_instance'"),
            Arguments.of(R5, "A,b,H100,2000,2", "line 2|column 'gpus_per_instance'"),
            Arguments.of(R5 + ",spot_usd_hour", "A,b,H100,8,2,-1", "line 2|column 'spot_usd_hour'"),
            Arguments.of(R5, "A,b,,8,2", "line 2|column 'gpu' is empty"),
            Arguments.of(R5, "A,b,H100,8,", "line 2|column 'on_demand_usd_hour' is empty"),
            Arguments.of(R5, ",b,H100,8,2", "line 2|column 'provider' is empty"),
            Arguments.of(R5 + ",country", "A,b,H100,8,2,Germany", "line 2|column 'country'"),
            Arguments.of(R5 + ",date", "A,b,H100,8,2,25.11.2026", "line 2|column 'date'"),
            Arguments.of(R5, "A,b,H100,8,2,extra", "line 2|6 fields"),
            Arguments.of(R5, "A,\"b,H100,8,2", "line 2|unterminated quoted field"),
            Arguments.of("provider,instance,gpu,gpu,on_demand_usd_hour", "A,b,H100,8,2",
                    "line 1|column 'gpu' appears twice"));
    }

    @ParameterizedTest
    @MethodSource("malformed")
    void malformedUserFilesNameFileLineAndColumn(String header, String row, String expected) throws IOException {
        Path f = write("bad.csv", header + "\n" + row + "\n");
        assertThatThrownBy(() -> PriceCatalog.withUserFile(f))
                .isInstanceOf(InvalidInputException.class)
                .satisfies(e -> {
                    assertThat(e.getMessage()).startsWith(f.toString()).doesNotContain("\n");
                    for (String part : expected.split("\\|")) {
                        assertThat(e.getMessage()).contains(part);
                    }
                });
    }

    @Test
    void duplicateOfferInOneFileIsAnError() throws IOException {
        Path f = write("dup.csv", HEADER
                + "A,r,,b,H100,1,2,,,,\n"
                + "a,R,,B,H100,1,3,,,,\n");
        assertThatThrownBy(() -> PriceCatalog.withUserFile(f))
                .isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("line 3").hasMessageContaining("'provider'/'instance'/'region'")
                .hasMessageContaining("line 2");
    }

    @Test
    void nonUtf8EmptyMissingAndHugeFilesAreRejected() throws IOException {
        Path latin1 = tmp.resolve("latin1.csv");
        Files.write(latin1, (HEADER + "Caf\u00e9,r,,b,H100,1,2,,,,\n").getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> PriceCatalog.withUserFile(latin1))
                .isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("latin1.csv line 2").hasMessageContaining("not UTF-8");

        Path empty = write("empty.csv", "\n\n");
        assertThatThrownBy(() -> PriceCatalog.withUserFile(empty))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("empty price catalog");

        assertThatThrownBy(() -> PriceCatalog.withUserFile(tmp.resolve("missing.csv")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("cannot read")
                .hasMessageContaining("missing.csv");

        Path huge = tmp.resolve("huge.csv");
        byte[] big = new byte[(4 << 20) + 1];
        java.util.Arrays.fill(big, (byte) '#');
        Files.write(huge, big);
        assertThatThrownBy(() -> PriceCatalog.withUserFile(huge))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("larger than 4 MiB");
    }

    @Test
    void priceSpotFallsBackToOnDemandAndDividesByGpus() {
        Price withSpot = price("eu-central-1", "de", 4, 10, 4.0);
        assertThat(withSpot.country()).isEqualTo("DE");
        assertThat(withSpot.usdPerGpuHour(false)).isEqualTo(2.5);
        assertThat(withSpot.usdPerGpuHour(true)).isEqualTo(1.0);
        Price noSpot = price("eu-central-1", "DE", 4, 10, null);
        assertThat(noSpot.usdPerGpuHour(true)).isEqualTo(2.5);
    }

    @ParameterizedTest
    @CsvSource({
        "DE, eu-central-1, eu, true",
        "DE, eu-central-1, EU, true",
        "DE, eu-central-1, de, true",
        "DE, eu-central-1, EU-CENTRAL-1, true",
        "DE, eu-central-1, us, false",
        "DE, eu-central-1, asia, false",
        "FI, eu-north1, eu, true",
        "GR, athens, eu, true",
        "CH, zurich, eu, false",
        "NO, oslo, eu, false",
        "IS, EUR-IS-1, eu, false",
        "GB, london, eu, false",
        "US, us-east-1, us, true",
        "US, us-east-1, eu, false",
        "IN, asia-south1, asia, true",
        "JP, tokyo, asia, true",
        "IL, me-west1, asia, true",
        "'', unknown, eu, false",
        "'', unknown, us, false",
        "'', global, global, true",
    })
    void regionFilters(String country, String region, String filter, boolean expected) {
        Price p = price(region, country, 1, 1, null);
        assertThat(p.inRegion(filter)).isEqualTo(expected);
        if (filter.equalsIgnoreCase("eu")) {
            assertThat(p.inEu()).isEqualTo(expected);
        }
    }

    @Test
    void priceValidationNamesTheField() {
        assertThatThrownBy(() -> price("r", "US", 0, 1, null)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("gpus_per_instance");
        assertThatThrownBy(() -> price("r", "US", 1025, 1, null)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("gpus_per_instance");
        assertThatThrownBy(() -> price("r", "US", 1, Double.NaN, null)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("on_demand_usd_hour");
        assertThatThrownBy(() -> price("r", "US", 1, Double.POSITIVE_INFINITY, null))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("on_demand_usd_hour");
        assertThatThrownBy(() -> price("r", "US", 1, 10_001, null)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("on_demand_usd_hour");
        assertThatThrownBy(() -> price("r", "US", 1, 2, 0.0)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("spot_usd_hour");
        assertThatThrownBy(() -> price("r", "USA", 1, 2, null)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("country");
        assertThatThrownBy(() -> new Price(" ", "r", "US", "i", "H100", 1, 1, OptionalDouble.empty(), "", "", ""))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("provider");
        assertThatThrownBy(() -> new Price("p", "r", "US", "", "H100", 1, 1, OptionalDouble.empty(), "", "", ""))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("instance");
        assertThatThrownBy(() -> new Price("p", "r", "US", "i", null, 1, 1, OptionalDouble.empty(), "", "", ""))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("gpu");
        assertThatThrownBy(() -> new Price("p", "r", "US", "i", "H100", 1, 1, OptionalDouble.empty(), "", "2026-13-01",
                "")).isInstanceOf(InvalidInputException.class).hasMessageContaining("date");
        assertThatThrownBy(() -> price("r", "US", 1, 1, null).inRegion(" "))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("region");
    }
}
