package org.gpuplan.io;

import org.gpuplan.model.GgmlType;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.gpuplan.model.Family;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ParameterCounter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class GgufReaderTest {

    /** A complete two-layer Llama-style GGUF with llama.cpp tensor names. */
    static TestFiles.Gguf tinyLlama(GgmlType weights) {
        int h = 256;
        int ffn = 512;
        int vocab = 64;
        TestFiles.Gguf g = new TestFiles.Gguf()
                .kv("general.architecture", "llama").kv("general.name", "tiny").kv("general.file_type", 15)
                .kv("llama.block_count", 2).kv("llama.embedding_length", h).kv("llama.feed_forward_length", ffn)
                .kv("llama.attention.head_count", 4).kv("llama.attention.head_count_kv", 2)
                .kv("llama.context_length", 4096).kv("llama.rope.freq_base", 500000f)
                .kv("tokenizer.ggml.tokens", tokens(vocab))
                .tensor("token_embd.weight", GgmlType.Q8_0, h, vocab)
                .tensor("output_norm.weight", GgmlType.F32, h)
                .tensor("output.weight", GgmlType.Q6_K, h, vocab);
        for (int i = 0; i < 2; i++) {
            g.tensor("blk." + i + ".attn_norm.weight", GgmlType.F32, h)
                    .tensor("blk." + i + ".attn_q.weight", weights, h, h)
                    .tensor("blk." + i + ".attn_k.weight", weights, h, h / 2)
                    .tensor("blk." + i + ".attn_v.weight", weights, h, h / 2)
                    .tensor("blk." + i + ".attn_output.weight", weights, h, h)
                    .tensor("blk." + i + ".ffn_norm.weight", GgmlType.F32, h)
                    .tensor("blk." + i + ".ffn_gate.weight", weights, h, ffn)
                    .tensor("blk." + i + ".ffn_up.weight", weights, h, ffn)
                    .tensor("blk." + i + ".ffn_down.weight", weights, ffn, h);
        }
        return g;
    }

    static String[] tokens(int n) {
        String[] t = new String[n];
        for (int i = 0; i < n; i++) {
            t[i] = "tok" + i;
        }
        return t;
    }

    static GgufFile read(byte[] bytes) {
        return GgufReader.read(ByteSource.of(bytes), "test.gguf");
    }

    @Test
    void readsMetadataAndTensorTable() {
        GgufFile f = read(tinyLlama(GgmlType.Q4_K).build());
        assertThat(f.version()).isEqualTo(3);
        assertThat(f.architecture()).contains("llama");
        assertThat(f.fileType()).contains("Q4_K_M");
        assertThat(f.integer("llama.block_count")).contains(2L);
        assertThat(f.arrayLengths()).containsEntry("tokenizer.ggml.tokens", 64L);
        TensorSummary t = f.tensors();
        assertThat(t.tensorCount()).isEqualTo(3 + 2 * 9);
        assertThat(t.byDtype().get("Q4_K").elements()).isEqualTo(2L * (256 * 256 * 2 + 256 * 128 * 2 + 3 * 256 * 512));
        // Q4_K: 144 bytes per 256 weights = 4.5 bits per weight, scales included
        assertThat(t.byDtype().get("Q4_K").bytes() * 8.0 / t.byDtype().get("Q4_K").elements()).isEqualTo(4.5);
        assertThat(t.byDtype().get("Q8_0").bytes()).isEqualTo(256L * 64 / 32 * 34);
        assertThat(t.elementsByTerm()).containsEntry("embeddings", 256L * 64).containsEntry("lm_head", 256L * 64);
        assertThat(t.layerCount()).isEqualTo(2);
    }

    @Test
    void derivedArchitectureCountsExactlyWhatTheTensorTableHolds() {
        GgufFile f = read(tinyLlama(GgmlType.F16).build());
        List<String> warnings = new ArrayList<>();
        ParsedConfig pc = GgufSpec.derive(f, "tiny", warnings).orElseThrow();
        assertThat(warnings).isEmpty();
        assertThat(pc.spec().family()).isEqualTo(Family.LLAMA);
        assertThat(pc.spec().vocabSize()).isEqualTo(64);
        assertThat(pc.spec().embeddings().tied()).isFalse();
        assertThat(ParameterCounter.count(pc.spec()).totalCount()).isEqualTo(f.tensors().totalElements());
    }

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void everyTypeSizesWholeBlocks(GgmlType type) {
        assertThat(type.bytesFor(type.blockSize() * 4L)).isEqualTo(4L * type.blockBytes());
        assertThat(type.bitsPerWeight()).isBetween(1.5, 64.0);
    }

    @Test
    void quantizedBitsPerWeightMatchLlamaCpp() {
        // llama.cpp: Q4_0 4.5 bpw, Q8_0 8.5, Q6_K 6.5625, Q5_K 5.5, Q2_K 2.625, IQ4_XS 4.25, MXFP4 4.25
        assertThat(GgmlType.Q4_0.bitsPerWeight()).isEqualTo(4.5);
        assertThat(GgmlType.Q8_0.bitsPerWeight()).isEqualTo(8.5);
        assertThat(GgmlType.Q6_K.bitsPerWeight()).isEqualTo(6.5625);
        assertThat(GgmlType.Q5_K.bitsPerWeight()).isEqualTo(5.5);
        assertThat(GgmlType.Q2_K.bitsPerWeight()).isEqualTo(2.625);
        assertThat(GgmlType.IQ4_XS.bitsPerWeight()).isEqualTo(4.25);
        assertThat(GgmlType.MXFP4.bitsPerWeight()).isEqualTo(4.25);
    }

    @Test
    void rejectsBadMagicAndUnsupportedVersions() {
        byte[] file = tinyLlama(GgmlType.F16).build();
        byte[] bad = file.clone();
        bad[0] = 'X';
        assertThatThrownBy(() -> read(bad)).isInstanceOf(InvalidInputException.class).hasMessageContaining("magic");
        assertThatThrownBy(() -> read(tinyLlama(GgmlType.F16).version(1).build()))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("version 1");
        assertThatThrownBy(() -> read(tinyLlama(GgmlType.F16).version(7).build()))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("accepted: 2, 3");
    }

    @Test
    void version2IsRead() {
        assertThat(read(tinyLlama(GgmlType.Q8_0).version(2).build()).version()).isEqualTo(2);
    }

    @Test
    void lyingCountsFailBeforeAllocating() {
        byte[] file = tinyLlama(GgmlType.F16).build();
        byte[] lie = file.clone();
        ByteBuffer.wrap(lie).order(ByteOrder.LITTLE_ENDIAN).putLong(8, Long.MAX_VALUE / 2);
        assertThatThrownBy(() -> read(lie)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("tensor count");
        byte[] kvLie = file.clone();
        ByteBuffer.wrap(kvLie).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 1L << 40);
        assertThatThrownBy(() -> read(kvLie)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("metadata count");
        byte[] keyLie = file.clone();
        ByteBuffer.wrap(keyLie).order(ByteOrder.LITTLE_ENDIAN).putLong(24, 1L << 50);
        assertThatThrownBy(() -> read(keyLie)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("more than the file holds");
    }

    @Test
    void tensorDataPastTheEndIsALyingHeader() {
        byte[] file = tinyLlama(GgmlType.F16).build();
        byte[] cut = java.util.Arrays.copyOf(file, file.length - 1000);
        assertThatThrownBy(() -> read(cut)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("truncated or lying header");
    }

    @Test
    void unknownTypeAndAbsurdDimensionsAreRejected() {
        assertThatThrownBy(() -> read(new TestFiles.Gguf().tensor("a", GgmlType.F32, 1L << 41).build()))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("absurd dimension");
        assertThatThrownBy(() -> read(new TestFiles.Gguf().tensor("a", GgmlType.Q4_0, 31).build()))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("block size");
        byte[] file = new TestFiles.Gguf().tensor("a", GgmlType.F32, 4).build();
        // the type id sits right after name (8+1 bytes) and one dimension (4+8 bytes) following the 24-byte header
        int typeAt = 24 + 8 + 1 + 4 + 8;
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putInt(typeAt, 99);
        assertThatThrownBy(() -> read(file)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("unknown GGML type id 99");
    }

    @Test
    void unknownArchitectureFallsBackToTheTensorTable() {
        GgufFile f = read(new TestFiles.Gguf().kv("general.architecture", "mamba").tensor("a", GgmlType.F32, 8)
                .build());
        List<String> warnings = new ArrayList<>();
        assertThat(GgufSpec.derive(f, "m", warnings)).isEmpty();
        assertThat(warnings).singleElement().asString().contains("mamba");
    }
}
