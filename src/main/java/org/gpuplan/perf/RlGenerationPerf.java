package org.gpuplan.perf;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.memory.InferenceMemory;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.workload.Method;
import org.gpuplan.workload.RlGeneration;
import org.gpuplan.workload.Trainer;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;

/**
 * TRL GRPO's step time: the completions of a generation batch are generated (transformers generate or vLLM) before
 * the micro-steps that train on them, and the trainer waits for them (GRPOTrainer generates synchronously), so a step
 * takes the generation plus the training step.
 */
final class RlGenerationPerf {

    private RlGenerationPerf() {
    }

    static PerfEstimate withGeneration(ModelSpec m, ParameterBreakdown p, Workload w, Gpu g, PerfEstimate train) {
        if (!w.training() || w.trainer() != Trainer.GRPO) {
            return train;
        }
        Workload gen = generationWorkload(w, g);
        PerfEstimate inf = PerfModel.estimate(m, p, gen, g, InferenceMemory.estimate(m, p, gen, Optional.of(g)));
        double oneGeneration = gen.batchSize() * (double) gen.outputLen() / inf.outputTokensPerS();
        double perStep = w.generationsPerStep();
        double generation = oneGeneration * perStep;
        double trainStep = train.stepTimeS();
        double step = trainStep + generation;
        double scale = trainStep / step;
        RlGeneration.Mode mode = w.rl().mode();
        String engine = switch (mode) {
            case TRANSFORMERS -> "transformers generate on the training model (a static batch, eager kernels)";
            case VLLM_COLOCATE -> "the colocated vLLM engine (CUDA graphs, continuous batching)";
            case VLLM_SERVER -> "a vLLM server, taken as one GPU of the same type per training GPU (the trainer waits "
                    + "for it)";
        };
        List<Figure> figs = new ArrayList<>();
        for (Figure f : train.figures()) {
            switch (f.key()) {
                case "step_time_s" -> {
                    figs.add(new Figure(f.key(), f.label(), step, f.unit(), () -> String.format(Locale.ROOT,
                            "generation %.4g s + training step %.4g s (%s)", generation, trainStep,
                            f.explanation().get())));
                    figs.add(new Figure("generation_s", "generation per step", generation, "s", () -> String.format(
                            Locale.ROOT, "%s%d completions of %d tokens after %d-token prompts by %s: c·O / output "
                                    + "tokens/s = %d × %d / %.4g (time to first token %.4g s, per output token %.4g s)",
                            perStep == 1 ? "" : String.format(Locale.ROOT, "%.4g generations per step "
                                    + "(gradient_accumulation_steps / (steps_per_generation × num_iterations)) × ",
                                    perStep), gen.batchSize(), gen.outputLen(), gen.promptLen(), engine,
                            gen.batchSize(), gen.outputLen(), inf.outputTokensPerS(), inf.ttftS(), inf.tpotS())));
                }
                case "tokens_per_s", "tokens_per_s_per_gpu", "model_tflops_per_gpu", "mfu", "hfu" ->
                        figs.add(new Figure(f.key(), f.label(), f.value() * scale, f.unit(), () -> String.format(
                                Locale.ROOT, "%s; × training step / (generation + training step) = × %.4g / %.4g",
                                f.explanation().get(), trainStep, step)));
                case "train_time_s", "gpu_hours" -> figs.add(new Figure(f.key(), f.label(), f.value() / scale,
                        f.unit(), () -> String.format(Locale.ROOT, "%s; each step with its generation: × %.4g / %.4g",
                        f.explanation().get(), step, trainStep)));
                default -> figs.add(f);
            }
        }
        return new PerfEstimate(figs, step, train.tokensPerS() * scale, train.mfu() * scale,
                train.modelTflopsPerGpu() * scale, train.trainTimeS() / scale, train.gpuHours() / scale, Double.NaN,
                Double.NaN, Double.NaN, Double.NaN, train.computeUtilization() * scale,
                train.memoryBandwidthUtilization() * scale, train.bound());
    }

    // the generation batch as a serving workload on one GPU: transformers generate in the compute dtype (autocast
    // casts an fp32 master copy on the fly), or vLLM with the weights synced in 16 bits
    private static Workload generationWorkload(Workload w, Gpu g) {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("model", w.model());
        v.put("task", "infer");
        boolean vllm = w.rl().mode() != RlGeneration.Mode.TRANSFORMERS;
        v.put("framework", vllm ? "vllm" : "hf");
        v.put("gpu", g.name());
        v.put("precision", w.precision().computeBytes() == 4 ? "fp32" : w.precision().computeBytes() == 2
                && w.precision().key().startsWith("fp16") ? "fp16" : "bf16");
        if (!vllm && w.method() == Method.QLORA) {
            v.put("quant", w.quant().key());
        }
        v.put("batch_size", String.valueOf(Math.max(1, w.generationBatch())));
        int prompt = w.generationPrompt();
        v.put("prompt_len", String.valueOf(prompt));
        v.put("output_len", String.valueOf(Math.max(1, w.outputLen())));
        v.put("seq_len", String.valueOf(prompt + Math.max(1, w.outputLen())));
        if (vllm) {
            v.put("gpu_memory_utilization", String.valueOf(w.rl().mode() == RlGeneration.Mode.VLLM_COLOCATE
                    ? w.rl().vllmMemoryUtilization() : 0.9));
            v.put("max_num_seqs", String.valueOf(Math.max(1, w.generationBatch())));
        } else {
            v.put("attention", w.attention().key());
        }
        w.architecture().ifPresent(a -> v.put("architecture", a));
        return WorkloadParser.parse(v);
    }
}
