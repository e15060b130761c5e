package org.gpuplan.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.gpuplan.io.TestFiles.Tensor;
import org.gpuplan.model.InvalidInputException;
import org.junit.jupiter.api.Test;

class SafetensorsReaderTest {

    static TensorSummary read(byte[] bytes) {
        return SafetensorsReader.read(ByteSource.of(bytes), "test.safetensors", -1);
    }

    @Test
    void countsElementsAndBytesPerDtypeAndTerm() {
        byte[] file = TestFiles.safetensors(List.of(
                new Tensor("model.embed_tokens.weight", "BF16", 100, 16),
                new Tensor("model.layers.0.self_attn.q_proj.weight", "BF16", 16, 16),
                new Tensor("model.layers.0.mlp.gate_proj.weight", "F32", 32, 16),
                new Tensor("model.layers.1.input_layernorm.weight", "F16", 16),
                new Tensor("lm_head.weight", "F8_E4M3", 100, 16)));
        TensorSummary s = read(file);
        assertThat(s.tensorCount()).isEqualTo(5);
        assertThat(s.totalElements()).isEqualTo(1600 + 256 + 512 + 16 + 1600);
        assertThat(s.byDtype().get("BF16").elements()).isEqualTo(1856);
        assertThat(s.byDtype().get("BF16").bytes()).isEqualTo(3712);
        assertThat(s.byDtype().get("F32").bytes()).isEqualTo(2048);
        assertThat(s.byDtype().get("F8_E4M3").bytes()).isEqualTo(1600);
        assertThat(s.dataBytes()).isEqualTo(3712 + 2048 + 32 + 1600);
        assertThat(s.elementsByTerm()).containsEntry("embeddings", 1600L).containsEntry("attention", 256L)
                .containsEntry("mlp", 512L).containsEntry("norms", 16L).containsEntry("lm_head", 1600L);
        assertThat(s.layerCount()).isEqualTo(2);
    }

    @Test
    void emptyShapeIsAScalarAndZeroDimensionIsEmpty() {
        TensorSummary s = read(TestFiles.safetensors(List.of(new Tensor("scale", "F32"),
                new Tensor("empty", "F32", 0, 8))));
        assertThat(s.totalElements()).isEqualTo(1);
    }

    @Test
    void headerLongerThanTheLimitIsRejectedBeforeAllocating() {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(SafetensorsReader.MAX_HEADER_BYTES + 1);
        assertThatThrownBy(() -> read(b.array())).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("100 MB");
        ByteBuffer neg = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        neg.putLong(-1L);
        assertThatThrownBy(() -> read(neg.array())).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("100 MB");
    }

    @Test
    void truncatedHeaderIsRejected() {
        byte[] file = TestFiles.safetensors(List.of(new Tensor("a", "F32", 4)));
        byte[] cut = java.util.Arrays.copyOf(file, 20);
        assertThatThrownBy(() -> read(cut)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("truncated");
        assertThatThrownBy(() -> read(new byte[3])).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("not a safetensors file");
    }

    @Test
    void truncatedDataIsALyingHeader() {
        byte[] file = TestFiles.safetensors(List.of(new Tensor("a", "F32", 1000)));
        byte[] cut = java.util.Arrays.copyOf(file, file.length - 10);
        assertThatThrownBy(() -> read(cut)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("outside");
    }

    @Test
    void shapeThatDisagreesWithOffsetsIsRejected() {
        byte[] file = TestFiles.withHeader(
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000,1000000],\"data_offsets\":[0,16]}}", 16);
        assertThatThrownBy(() -> read(file)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("spans 16 bytes");
    }

    @Test
    void overflowingShapeIsRejected() {
        byte[] file = TestFiles.withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807,4],"
                + "\"data_offsets\":[0,16]}}", 16);
        assertThatThrownBy(() -> read(file)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("overflow");
    }

    @Test
    void malformedHeadersAreClearErrors() {
        assertThatThrownBy(() -> read(TestFiles.withHeader("{\"a\":{\"dtype\":\"F32\"", 0)))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> read(TestFiles.withHeader("[1,2,3]", 0)))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("not a JSON object");
        assertThatThrownBy(() -> read(TestFiles.withHeader(
                "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1)))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("unknown dtype 'Q7'")
                .hasMessageContaining("BF16");
        assertThatThrownBy(() -> read(TestFiles.withHeader(
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("shape");
        assertThatThrownBy(() -> read(TestFiles.withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4)))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("lacks");
    }
}
