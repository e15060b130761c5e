package org.gpuplan.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ParameterCounter;

/**
 * Coverage-guided fuzzing of every reader of untrusted input. As ordinary tests (CI) these replay the committed seed
 * inputs in {@code ReaderFuzzTestInputs/}; with {@code JAZZER_FUZZ=1} Jazzer mutates them for as long as it is let run.
 * The only acceptable failure is an {@link InvalidInputException} (a clear user-facing error): any other exception,
 * a hang or an out-of-memory is a bug.
 */
class ReaderFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void safetensorsHeader(byte[] data) {
        try {
            SafetensorsReader.read(ByteSource.of(data), "fuzz.safetensors", -1);
        } catch (InvalidInputException expected) {
            // a clear error is the right answer to bad bytes
        }
    }

    @FuzzTest(maxDuration = "60s")
    void ggufHeader(byte[] data) {
        try {
            GgufFile f = GgufReader.read(ByteSource.of(data), "fuzz.gguf");
            GgufSpec.derive(f, "fuzz", new java.util.ArrayList<>()).ifPresent(pc -> ParameterCounter.count(pc.spec()));
        } catch (InvalidInputException expected) {
            // a clear error is the right answer to bad bytes
        }
    }

    @FuzzTest(maxDuration = "60s")
    void configJson(byte[] data) {
        try {
            ParsedConfig pc = HfConfigParser.parse(new String(data, StandardCharsets.UTF_8), "fuzz", "config.json");
            ParameterCounter.count(pc.spec());
        } catch (InvalidInputException expected) {
            // a clear error is the right answer to bad input
        }
    }
}
