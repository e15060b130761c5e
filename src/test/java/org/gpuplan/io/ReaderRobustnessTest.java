package org.gpuplan.io;

import org.gpuplan.model.GgmlType;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.gpuplan.io.TestFiles.Tensor;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ParameterCounter;
import org.junit.jupiter.api.Test;

/**
 * Seeded property tests over hostile bytes: every truncation of a valid file and thousands of random corruptions
 * (bit flips, overwritten length fields, random tails) either read fine or fail with a clear
 * {@link InvalidInputException} — never another exception, a hang or a large allocation.
 */
class ReaderRobustnessTest {

    static final int MUTATIONS = 3000;

    static void survives(byte[] data, Consumer<byte[]> reader) {
        assertThatCode(() -> {
            try {
                reader.accept(data);
            } catch (InvalidInputException expected) {
                // clear error: fine
            }
        }).as("input of %d bytes: %s", data.length, Arrays.toString(Arrays.copyOf(data, Math.min(64, data.length))))
                .doesNotThrowAnyException();
    }

    static void safetensors(byte[] d) {
        SafetensorsReader.read(ByteSource.of(d), "t.safetensors", -1);
    }

    static void gguf(byte[] d) {
        GgufFile f = GgufReader.read(ByteSource.of(d), "t.gguf");
        GgufSpec.derive(f, "t", new java.util.ArrayList<>()).ifPresent(pc -> ParameterCounter.count(pc.spec()));
    }

    static byte[] validSafetensors() {
        return TestFiles.safetensors(List.of(new Tensor("model.embed_tokens.weight", "BF16", 32, 8),
                new Tensor("model.layers.0.self_attn.q_proj.weight", "F32", 8, 8),
                new Tensor("model.layers.0.mlp.experts.3.up_proj.weight", "F8_E4M3", 8, 16)));
    }

    static byte[] validGguf() {
        return GgufReaderTest.tinyLlama(GgmlType.Q4_0).build();
    }

    @Test
    void everyTruncationOfASafetensorsFileIsHandled() {
        byte[] file = validSafetensors();
        for (int n = 0; n < file.length; n++) {
            survives(Arrays.copyOf(file, n), ReaderRobustnessTest::safetensors);
        }
    }

    @Test
    void everyTruncationOfAGgufHeaderIsHandled() {
        byte[] file = validGguf();
        for (int n = 0; n < Math.min(file.length, 4000); n++) {
            survives(Arrays.copyOf(file, n), ReaderRobustnessTest::gguf);
        }
    }

    @Test
    void randomCorruptionsOfSafetensorsAreHandled() {
        mutate(validSafetensors(), 11, ReaderRobustnessTest::safetensors);
    }

    @Test
    void randomCorruptionsOfGgufAreHandled() {
        mutate(validGguf(), 13, ReaderRobustnessTest::gguf);
    }

    @Test
    void randomCorruptionsOfConfigJsonAreHandled() {
        byte[] json = HfConfigParserTest.LLAMA_TINY.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        mutate(json, 17, d -> ParameterCounter.count(
                HfConfigParser.parse(new String(d, java.nio.charset.StandardCharsets.UTF_8), "t", "t").spec()));
    }

    private static void mutate(byte[] valid, long seed, Consumer<byte[]> reader) {
        Random random = new Random(seed);
        for (int i = 0; i < MUTATIONS; i++) {
            byte[] d = valid.clone();
            int kind = random.nextInt(4);
            int edits = 1 + random.nextInt(4);
            for (int e = 0; e < edits; e++) {
                int at = random.nextInt(d.length);
                switch (kind) {
                    case 0 -> d[at] ^= (byte) (1 << random.nextInt(8));
                    case 1 -> d[at] = (byte) random.nextInt(256);
                    case 2 -> {
                        // overwrite an 8-byte little-endian field with an extreme value
                        long v = random.nextBoolean() ? -1L : 1L << random.nextInt(63);
                        for (int b = 0; b < 8 && at + b < d.length; b++) {
                            d[at + b] = (byte) (v >>> (8 * b));
                        }
                    }
                    default -> d = Arrays.copyOf(d, Math.max(0, at));
                }
                if (d.length == 0) {
                    break;
                }
            }
            survives(d, reader);
        }
    }
}
