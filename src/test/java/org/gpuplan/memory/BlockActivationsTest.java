package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.gpuplan.workload.AttentionImpl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The per-block activation formulas against what autograd really saved for the HF eager Llama decoder layer and GPT-2
 * block (validation/activations/measured.json, produced by measure_saved_tensors.py with PyTorch 1.13 on CPU): every
 * case must match to the byte under the profile of the PyTorch build that was measured.
 */
class BlockActivationsTest {

    static final Path MEASURED = Path.of("validation", "activations", "measured.json");

    static Stream<Arguments> cases() throws IOException {
        JsonNode root = new ObjectMapper().readTree(MEASURED.toFile());
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            out.add(Arguments.of(c.get("block").asText() + " " + c.get("dtype").asText()
                    + (c.get("autocast").asBoolean() ? " autocast" : "") + " b=" + c.get("batch").asInt() + " s="
                    + c.get("seq").asInt() + " kv=" + c.get("kv_heads").asInt() + " p=" + c.get("dropout").asDouble(),
                    c));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void formulaEqualsMeasuredSavedBytes(String name, JsonNode c) {
        int e = c.get("dtype").asText().equals("float32") ? 4 : 2;
        BlockActivations.Shape shape = new BlockActivations.Shape(c.get("batch").asLong(), c.get("seq").asLong(),
                c.get("hidden").asLong(), c.get("heads").asLong(), c.get("kv_heads").asLong(),
                c.get("head_dim").asLong(), c.get("intermediate").asLong(), e, c.get("autocast").asBoolean(),
                c.get("dropout").asDouble(), AttentionImpl.EAGER, true);
        BlockActivations.Saved saved = c.get("block").asText().equals("llama")
                ? BlockActivations.llama(shape, BlockActivations.Profile.CPU_TORCH_1_13)
                : BlockActivations.gpt2(shape, BlockActivations.Profile.CPU_TORCH_1_13);
        assertThat(saved.excludingInput()).as(name).isEqualTo(c.get("saved_bytes_excluding_input_and_params").asLong());
        assertThat(saved.input()).as(name + " input").isEqualTo(c.get("input_bytes").asLong());
    }

    @Test
    void measurementCoversBothBlocksAndDtypes() throws IOException {
        assertThat(cases().count()).isGreaterThanOrEqualTo(40);
    }

    @Test
    void currentPytorchDropsTheSquareThatTorch113Keeps() {
        BlockActivations.Shape shape = new BlockActivations.Shape(2, 64, 256, 8, 2, 32, 688, 2, false, 0,
                AttentionImpl.EAGER, true);
        long old = BlockActivations.llama(shape, BlockActivations.Profile.CPU_TORCH_1_13).excludingInput();
        long now = BlockActivations.llama(shape, BlockActivations.Profile.CUDA).excludingInput();
        // two RMSNorms × x² in fp32, and the 8-byte scale tensor of the older eager code
        assertThat(old - now).isEqualTo(2L * 4 * 256 * 2 * 64 + 8);
    }
}
