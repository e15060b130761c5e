package org.gpuplan.workload;

import org.gpuplan.model.InvalidInputException;

/**
 * How TRL's GRPOTrainer gets its completions and whether it keeps a reference model: {@code beta} is the KL
 * coefficient (0, TRL's default since 2025: no reference model), {@code mode} where generation runs, and
 * {@code vllmMemoryUtilization} the share of the GPU a colocated vLLM engine takes (vllm_gpu_memory_utilization),
 * {@code sleepMode} whether that engine sleeps while the model trains (vllm_enable_sleep_mode: weights offloaded to the
 * host and the KV cache discarded after each generation), {@code stepsPerGeneration} the micro-batches one generation
 * feeds (steps_per_generation; 0: TRL's default, gradient_accumulation_steps) and {@code numIterations} how often each
 * generated batch is trained on (num_iterations, μ).
 */
public record RlGeneration(double beta, Mode mode, double vllmMemoryUtilization, boolean sleepMode,
                           int stepsPerGeneration, int numIterations) {

    /** Where the completions are generated. */
    public enum Mode implements Choice {
        /** use_vllm false: transformers generate inside the training process, on the training GPU. */
        TRANSFORMERS("transformers"),
        /** vllm_mode colocate: a vLLM engine in the training process takes a fixed share of every training GPU. */
        VLLM_COLOCATE("vllm-colocate"),
        /** vllm_mode server: a vLLM server on other GPUs; nothing on the training GPUs. */
        VLLM_SERVER("vllm-server");

        private final String key;

        Mode(String key) {
            this.key = key;
        }

        @Override
        public String key() {
            return key;
        }
    }

    public static final RlGeneration DEFAULT = new RlGeneration(0, Mode.TRANSFORMERS, 0.3, false, 0, 1);

    public RlGeneration {
        if (!(beta >= 0 && beta <= 100)) {
            throw new InvalidInputException("beta: expected a non-negative KL coefficient such as 0.04, got " + beta);
        }
        if (!(vllmMemoryUtilization > 0 && vllmMemoryUtilization < 1)) {
            throw new InvalidInputException("vllm_gpu_memory_utilization: expected a fraction in (0, 1), got "
                    + vllmMemoryUtilization);
        }
        if (stepsPerGeneration < 0 || numIterations < 1) {
            throw new InvalidInputException("steps_per_generation, num_iterations: expected positive integers");
        }
        if (sleepMode && mode != Mode.VLLM_COLOCATE) {
            throw new InvalidInputException("vllm_enable_sleep_mode: applies to vllm_mode colocate (the engine on the "
                    + "training GPUs)");
        }
    }

    /** Whether a colocated vLLM engine holds its share of the GPU while the model trains. */
    public boolean engineDuringTraining() {
        return mode == Mode.VLLM_COLOCATE && !sleepMode;
    }
}
