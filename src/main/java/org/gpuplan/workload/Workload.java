package org.gpuplan.workload;

import java.util.List;
import java.util.Optional;
import org.gpuplan.model.InvalidInputException;

/**
 * What the user runs and how: every workload key of the estimator, validated. File keys are the long flag names in
 * snake_case ({@code batch_size} ⇔ {@code --batch-size}). Built by {@link WorkloadParser}, which fills defaults.
 *
 * @param batchSize            per-GPU micro-batch; for inference the concurrent sequences
 * @param seqLen               training sequence length; for inference the context per sequence (prompt + output)
 * @param loraTargets          module names adapted by LoRA (e.g. q_proj, v_proj), or "all-linear"
 * @param useDora              PEFT's use_dora: DoRA adds a trainable magnitude per output feature and keeps two more
 *                             output-wide tensors per adapted Linear for backward
 * @param loraDropout          dropout on the adapters' input (PEFT lora_dropout, default 0): a mask and the dropped copy
 * @param modulesToSave        PEFT modules_to_save: embedding and/or LM head trained as full copies beside the adapters
 * @param gpuMemoryUtilization serving engines' memory budget as a fraction of the GPU's memory
 * @param maxNumBatchedTokens  engine token budget per step (0 = the engine's default)
 * @param maxNumSeqs           engine concurrent-sequence cap (0 = the engine's default)
 * @param kvLayout             the KV cache layout of an MLA model (latent, or per-head K and V without MLA support)
 * @param sampler              vLLM's top-k/top-p sampler (its profile run's largest tensor)
 * @param mxfp4Backend         vLLM's MXFP4 MoE kernel, which decides how the experts are padded
 * @param architecture         overrides the config's {@code architectures} class (e.g. an encoder's task head:
 *                             BertForSequenceClassification)
 * @param cudaContextBytes     overrides the CUDA context estimate (older CUDA without lazy module loading takes
 *                             about 1–1.3 GiB)
 * @param gradsToNone          zero_grad(set_to_none=True), PyTorch 2.x's default: gradients do not exist during the
 *                             next forward; false keeps zeroed gradients allocated (PyTorch 1.x Trainer behaviour)
 * @param paddedBatches        training batches of more than one sequence are padded (HF's collators pad to the
 *                             longest): transformers then passes a 4-D mask, so SDPA repeats K/V to all heads and
 *                             keeps the mask; false for packed or equal-length batches (no mask: SDPA runs causal with
 *                             native GQA)
 * @param activationOffloading torchtune's enable_activation_offloading: saved activations move to pinned host memory
 *                             during forward and come back just before their layer's backward
 * @param lossImpl             how the training loss is computed (eager, compiled, chunked, fused linear)
 * @param trainer              what the step optimizes, as TRL's trainers run it (sft, or a preference objective: dpo,
 *                             orpo, cpo)
 * @param precomputeRefLogProbs TRL's precompute_ref_log_probs: the reference log-probabilities are computed before
 *                             training, so no reference model runs in the step
 * @param parallelism          how the job is spread over GPUs ({@link Parallelism#SINGLE} for one GPU)
 * @param stateCache           how a serving engine keeps linear-attention states (dtype, SGLang slots)
 * @param loraSlots            vLLM's multi-LoRA serving slots (--enable-lora, --max-loras, --max-lora-rank)
 * @param rl                   TRL GRPO's generation and KL settings (beta, use_vllm, vllm_mode, ...)
 * @param vllmVersion          the vLLM release whose start-up behaviour to follow (empty: current vLLM)
 * @param kvCacheMemory        vLLM's --kv-cache-memory: the KV pool's bytes per GPU, given instead of derived from
 *                             gpu_memory_utilization (0: derived)
 */
public record Workload(String model, Task task, Method method, Framework framework, Optional<String> gpu,
                       Precision precision, OptimizerKind optimizer, boolean optimizerInBackward, int batchSize,
                       int seqLen, int promptLen, int outputLen, int gradAccum, Checkpointing checkpointing,
                       boolean activationOffloading,
                       AttentionImpl attention, LossImpl lossImpl, Trainer trainer, boolean precomputeRefLogProbs,
                       int loraRank, double loraAlpha, List<String> loraTargets,
                       boolean useDora, double loraDropout, List<String> modulesToSave, QuantFormat quant, boolean doubleQuant, KvDtype kvDtype, KvLayout kvLayout,
                       double gpuMemoryUtilization,
                       int maxNumBatchedTokens, int maxNumSeqs, Sampler sampler, Mxfp4Backend mxfp4Backend,
                       Optional<String> architecture,
                       Optional<Long> cudaContextBytes, boolean gradsToNone, boolean paddedBatches,
                       Parallelism parallelism,
                       PerfOptions perf, StateCache stateCache, GpuLayers gpuLayers, LoraSlots loraSlots,
                       long kvCacheMemory, RlGeneration rl, Optional<VllmVersion> vllmVersion) {

    public Workload {
        loraTargets = List.copyOf(loraTargets);
        modulesToSave = List.copyOf(modulesToSave);
        if (batchSize < 1 || seqLen < 1 || gradAccum < 1) {
            throw new InvalidInputException("batch_size, seq_len and grad_accum must be positive");
        }
        if (gpuMemoryUtilization <= 0 || gpuMemoryUtilization > 1) {
            throw new InvalidInputException("gpu_memory_utilization must be in (0, 1], got " + gpuMemoryUtilization);
        }
        if (task == Task.TRAIN && framework.servingOnly()) {
            throw new InvalidInputException("framework: " + framework.key() + " serves models; for --task train use "
                    + "hf, torchtune, fsdp, deepspeed or megatron");
        }
        if (activationOffloading && task == Task.INFER) {
            throw new InvalidInputException("activation_offloading: offloads the activations training saves for "
                    + "backward; it applies to --task train (inference keeps none)");
        }
        if (method != Method.FULL && task == Task.INFER) {
            throw new InvalidInputException("method: " + method.key() + " applies to --task train (for inference "
                    + "use --quant to load a quantized model)");
        }
        if (task == Task.TRAIN && method == Method.FULL && quant != QuantFormat.NONE) {
            throw new InvalidInputException("quant: full fine-tuning updates every weight, and " + quant.key()
                    + " weights cannot be trained (transformers refuses to fine-tune a purely quantized model); use "
                    + "--method qlora (nf4, fp4) or lora on the quantized base, or quant none (FP8 training: "
                    + "--float8-linear)");
        }
        // MXFP4 is a GGML type too: gpt-oss GGUFs keep their experts in it
        if (framework == Framework.LLAMA_CPP && quant != QuantFormat.NONE && !quant.isGguf()
                && quant != QuantFormat.MXFP4) {
            throw new InvalidInputException("quant: llama.cpp runs GGUF types (q4_0, q4_k_m, q5_k_m, q6_k, q8_0, "
                    + "mxfp4, ...), not " + quant.key() + "; or quant none for f16");
        }
        if (framework == Framework.TENSORRT_LLM && (quant.isBitsAndBytes4bit() || quant == QuantFormat.INT8
                || quant.isGguf())) {
            throw new InvalidInputException("quant: TensorRT-LLM does not load " + quant.key() + " weights (it "
                    + "builds fp8, int4 AWQ/GPTQ or int8 SmoothQuant engines); use fp8, awq-4bit or gptq-4bit");
        }
        if (framework == Framework.MEGATRON && task == Task.TRAIN && optimizer != OptimizerKind.ADAMW
                && optimizer != OptimizerKind.ADAMW_FUSED && optimizer != OptimizerKind.SGD
                && optimizer != OptimizerKind.SGD_MOMENTUM) {
            throw new InvalidInputException("optimizer: Megatron-LM offers adam (AdamW with weight decay) and sgd, not "
                    + optimizer.key() + " (accepted with --framework megatron: adamw, adamw-fused, sgd, sgd-momentum)");
        }
        if (trainer != Trainer.SFT && (task != Task.TRAIN || framework != Framework.HF)) {
            throw new InvalidInputException("trainer: " + trainer.key() + " is a TRL trainer; it applies to --task "
                    + "train with --framework hf (transformers/TRL)");
        }
        if (gpuLayers.llamacppBuild() > 0 && framework != Framework.LLAMA_CPP) {
            throw new InvalidInputException("llamacpp_build: applies to --framework llama.cpp");
        }
        if (vllmVersion.isPresent() && framework != Framework.VLLM) {
            throw new InvalidInputException("vllm_version: applies to --framework vllm");
        }
        if (!rl.equals(RlGeneration.DEFAULT) && trainer != Trainer.GRPO) {
            throw new InvalidInputException("beta, use_vllm, vllm_mode, vllm_gpu_memory_utilization, vllm_enable_sleep_mode, "
                    + "steps_per_generation, num_iterations: TRL GRPOTrainer "
                    + "settings; they apply to --trainer grpo");
        }
        if (trainer == Trainer.GRPO && rl.beta() > 0 && method == Method.FULL && !parallelism.single()) {
            throw new InvalidInputException("beta: GRPO's reference model (beta > 0) is modelled on one GPU for full "
                    + "fine-tuning; give beta 0 (TRL's default) or train LoRA across GPUs");
        }
        if (precomputeRefLogProbs && !trainer.reference()) {
            throw new InvalidInputException("precompute_ref_log_probs: applies to trainers with a reference model "
                    + "(dpo)");
        }
        if (trainer.reference() && !precomputeRefLogProbs && method == Method.FULL && !parallelism.single()) {
            throw new InvalidInputException("trainer: dpo with a separate reference model is modelled on one GPU; "
                    + "across GPUs give precompute_ref_log_probs true (or train LoRA, whose reference is the base "
                    + "with the adapters disabled)");
        }
        if (kvCacheMemory < 0 || kvCacheMemory > 0 && (task != Task.INFER || framework != Framework.VLLM)) {
            throw new InvalidInputException("kv_cache_memory: vLLM's --kv-cache-memory (bytes of KV pool per GPU) "
                    + "applies to --task infer with --framework vllm");
        }
        if (loraSlots.enabled() && (task != Task.INFER || framework != Framework.VLLM)) {
            throw new InvalidInputException("enable_lora: vLLM's multi-LoRA serving applies to --task infer with "
                    + "--framework vllm (training LoRA: --method lora)");
        }
        if (mxfp4Backend != Mxfp4Backend.AUTO && (framework != Framework.VLLM || task != Task.INFER)) {
            throw new InvalidInputException("mxfp4_backend: vLLM's MXFP4 MoE kernel choice applies to --framework vllm "
                    + "--task infer");
        }
        if (perf.liger() && task != Task.TRAIN) {
            throw new InvalidInputException("use_liger_kernel: Liger's kernels patch training (transformers/TRL "
                    + "use_liger_kernel); it applies to --task train");
        }
        if (perf.enforceEager() && task != Task.INFER) {
            throw new InvalidInputException("enforce_eager: serving engines' switch off CUDA graphs (vLLM "
                    + "--enforce-eager, SGLang --disable-cuda-graph); it applies to --task infer");
        }
        if (gpuLayers.cpuOffloadGib() > 0 && (task != Task.INFER || (framework != Framework.VLLM
                && framework != Framework.SGLANG))) {
            throw new InvalidInputException("cpu_offload_gb: vLLM's and SGLang's --cpu-offload-gb (weights read from "
                    + "host memory in every forward) applies to --task infer with --framework vllm or sglang; "
                    + "llama.cpp: n_gpu_layers; training: offload_params");
        }
        if (gpuLayers.llamaCppPlacement() && (framework != Framework.LLAMA_CPP || task != Task.INFER)) {
            throw new InvalidInputException("n_gpu_layers: llama.cpp's -ngl (layers on the GPU, the rest in host "
                    + "memory) and op_offload apply to --framework llama.cpp --task infer; other frameworks keep every "
                    + "layer on the GPU (see offload_params for DeepSpeed and FSDP training)");
        }
        if (useDora && method == Method.FULL) {
            throw new InvalidInputException("use_dora: DoRA is a LoRA variant (PEFT LoraConfig(use_dora=True)); give "
                    + "--method lora or qlora (or --method dora / qdora)");
        }
        if (!(loraDropout >= 0 && loraDropout < 1)) {
            throw new InvalidInputException("lora_dropout: expected a probability in [0, 1), got " + loraDropout);
        }
        if (!modulesToSave.isEmpty() && method == Method.FULL) {
            throw new InvalidInputException("modules_to_save: PEFT trains these modules beside the adapters of --method "
                    + "lora or qlora; full fine-tuning trains them anyway");
        }
        if (!modulesToSave.isEmpty() && (framework == Framework.TORCHTUNE || framework == Framework.MEGATRON)) {
            throw new InvalidInputException("modules_to_save: a PEFT setting (hf, fsdp and deepspeed frameworks); "
                    + "torchtune adapts the output layer with lora_targets output instead");
        }
        if (!modulesToSave.isEmpty() && parallelism.gpus() > 1) {
            throw new InvalidInputException("modules_to_save: modelled on one GPU (gpus 1); across GPUs the copies "
                    + "are sharded with the adapters, which is not modelled yet");
        }
        if (loraDropout > 0 && method == Method.FULL) {
            throw new InvalidInputException("lora_dropout: applies to the adapters of --method lora or qlora");
        }
        if (method == Method.QLORA && !(quant.isBitsAndBytes4bit())) {
            throw new InvalidInputException("quant: qlora trains on a bitsandbytes 4-bit base (accepted with "
                    + "--method qlora: nf4, fp4), got " + quant.key());
        }
    }

    /** llama.cpp's -ngl: layers on the GPU, {@link GpuLayers#ALL} for all and the output layer. */
    public int nGpuLayers() {
        return gpuLayers.count();
    }

    /** llama.cpp keeps some layers in host memory (-ngl below the layer count + 1). */
    public boolean partialOffload(int layers) {
        return gpuLayers.partial(layers);
    }

    /** Prompt tokens per request: prompt_len, or half of seq_len when only the context is given. */
    public int promptTokens() {
        return promptLen > 0 ? promptLen : Math.max(1, seqLen / 2);
    }

    /** Output tokens per request: output_len, or the rest of seq_len after the prompt. */
    public int outputTokens() {
        return outputLen > 0 ? outputLen : Math.max(1, seqLen - promptTokens());
    }

    /** The same workload at another precision (sharded frameworks compute in 16-bit parameters). */
    public Workload withPrecision(Precision p) {
        return new Workload(model, task, method, framework, gpu, p, optimizer, optimizerInBackward, batchSize, seqLen,
                promptLen, outputLen, gradAccum, checkpointing, activationOffloading, attention, lossImpl, trainer, precomputeRefLogProbs, loraRank, loraAlpha, loraTargets, useDora, loraDropout, modulesToSave, quant,
                doubleQuant, kvDtype, kvLayout, gpuMemoryUtilization, maxNumBatchedTokens, maxNumSeqs, sampler, mxfp4Backend, architecture,
                cudaContextBytes, gradsToNone, paddedBatches, parallelism, perf, stateCache, gpuLayers, loraSlots, kvCacheMemory, rl, vllmVersion);
    }

    /** The same workload with another method (the activations of QLoRA under FSDP follow LoRA's 16-bit stream). */
    public Workload withMethod(Method m) {
        return new Workload(model, task, m, framework, gpu, precision, optimizer, optimizerInBackward, batchSize,
                seqLen, promptLen, outputLen, gradAccum, checkpointing, activationOffloading, attention, lossImpl, trainer, precomputeRefLogProbs, loraRank, loraAlpha, loraTargets,
                useDora && m != Method.FULL, m == Method.FULL ? 0 : loraDropout,
                m == Method.FULL ? List.of() : modulesToSave, m == Method.QLORA ? quant : QuantFormat.NONE, doubleQuant, kvDtype, kvLayout, gpuMemoryUtilization,
                maxNumBatchedTokens, maxNumSeqs, sampler, mxfp4Backend, architecture, cudaContextBytes, gradsToNone, paddedBatches, parallelism, perf, stateCache, gpuLayers, loraSlots, kvCacheMemory, rl, vllmVersion);
    }

    /**
     * The same workload without Liger's kernels (a model type Liger does not patch): the loss Liger would have chosen
     * goes back to the default.
     */
    public Workload withoutLiger() {
        PerfOptions p = new PerfOptions(perf.trainTokens(), perf.maxBatch(), perf.compile(), perf.float8Linear(),
                perf.tpCommOverlap(), perf.matmulEfficiency(), perf.memoryEfficiency(), perf.commEfficiency(),
                perf.hostOverheadUs(), perf.enforceEager(), false, perf.expandableSegments());
        LossImpl loss = lossImpl == LossImpl.FUSED_LINEAR ? (perf.compile() ? LossImpl.COMPILED
                : trainer.paired() ? LossImpl.ROWWISE : LossImpl.EAGER) : lossImpl;
        return new Workload(model, task, method, framework, gpu, precision, optimizer, optimizerInBackward, batchSize,
                seqLen, promptLen, outputLen, gradAccum, checkpointing, activationOffloading, attention, loss, trainer,
                precomputeRefLogProbs, loraRank, loraAlpha, loraTargets, useDora, loraDropout, modulesToSave, quant,
                doubleQuant, kvDtype, kvLayout, gpuMemoryUtilization, maxNumBatchedTokens, maxNumSeqs, sampler,
                mxfp4Backend, architecture, cudaContextBytes, gradsToNone, paddedBatches, parallelism, p, stateCache, gpuLayers,
                loraSlots, kvCacheMemory, rl, vllmVersion);
    }

    /** The same workload at another batch size (serving at the pool's maximum concurrency). */
    public Workload withBatchSize(int b) {
        return new Workload(model, task, method, framework, gpu, precision, optimizer, optimizerInBackward, b, seqLen,
                promptLen, outputLen, gradAccum, checkpointing, activationOffloading, attention, lossImpl, trainer, precomputeRefLogProbs, loraRank, loraAlpha, loraTargets, useDora, loraDropout, modulesToSave, quant,
                doubleQuant, kvDtype, kvLayout, gpuMemoryUtilization, maxNumBatchedTokens, maxNumSeqs, sampler, mxfp4Backend, architecture,
                cudaContextBytes, gradsToNone, paddedBatches, parallelism, perf, stateCache, gpuLayers, loraSlots, kvCacheMemory, rl, vllmVersion);
    }

    /** The same workload with a training layout's sizes, sharding, micro-batch and checkpointing (validated). */
    public Workload withLayout(TrainingLayout l) {
        Parallelism p = new Parallelism(l.gpus, l.nodes, l.zero, l.fsdp, l.tp, l.pp, l.virtualPp, l.ppSchedule, l.cp,
                l.ep, l.sequenceParallel, l.offloadOptimizer, l.offloadParams, l.globalBatchSize,
                parallelism.attentionDp());
        return new Workload(model, task, method, framework, gpu, precision, optimizer, optimizerInBackward,
                l.batchSize, seqLen, promptLen, outputLen, l.gradAccum, l.checkpointing, activationOffloading, attention, lossImpl, trainer, precomputeRefLogProbs, loraRank,
                loraAlpha, loraTargets, useDora, loraDropout, modulesToSave, quant, doubleQuant, kvDtype, kvLayout, gpuMemoryUtilization,
                maxNumBatchedTokens,
                maxNumSeqs, sampler, mxfp4Backend, architecture, cudaContextBytes, gradsToNone, paddedBatches, p, perf, stateCache, gpuLayers, loraSlots, kvCacheMemory, rl, vllmVersion);
    }

    public boolean training() {
        return task == Task.TRAIN;
    }

    /** Whether a training micro-batch carries a padding mask: more than one sequence, padded (the default). */
    public boolean paddingMask() {
        return batchSize > 1 && paddedBatches;
    }

    /**
     * Whether a frozen reference model's log-probabilities are computed in the step: DPO's (unless precomputed), and
     * GRPO's when its KL coefficient beta is above 0.
     */
    public boolean referenceForward() {
        return (trainer.reference() || trainer == Trainer.GRPO && rl.beta() > 0) && !precomputeRefLogProbs;
    }

    /**
     * The sequences a step runs per micro-batch: a preference objective's chosen and rejected completions are
     * concatenated into one batch of 2·batch_size (TRL's concatenated_forward).
     */
    public Workload sequences() {
        if (!trainer.paired()) {
            return this;
        }
        // the expanded batch is a plain next-token batch, so that expanding twice is impossible
        return new Workload(model, task, method, framework, gpu, precision, optimizer, optimizerInBackward,
                2 * batchSize, seqLen, promptLen, outputLen, gradAccum, checkpointing, activationOffloading, attention,
                lossImpl, Trainer.SFT, false, loraRank, loraAlpha, loraTargets, useDora, loraDropout, modulesToSave,
                quant, doubleQuant, kvDtype, kvLayout, gpuMemoryUtilization, maxNumBatchedTokens, maxNumSeqs, sampler,
                mxfp4Backend, architecture, cudaContextBytes, gradsToNone, paddedBatches, parallelism, perf, stateCache, gpuLayers, loraSlots, kvCacheMemory, rl, vllmVersion);
    }

    /** Tokens per micro-batch, b·s. */
    public long tokens() {
        return (long) batchSize * seqLen;
    }

    /**
     * Tokens per micro-batch that go through the LM head and the loss: b·s, except for GRPO, whose per-token
     * log-probabilities cover the completion only (GRPOTrainer passes logits_to_keep = completion length), b·output.
     */
    public long logitTokens() {
        return trainer == Trainer.GRPO && task == Task.TRAIN ? (long) batchSize * outputLen : tokens();
    }

    /**
     * Completions generated at once: GRPO generates a whole generation batch, per_device_train_batch_size ×
     * steps_per_generation (TRL's default: gradient_accumulation_steps), before the micro-steps that train on it.
     */
    public long generationBatch() {
        return (long) batchSize * stepsPerGeneration();
    }

    /** A GRPO sequence's prompt tokens: prompt_len, or what seq_len leaves beside the completion (at least one). */
    public int generationPrompt() {
        return Math.max(1, promptLen > 0 ? promptLen : seqLen - outputLen);
    }

    /** The micro-batches one GRPO generation feeds: steps_per_generation, by default gradient_accumulation_steps. */
    public int stepsPerGeneration() {
        return rl.stepsPerGeneration() > 0 ? rl.stepsPerGeneration() : gradAccum;
    }

    /**
     * GRPO generations per optimizer step: one every steps_per_generation × num_iterations micro-batches (TRL's
     * generate_every), over the step's gradient_accumulation_steps micro-batches.
     */
    public double generationsPerStep() {
        return gradAccum / (double) (stepsPerGeneration() * rl.numIterations());
    }
}
