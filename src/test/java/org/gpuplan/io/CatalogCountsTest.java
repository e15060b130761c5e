package org.gpuplan.io;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Stream;
import org.gpuplan.model.Family;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.ParameterCounter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every catalog model's counts against published totals (src/test/resources/published-parameter-counts.csv, each row
 * with its source). Exact where the source is exact (safetensors metadata, printed sums), within the stated rounding
 * where the source rounds (model cards: "671B", "3.3B activated").
 */
class CatalogCountsTest {

    static final ModelCatalog CATALOG = ModelCatalog.builtIn();

    static Stream<Arguments> published() throws IOException {
        try (InputStream in = CatalogCountsTest.class.getResourceAsStream("/published-parameter-counts.csv")) {
            List<List<String>> rows = Csv.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "csv");
            return rows.subList(1, rows.size()).stream()
                    .map(r -> Arguments.of(r.get(0), r.get(1), Long.parseLong(r.get(2)), Double.parseDouble(r.get(3)),
                            r.get(4), r.get(6)));
        }
    }

    @ParameterizedTest(name = "{0} {1} = {2}")
    @MethodSource("published")
    void matchesPublishedCount(String id, String metric, long published, double tolerance, String architecture,
                               String source) throws IOException {
        CatalogEntry entry = CATALOG.find(id).orElseThrow();
        String json = CATALOG.config(entry);
        if (!architecture.isEmpty()) {
            ObjectNode node = (ObjectNode) HfConfigParser.JSON.readTree(json);
            node.putArray("architectures").add(architecture);
            json = node.toString();
        }
        ParameterBreakdown b = ParameterCounter.count(HfConfigParser.parse(json, id, id).spec());
        long computed = switch (metric) {
            case "total" -> b.totalCount();
            case "active" -> b.activeCount();
            case "active_non_embedding" -> b.activeNonEmbedding().value();
            case "mtp" -> b.mtp().value();
            // Hub checkpoints that store the MTP layer (DeepSeek-V3 style) count it in their totals; some also store
            // that layer's own copies of the token embeddings and output head (GLM-4.5/4.7, not GLM-4.6)
            case "with_mtp" -> b.totalCount() + b.mtp().value();
            case "with_mtp_own_embeddings" -> b.totalCount() + b.mtp().value() + b.count("embeddings")
                    + b.count("lm_head");
            default -> throw new IllegalArgumentException(metric);
        };
        if (tolerance == 0) {
            assertThat(computed).as("%s %s (source: %s)", id, metric, source).isEqualTo(published);
        } else {
            assertThat((double) computed).as("%s %s (source: %s)", id, metric, source)
                    .isBetween(published * (1 - tolerance), published * (1 + tolerance));
        }
    }

    @Test
    void catalogHasAtLeastFiftyModelsAndEveryOneParses() {
        assertThat(CATALOG.entries()).hasSizeGreaterThanOrEqualTo(50);
        for (CatalogEntry e : CATALOG.entries()) {
            assertThat(e.source()).as(e.id()).isNotBlank();
            assertThat(e.retrieved()).as(e.id()).matches("\\d{4}-\\d{2}-\\d{2}");
            ParsedConfig pc = HfConfigParser.parse(CATALOG.config(e), e.id(), e.id());
            assertThat(pc.warnings()).as(e.id()).isEmpty();
            ParameterBreakdown b = ParameterCounter.count(pc.spec());
            assertThat(b.totalCount()).as(e.id()).isPositive();
            assertThat(b.activeCount()).as(e.id()).isBetween(1L, b.totalCount());
        }
    }

    @Test
    void catalogCoversTheRequiredFamilies() {
        var families = CATALOG.entries().stream()
                .map(e -> HfConfigParser.parse(CATALOG.config(e), e.id(), e.id()).spec().family()).distinct().toList();
        assertThat(families).contains(Family.LLAMA, Family.MISTRAL, Family.MIXTRAL, Family.QWEN2, Family.QWEN2_MOE,
                Family.QWEN3, Family.QWEN3_MOE, Family.GEMMA, Family.GEMMA2, Family.GEMMA3, Family.PHI3, Family.GPT2,
                Family.BERT, Family.DEEPSEEK_V3, Family.GPT_OSS, Family.GLM4_MOE, Family.LLAMA4);
    }

    @Test
    void mostCatalogModelsHaveACitedPublishedCount() throws IOException {
        long cited = published().map(a -> (String) a.get()[0]).distinct().count();
        assertThat(cited).isGreaterThanOrEqualTo(40);
    }

    @Test
    void lookupIsCaseInsensitiveAndAcceptsTheBareName() {
        assertThat(CATALOG.find("META-LLAMA/llama-3.1-8b")).map(CatalogEntry::id).contains("meta-llama/Llama-3.1-8B");
        assertThat(CATALOG.find("Qwen2.5-7B")).map(CatalogEntry::id).contains("Qwen/Qwen2.5-7B");
        assertThat(CATALOG.suggestions("meta-llama/Llama-3.1-8")).contains("meta-llama/Llama-3.1-8B");
    }
}
