package org.gpuplan.hardware;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import org.gpuplan.model.InvalidInputException;

/**
 * Fuzzing of the user-supplied catalogs ({@code --gpu-file}, {@code --prices}). As ordinary tests these replay the
 * seeds in {@code CatalogFuzzTestInputs/}; with {@code JAZZER_FUZZ=1} Jazzer mutates them. Only
 * {@link InvalidInputException} (a one-line user error) may escape.
 */
class CatalogFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void gpuCsv(byte[] data) {
        try {
            GpuCatalog c = GpuCatalog.parse(new String(data, StandardCharsets.UTF_8), "fuzz.csv");
            for (Gpu g : c.gpus()) {
                g.peakTflops(TensorDtype.FP8);
                g.peakTflops(TensorDtype.FP32);
            }
        } catch (InvalidInputException expected) {
            // a clear error is the right answer to a bad file
        }
    }

    @FuzzTest(maxDuration = "60s")
    void priceCsv(byte[] data) {
        try {
            PriceCatalog c = PriceCatalog.parse(new String(data, StandardCharsets.UTF_8), "fuzz.csv");
            c.prices().forEach(p -> {
                p.usdPerGpuHour(true);
                p.inRegion("eu");
            });
        } catch (InvalidInputException expected) {
            // a clear error is the right answer to a bad file
        }
    }
}
