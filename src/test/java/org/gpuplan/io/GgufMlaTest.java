package org.gpuplan.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.model.Attention;
import org.gpuplan.model.GgmlType;
import org.gpuplan.model.ModelSpec;
import org.junit.jupiter.api.Test;

/**
 * DeepSeek (deepseek2) GGUFs before and after llama.cpp's MLA conversion (PR #12801): the later ones write the latent's
 * widths as key_length/value_length and the per-head widths as key_length_mla/value_length_mla; the earlier ones only
 * the per-head widths, and llama.cpp then caches per-head K and V.
 */
class GgufMlaTest {

    /** DeepSeek-V2-Lite's shape; {@code mla} adds the keys an MLA-era conversion writes. */
    private static GgufFile lite(boolean mla) {
        TestFiles.Gguf g = new TestFiles.Gguf().kv("general.architecture", "deepseek2").kv("general.file_type", 17)
                .kv("deepseek2.block_count", 27).kv("deepseek2.embedding_length", 2048)
                .kv("deepseek2.feed_forward_length", 10944).kv("deepseek2.expert_feed_forward_length", 1408)
                .kv("deepseek2.attention.head_count", 16).kv("deepseek2.attention.head_count_kv", mla ? 1 : 16)
                .kv("deepseek2.context_length", 163840).kv("deepseek2.expert_count", 64)
                .kv("deepseek2.expert_used_count", 6).kv("deepseek2.expert_shared_count", 2)
                .kv("deepseek2.leading_dense_block_count", 1).kv("deepseek2.attention.kv_lora_rank", 512)
                .kv("deepseek2.rope.dimension_count", 64).kv("deepseek2.vocab_size", 102400)
                .kv("deepseek2.attention.key_length", mla ? 576 : 192)
                .kv("deepseek2.attention.value_length", mla ? 512 : 128)
                .tensor("output.weight", GgmlType.F32, 8);
        if (mla) {
            g.kv("deepseek2.attention.key_length_mla", 192).kv("deepseek2.attention.value_length_mla", 128);
        }
        return GgufReader.read(ByteSource.of(g.build()), "lite.gguf");
    }

    private static LoadedModel loaded(GgufFile f) {
        List<String> warnings = new ArrayList<>();
        Optional<ParsedConfig> config = GgufSpec.derive(f, "lite", warnings);
        return new LoadedModel("lite", "file", Optional.empty(), config, Optional.empty(), Optional.of(f), warnings);
    }

    @Test
    void bothConversionsGiveTheSameArchitecture() {
        for (boolean mla : new boolean[] {false, true}) {
            ModelSpec spec = loaded(lite(mla)).spec().orElseThrow();
            Attention.Latent l = (Attention.Latent) spec.attention();
            assertThat(l.qkNopeHeadDim()).as("mla " + mla).isEqualTo(128);
            assertThat(l.qkRopeHeadDim()).isEqualTo(64);
            assertThat(l.vHeadDim()).isEqualTo(128);
            assertThat(l.kvLoraRank()).isEqualTo(512);
        }
    }

    @Test
    void aPreMlaConversionIsServedWithPerHeadKeysAndValues() {
        Map<String, String> raw = Map.of("seq_len", "2048");
        assertThat(Estimator.withFileDefaults(raw, loaded(lite(false)))).containsEntry("kv_layout", "per-head")
                .containsEntry("framework", "llama.cpp");
        assertThat(Estimator.withFileDefaults(raw, loaded(lite(true)))).doesNotContainKey("kv_layout");
        // what the user says wins
        assertThat(Estimator.withFileDefaults(Map.of("kv_layout", "latent"), loaded(lite(false))))
                .containsEntry("kv_layout", "latent");
    }
}
