package org.gpuplan.validate;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The estimator against the calibration matrix as measured on an NVIDIA H200 (calibration/measure.py, torch 2.11,
 * transformers 5.17, peft 0.21; calibration/results/h200-2026-11-26.jsonl): random-weight HF models from the catalog's
 * config.json files, every setting known. Memory is what PyTorch's allocator and NVML reported; GPU time is the
 * PyTorch profiler's sum of kernel times for one training step, one prefill and one decode step.
 *
 * <p>The bounds are the accuracy reached when the data was committed, with a little headroom; they fail when a change
 * makes the model worse on measured truth.
 */
class H200CalibrationTest {

    static final Path RESULTS = Path.of("calibration", "results", "h200-2026-11-26.jsonl");

    static List<ValidationResult> results;

    @BeforeAll
    static void run() {
        results = CalibrationMatrixTest.validator().run(Validator.read(RESULTS));
    }

    /** The estimator against one results file of calibration/results. */
    static List<ValidationResult> measured(String file) {
        return CalibrationMatrixTest.validator().run(Validator.read(Path.of("calibration", "results", file)));
    }

    static double[] errors(Predicate<String> metric) {
        return results.stream().filter(r -> metric.test(r.validationCase().metric()))
                .mapToDouble(r -> Math.abs(r.error().orElseThrow(() -> new AssertionError(
                        r.validationCase().id() + ": " + r.reason()))))
                .sorted().toArray();
    }

    static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    @Test
    void everyMeasuredLineIsPredicted() {
        assertThat(results).hasSizeGreaterThan(100).allSatisfy(r -> assertThat(r.predicted())
                .as(r.validationCase().id() + ": " + r.reason()).isPresent());
    }

    @Test
    void memoryPeaksWithinAFewPercent() {
        double[] e = errors(m -> !m.startsWith("perf."));
        assertThat(e).hasSizeGreaterThanOrEqualTo(80);
        assertThat(median(e)).as("median |error| of allocated/reserved/device-used peaks").isLessThan(0.02);
        assertThat(e[e.length - 1]).as("worst memory case").isLessThan(0.10);
    }

    /**
     * Reserved memory and nvidia-smi's figure of the training cases follow the caching allocator's replay of the
     * step's tensors (TrainingAllocations); with a share of the transient bytes instead they were up to 18.9 % low
     * (Qwen2.5-0.5B at 512 tokens, whose optimizer states take the blocks cut for the first step's logits).
     */
    /**
     * With PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (allocator traces of two matrix cases): the replay grows
     * one segment per pool, and reserved memory stays within 1 % (measured +3.6 % and +7.0 % over allocated).
     */
    @Test
    void expandableSegmentsReplay() {
        List<ValidationResult> run = measured("h200-2026-11-26-expandable.jsonl");
        assertThat(run).hasSize(4).allSatisfy(r -> assertThat(Math.abs(r.error().orElseThrow()))
                .as(r.validationCase().id()).isLessThan(0.01));
    }

    /** generate()'s reserved memory follows the replay of its growing DynamicCache copies (was 8-11 % low). */
    @Test
    void generateReservedFollowsTheCacheCopies() {
        double[] e = results.stream().filter(r -> r.validationCase().id().contains("generate"))
                .filter(r -> r.validationCase().metric().equals("peak_reserved_bytes"))
                .mapToDouble(r -> Math.abs(r.error().orElseThrow())).sorted().toArray();
        assertThat(e).hasSize(5);
        assertThat(e[e.length - 1]).as("worst generate reserved").isLessThan(0.08);
    }

    @Test
    void trainingReservedAndDeviceUsedFollowTheAllocator() {
        double[] e = results.stream().filter(r -> !r.validationCase().id().contains("generate"))
                .filter(r -> r.validationCase().metric().equals("peak_reserved_bytes")
                        || r.validationCase().metric().equals("device_used_bytes"))
                .mapToDouble(r -> Math.abs(r.error().orElseThrow())).sorted().toArray();
        assertThat(e).hasSizeGreaterThanOrEqualTo(40);
        assertThat(median(e)).as("median |error| of training reserved / device used").isLessThan(0.02);
        assertThat(e[e.length - 1]).as("worst training reserved / device used").isLessThan(0.08);
    }

    @Test
    void gpuKernelTimeOfTrainingSteps() {
        double[] e = errors(m -> m.equals("perf.kernel_time_s"));
        assertThat(e).hasSizeGreaterThanOrEqualTo(20);
        assertThat(median(e)).as("median |error| of GPU time per training step").isLessThan(0.14);
        assertThat(e[e.length - 1]).isLessThan(0.40);
    }

    @Test
    void prefillGpuTime() {
        double[] e = errors(m -> m.equals("perf.prefill_kernel_time_s"));
        assertThat(e).hasSize(5);
        assertThat(median(e)).isLessThan(0.15);
    }

    @Test
    void wallClockStepTimesOfTheFasterHostRun() {
        // the 8-step run (calibration/results/h200-2026-11-26-8steps.jsonl) on the faster of the two hosts: small
        // models host-bound, 7-8 B GPU-bound; the host/GPU overlap share was fitted to this run
        List<ValidationResult> run = measured("h200-2026-11-26-8steps.jsonl");
        double[] e = run.stream().filter(r -> r.validationCase().metric().equals("perf.step_time_s"))
                .mapToDouble(r -> Math.abs(r.error().orElseThrow())).sorted().toArray();
        assertThat(e).hasSize(23);
        assertThat(median(e)).as("median |error| of step time").isLessThan(0.12);
    }

    /**
     * The second H200 run (calibration/results/h200-2026-11-26-peft-gemma-moe.jsonl): DoRA, PEFT modules_to_save,
     * LoRA at 16k tokens, fp16 with a GradScaler, Gemma 2 (fp32-scaled sandwich norms, capped scores and logits) and
     * Qwen3-30B-A3B (MoE) LoRA. Before Gemma 2's norms and caps were modelled its peaks were 5.5-9.8 % low.
     */
    @Test
    void peftGemmaAndMoeRunAllocatedPeaks() {
        List<ValidationResult> run = measured("h200-2026-11-26-peft-gemma-moe.jsonl");
        double[] allocated = run.stream().filter(r -> r.validationCase().metric().equals("peak_allocated_bytes"))
                .mapToDouble(r -> Math.abs(r.error().orElseThrow())).sorted().toArray();
        assertThat(allocated).hasSize(12);
        assertThat(median(allocated)).as("median |error| of peak allocated").isLessThan(0.01);
        assertThat(allocated[allocated.length - 1]).as("worst peak allocated").isLessThan(0.04);
        for (ValidationResult r : run) {
            String id = r.validationCase().id();
            if (r.validationCase().metric().equals("peak_allocated_bytes")
                    && (id.startsWith("gemma2") || id.startsWith("qwen3-30b"))) {
                assertThat(Math.abs(r.error().orElseThrow())).as(id).isLessThan(0.01);
            }
        }
        double[] cached = run.stream().filter(r -> r.validationCase().metric().equals("peak_reserved_bytes")
                        || r.validationCase().metric().equals("device_used_bytes"))
                .mapToDouble(r -> Math.abs(r.error().orElseThrow())).sorted().toArray();
        assertThat(median(cached)).as("median |error| of reserved and device used").isLessThan(0.02);
        assertThat(cached[cached.length - 1]).as("worst reserved / device used").isLessThan(0.06);
    }

    /**
     * The same batches with a padding mask (calibration/results/h200-2026-11-26-padded.jsonl: the last of 4 sequences
     * 1/8 shorter, as HF's collators pad): gpuplan's default padded_batches, where SDPA gets a 4-D mask, repeats K/V
     * and keeps the mask. Without the mask the same LoRA case measured 0.5 GiB less (h200-2026-11-26.jsonl).
     */
    @Test
    void paddedBatchesAsMeasured() {
        List<ValidationResult> run = measured("h200-2026-11-26-padded.jsonl");
        List<ValidationResult> allocated = run.stream()
                .filter(r -> r.validationCase().metric().equals("peak_allocated_bytes")).toList();
        assertThat(allocated).hasSize(3).allSatisfy(r -> assertThat(Math.abs(r.error().orElseThrow()))
                .as(r.validationCase().id()).isLessThan(0.01));
    }

    /**
     * An HF model compiled whole (calibration/results/h200-2026-11-26-compile.jsonl, Llama-3.2-1B, 4 × 2,048 tokens:
     * 23.20 GiB compiled against 32.10 GiB eager): the compiled step's peak and the eager one's.
     */
    @Test
    void compiledHfModelAsMeasured() {
        List<ValidationResult> run = measured("h200-2026-11-26-compile.jsonl");
        assertThat(run.stream().filter(r -> r.validationCase().metric().equals("peak_allocated_bytes")).toList())
                .hasSize(2).allSatisfy(r -> assertThat(Math.abs(r.error().orElseThrow()))
                        .as(r.validationCase().id()).isLessThan(0.01));
    }

    @Test
    void largeStepsAreGpuBoundAndPredicted() {
        // the 7-8B cases keep the GPU busy (profiled kernel time ≥ 95 % of the step): step time is the GPU's
        for (ValidationResult r : results) {
            String id = r.validationCase().id();
            if (r.validationCase().metric().equals("perf.step_time_s") && (id.startsWith("llama31-8b-full")
                    || id.startsWith("qwen25-7b-lora"))) {
                assertThat(Math.abs(r.error().orElseThrow())).as(id).isLessThan(0.15);
            }
        }
    }
}
