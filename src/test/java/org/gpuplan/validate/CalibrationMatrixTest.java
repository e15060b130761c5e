package org.gpuplan.validate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU calibration harness's inputs and outputs stay in step with the estimator: every matrix case is a valid
 * gpuplan workload that estimates, the matrix covers what the harness issue asks for, and a results line in the
 * harness's format is read by {@code gpuplan validate --measured}.
 */
class CalibrationMatrixTest {

    static final Path MATRIX = Path.of("calibration", "matrix.jsonl");

    @TempDir
    Path tmp;

    static Validator validator() {
        return new Validator(new ModelResolver(ModelCatalog.builtIn(), ResolveOptions.fromEnvironment(
                Map.of("HF_HUB_CACHE", "/nonexistent-hub-cache"), false)), GpuCatalog.builtIn());
    }

    static List<JsonNode> matrix() throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(MATRIX)) {
            if (!line.isBlank() && !line.startsWith("#")) {
                out.add(json.readTree(line));
            }
        }
        return out;
    }

    @Test
    void everyCaseIsAWorkloadTheEstimatorAccepts() throws Exception {
        Validator v = validator();
        for (JsonNode c : matrix()) {
            String line = "{\"id\":\"" + c.get("id").asText() + "\",\"metric\":\"peak_allocated_bytes\",\"measured\":1,"
                    + "\"workload\":" + c.get("workload") + "}";
            ValidationResult r = v.run(Validator.parse(line, "matrix")).get(0);
            assertThat(r.predicted()).as(c.get("id").asText() + ": " + r.reason()).isPresent();
        }
    }

    @Test
    void matrixCoversWhatTheEstimatorClaims() throws Exception {
        Set<String> seen = new HashSet<>();
        for (JsonNode c : matrix()) {
            JsonNode w = c.get("workload");
            seen.add("precision:" + w.path("precision").asText());
            seen.add("optimizer:" + w.path("optimizer").asText());
            seen.add("method:" + w.path("method").asText("full"));
            seen.add("task:" + w.path("task").asText());
            seen.add("attention:" + w.path("attention").asText());
            seen.add("checkpointing:" + w.path("checkpointing").asText("none"));
        }
        assertThat(seen).contains("precision:fp32", "precision:bf16-mixed", "precision:bf16", "optimizer:adamw",
                "optimizer:adafactor", "optimizer:sgd", "method:lora", "task:infer", "attention:eager",
                "attention:sdpa", "checkpointing:full", "checkpointing:none");
        assertThat(matrix()).hasSizeGreaterThanOrEqualTo(20);
    }

    @Test
    void harnessOutputLinesAreValidationCases() throws Exception {
        Path results = tmp.resolve("measured.jsonl");
        Files.writeString(results, """
                {"id": "gpt2-full-bf16-adamw-b4-s512-peak_allocated", "metric": "peak_allocated_bytes", \
                "measured": 3500000000, "workload": {"task": "train", "framework": "hf", "attention": "eager", \
                "gpu": "H100-SXM-80GB", "model": "openai-community/gpt2", "precision": "bf16", "optimizer": "adamw", \
                "batch_size": 4, "seq_len": 512, "cuda_context_mib": 512}, "kind": "train-full", \
                "source": "calibration/measure.py on NVIDIA H100 80GB HBM3", "confidence": "H", \
                "environment": {"gpu": "NVIDIA H100 80GB HBM3", "torch": "2.5.1"}, "step_time_s": 0.05, \
                "notes": "random weights from config.json; 4 steps"}
                {"id": "gpt2-full-bf16-adamw-b4-s512-step_time_s", "metric": "perf.step_time_s",                 "measured": 0.05, "workload": {"task": "train", "framework": "hf", "attention": "eager",                 "gpu": "H100-SXM-80GB", "model": "openai-community/gpt2", "precision": "bf16", "optimizer": "adamw",                 "batch_size": 4, "seq_len": 512, "cuda_context_mib": 512}, "kind": "train-full",                 "source": "calibration/measure.py on NVIDIA H100 80GB HBM3", "confidence": "H",                 "notes": "random weights from config.json; 4 steps"}
                """);
        List<ValidationResult> r = validator().run(Validator.read(results));
        assertThat(r).hasSize(2).allSatisfy(x -> assertThat(x.predicted()).isPresent());
        assertThat(r.get(1).predicted().orElseThrow()).isPositive().isLessThan(10.0);
    }
}
