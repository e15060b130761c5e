package org.gpuplan.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.gpuplan.estimate.Job;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.workload.AccelerateConfig;
import org.gpuplan.workload.PeftConfig;
import org.gpuplan.workload.DeepSpeedConfig;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The workload flags shared by {@code estimate}, {@code plan} and {@code fit}: the MODEL and every workload key. */
final class WorkloadOptions {

    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "Model id, config.json, folder, "
            + ".safetensors or .gguf (or 'model' in the workload file).")
    String model;

    @Option(names = "--model", paramLabel = "MODEL", description = "Same as MODEL (the workload key's flag).")
    String modelFlag;

    @Option(names = "--workload", paramLabel = "FILE", description = "Workload file (JSON or YAML).")
    Path workloadFile;

    @Option(names = {"--deepspeed", "--deepspeed-config", "--deepspeed_config"}, paramLabel = "FILE",
            description = "DeepSpeed config (ds_config.json): its ZeRO stage, offload, batch sizes, precision and "
                    + "optimizer become workload keys (framework deepspeed); keys given both ways must agree.")
    Path deepspeedFile;

    @Option(names = {"--accelerate-config", "--accelerate_config"}, paramLabel = "FILE",
            description = "accelerate config (accelerate launch --config_file): distributed type, processes, "
                    + "machines, mixed precision and the FSDP/DeepSpeed plugin become workload keys.")
    Path accelerateFile;

    @Option(names = {"--peft-config", "--adapter-config"}, paramLabel = "FILE",
            description = "PEFT LoRA config (adapter_config.json): r, lora_alpha, target_modules, lora_dropout, "
                    + "use_dora, modules_to_save and the base model become workload keys (method lora unless given).")
    Path peftFile;


    @Option(names = "--online", description = "Allow downloading config.json from the HuggingFace Hub.")
    boolean online;

    @Option(names = "--task", description = "train | infer (serve = infer)") String task;
    @Option(names = "--method", description = "full | lora | qlora | dora | qdora") String method;
    @Option(names = "--framework", description = "hf, torchtune, fsdp, deepspeed, megatron, vllm, sglang, "
            + "tensorrt-llm, llama.cpp (also transformers, peft, trl, torchtitan, megatron-lm, nemo, trtllm, ollama)")
    String framework;
    @Option(names = "--gpu", description = "GPU from the catalog, e.g. H100-SXM-80GB, A100-SXM-80GB, L40S, RTX-4090")
    String gpu;
    @Option(names = "--precision", description = "fp32 | fp16-mixed | bf16-mixed | bf16 | fp16") String precision;
    @Option(names = "--optimizer", description = "adamw, adamw-fused, adamw-hf, adamw-8bit, paged-adamw-8bit, "
            + "paged-adamw, adamw-4bit, adafactor, sgd, sgd-momentum, lion, lion-8bit (and Trainer's optim names)")
    String optimizer;
    @Option(names = "--optimizer-in-backward", arity = "0..1", fallbackValue = "true") String optimizerInBackward;
    @Option(names = {"--batch-size", "--per-device-train-batch-size", "--micro-batch-size"}, description = "Per-GPU micro-batch (inference: concurrent sequences)")
    String batchSize;
    @Option(names = {"--seq-len", "--max-model-len", "--max-seq-length", "--context-length", "--ctx-size", "-c"}, description = "Tokens per sequence (inference: context; with llama.cpp's --parallel the total its slots share)") String seqLen;
    @Option(names = {"--prompt-len", "--max-prompt-length"}, description = "Prompt tokens (TRL GRPO: "
            + "max_prompt_length)") String promptLen;
    @Option(names = {"--output-len", "--max-completion-length"}, description = "Output tokens (TRL GRPO: "
            + "max_completion_length)") String outputLen;
    @Option(names = {"--grad-accum", "--gradient-accumulation-steps"}) String gradAccum;
    @Option(names = {"--checkpointing", "--recompute-granularity"}, description = "none | full | selective") String checkpointing;
    @Option(names = "--gradient-checkpointing", arity = "0..1", fallbackValue = "true",
            description = "transformers' flag: true = --checkpointing full") String gradientCheckpointing;
    @Option(names = {"--activation-offloading", "--enable-activation-offloading"}, arity = "0..1",
            fallbackValue = "true", description = "torchtune: saved activations wait in pinned host memory")
    String activationOffloading;
    @Option(names = "--padded-batches", arity = "0..1", fallbackValue = "true", description = "Training batches of "
            + "more than one sequence are padded, so SDPA gets a 4-D mask (default true); false for packed or "
            + "equal-length batches") String paddedBatches;
    // shorter names other tools use; hidden so that the usage line shows ours
    @Option(names = {"--dtype", "--torch-dtype"}, hidden = true) String dtype;
    // transformers/axolotl: load_in_4bit (bitsandbytes NF4) and load_in_8bit (LLM.int8) choose the quant format
    @Option(names = "--load-in-4bit", arity = "0..1", fallbackValue = "true", hidden = true) String loadIn4bit;
    @Option(names = "--load-in-8bit", arity = "0..1", fallbackValue = "true", hidden = true) String loadIn8bit;
    @Option(names = "--optim", hidden = true) String optim;
    // transformers' TrainingArguments --bf16 / --fp16: the 16-bit type of mixed precision
    @Option(names = "--bf16", arity = "0..1", fallbackValue = "true", hidden = true) String bf16;
    @Option(names = "--fp16", arity = "0..1", fallbackValue = "true", hidden = true) String fp16;
    @Option(names = "--lora-r", hidden = true) String loraR;
    @Option(names = {"--attention", "--attn-implementation"}, description = "eager | sdpa | flash") String attention;
    @Option(names = "--loss-impl", description = "Training loss: eager | compiled (default with --compile) | chunked "
            + "(torchtune) | fused-linear (Liger)") String lossImpl;
    @Option(names = "--lora-rank") String loraRank;
    @Option(names = "--lora-alpha") String loraAlpha;
    @Option(names = {"--lora-targets", "--target-modules"}, description = "Comma-separated module names, or all-linear") String loraTargets;
    @Option(names = {"--use-liger-kernel", "--liger"}, arity = "0..1", fallbackValue = "true", description = "Liger "
            + "kernels (transformers/TRL use_liger_kernel): fused RMSNorm, SwiGLU, RoPE and linear cross-entropy")
    String useLigerKernel;
    @Option(names = "--mxfp4-backend", description = "vLLM's MXFP4 MoE kernel (gpt-oss): auto (Marlin before "
            + "Hopper, triton on Hopper, FlashInfer on Blackwell), marlin (VLLM_MXFP4_USE_MARLIN=1), triton, flashinfer")
    String mxfp4Backend;
    @Option(names = "--trainer", description = "sft (default) | dpo | orpo | cpo | grpo (TRL trainers: the "
            + "preference ones run chosen + rejected sequences; dpo also a reference model; grpo generates completions "
            + "first)") String trainer;
    @Option(names = "--vllm-version", description = "the vLLM release to follow (e.g. 0.6.3): before 0.8 the V0 "
            + "engine's defaults (max_num_seqs 256, max_num_batched_tokens, PyTorch sampler); 0.2.5-0.6.3 measured the "
            + "whole device in the start-up profile; default: current vLLM") String vllmVersion;
    @Option(names = "--beta", description = "TRL GRPO's KL coefficient (default 0: no reference model)") String beta;
    @Option(names = "--use-vllm", arity = "0..1", fallbackValue = "true", description = "TRL GRPO: generate with "
            + "vLLM instead of transformers generate") String useVllm;
    @Option(names = "--vllm-mode", description = "TRL GRPO with vLLM: colocate (default: an engine in the training "
            + "process) | server (trl vllm-serve on other GPUs)") String vllmMode;
    @Option(names = "--vllm-gpu-memory-utilization", description = "TRL GRPO colocate: the engine's share of each "
            + "GPU (default 0.3)") String vllmGpuMemoryUtilization;
    @Option(names = "--steps-per-generation", description = "TRL GRPO: micro-batches one generation feeds (default "
            + "gradient_accumulation_steps)") String stepsPerGeneration;
    @Option(names = "--num-iterations", description = "TRL GRPO: times each generated batch is trained on (μ, "
            + "default 1)") String numIterations;
    @Option(names = "--vllm-enable-sleep-mode", arity = "0..1", fallbackValue = "true", description = "TRL GRPO "
            + "colocate: the engine sleeps while the model trains") String vllmEnableSleepMode;
    @Option(names = "--precompute-ref-log-probs", arity = "0..1", fallbackValue = "true", description = "TRL "
            + "DPOConfig: reference log-probabilities computed before training (no reference model in the step)")
    String precomputeRefLogProbs;
    @Option(names = "--kv-cache-memory", description = "vLLM: the KV pool's bytes per GPU (e.g. 20GiB), instead of "
            + "deriving it from --gpu-memory-utilization") String kvCacheMemory;
    @Option(names = "--enable-lora", arity = "0..1", fallbackValue = "true", description = "vLLM multi-LoRA "
            + "serving: adapter slots pre-allocated in every LoRA-capable layer") String enableLora;
    @Option(names = "--max-loras", description = "vLLM: adapters in one batch (default 1)") String maxLoras;
    @Option(names = "--max-lora-rank", description = "vLLM: the largest adapter rank (default 16)") String maxLoraRank;
    @Option(names = "--use-dora", arity = "0..1", fallbackValue = "true", description = "DoRA (PEFT use_dora): a "
            + "magnitude vector per adapted Linear; also --method dora / qdora") String useDora;
    @Option(names = {"--modules-to-save", "--lora-modules-to-save"}, description = "PEFT modules_to_save: "
            + "embed_tokens and/or lm_head trained as full copies beside the adapters") String modulesToSave;
    @Option(names = "--lora-dropout", description = "Dropout on the adapters' input (PEFT lora_dropout, default 0)")
    String loraDropout;
    @Option(names = {"--quant", "--quantization"}, description = "none, int8, nf4, fp4, gptq-4bit, awq-4bit, fp8, q4_0, q4_k_m, q8_0, …")
    String quant;
    @Option(names = "--double-quant", arity = "0..1", fallbackValue = "true") String doubleQuant;
    @Option(names = {"--kv-dtype", "--kv-cache-dtype"}, description = "auto, fp16, bf16, fp8, int8, q8_0, q4_0") String kvDtype;
    @Option(names = "--kv-layout", description = "MLA models' KV cache: auto | latent | latent+v (llama.cpp "
            + "2025) | per-head (no MLA support: old vLLM, GGUFs converted before MLA)") String kvLayout;
    @Option(names = {"--gpu-memory-utilization", "--mem-fraction-static", "--free-gpu-memory-fraction"},
            description = "Serving engines' memory fraction (vLLM, SGLang --mem-fraction-static, TensorRT-LLM "
                    + "free_gpu_memory_fraction)") String gpuMemoryUtilization;
    @Option(names = {"--max-num-batched-tokens", "--ubatch-size"}, description = "Tokens per engine step (vLLM, "
            + "SGLang); llama.cpp: n_ubatch (-ub)") String maxNumBatchedTokens;
    @Option(names = {"--max-num-seqs", "--max-running-requests"}) String maxNumSeqs;
    @Option(names = {"--n-gpu-layers", "-ngl", "--gpu-layers"}, description = "llama.cpp: layers on the GPU (the last "
            + "ones; one more than the layer count puts the output layer there too); the rest stay in host memory "
            + "(default: all)") String nGpuLayers;
    @Option(names = "--op-offload", arity = "0..1", fallbackValue = "true", description = "llama.cpp: batched "
            + "matmuls of host-resident weights run on the GPU, the weight copied over (default true; builds before "
            + "mid-2025 and --no-op-offload: false)") String opOffload;
    @Option(names = "--no-op-offload", hidden = true) boolean noOpOffload;
    @Option(names = "--llamacpp-build", description = "llama.cpp: the build to follow (b5781 or 5781, as llama-cli "
            + "--version prints it) for its compute graph; default: the graph of b5782-b9409") String llamacppBuild;
    @Option(names = {"--n-cpu-moe", "-ncmoe"}, description = "llama.cpp: keep the routed experts of the first N "
            + "layers in host memory ('all' = --cpu-moe)") String nCpuMoe;
    @Option(names = "--cpu-moe", hidden = true) boolean cpuMoe;
    @Option(names = "--cpu-offload-gb", description = "vLLM/SGLang: GiB of each GPU's weights kept in host memory "
            + "and read over the host link in every forward") String cpuOffloadGb;
    @Option(names = "--expandable-segments", arity = "0..1", fallbackValue = "true", description = "PyTorch's "
            + "allocator with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (one growing segment per pool)")
    String expandableSegments;
    @Option(names = "--pytorch-cuda-alloc-conf", description = "PyTorch's allocator settings as "
            + "PYTORCH_CUDA_ALLOC_CONF spells them (expandable_segments:True is read)") String pytorchCudaAllocConf;
    @Option(names = {"--enforce-eager", "--disable-cuda-graph"}, arity = "0..1", fallbackValue = "true",
            description = "Serving without CUDA graphs (vLLM --enforce-eager, SGLang --disable-cuda-graph)")
    String enforceEager;
    @Option(names = {"--parallel", "-np"}, description = "llama.cpp: slots sharing the context (--ctx-size is then "
            + "the total, each slot holds ctx-size / parallel tokens)") String nParallel;
    @Option(names = {"--mamba-ssm-dtype", "--mamba-ssm-cache-dtype"}, description = "Serving: dtype of linear-"
            + "attention states: auto | float32 | bfloat16 | float16") String mambaSsmDtype;
    @Option(names = "--max-mamba-cache-size", description = "SGLang: linear-attention state slots (default: its "
            + "memory split)") String maxMambaCacheSize;
    @Option(names = "--disable-radix-cache", arity = "0..1", fallbackValue = "true", description = "SGLang: no "
            + "prefix cache (one state slot per running request instead of three)") String disableRadixCache;
    @Option(names = "--sampler", description = "vLLM top-k/top-p sampler: flashinfer (V1 default) | torch "
            + "(VLLM_USE_FLASHINFER_SAMPLER=0, no FlashInfer, or the V0 engine)") String sampler;
    @Option(names = "--architecture", description = "Override the config's architectures class (e.g. "
            + "BertForSequenceClassification)") String architecture;
    @Option(names = "--gpus") String gpus;
    @Option(names = "--nodes") String nodes;
    @Option(names = {"--zero", "--zero-stage"}) String zero;
    @Option(names = "--fsdp") String fsdp;
    @Option(names = {"--tp", "--tensor-parallel-size", "--tp-size", "--tensor-model-parallel-size"}) String tp;
    @Option(names = {"--pp", "--pipeline-parallel-size", "--pp-size", "--pipeline-model-parallel-size"}) String pp;
    @Option(names = "--virtual-pp") String virtualPp;
    @Option(names = "--pp-schedule", description = "1f1b | interleaved | gpipe") String ppSchedule;
    @Option(names = {"--cp", "--context-parallel-size"}) String cp;
    @Option(names = {"--ep", "--expert-model-parallel-size", "--ep-size"}) String ep;
    @Option(names = "--sequence-parallel", arity = "0..1", fallbackValue = "true") String sequenceParallel;
    @Option(names = "--offload-optimizer") String offloadOptimizer;
    @Option(names = "--offload-params") String offloadParams;
    @Option(names = "--global-batch-size") String globalBatchSize;
    @Option(names = "--attention-dp", arity = "0..1", fallbackValue = "true",
            description = "Serving: data-parallel attention for MLA models (SGLang --enable-dp-attention)")
    String attentionDp;
    @Option(names = "--tokens", description = "Training tokens for the whole run (e.g. 20e9): time and GPU-hours")
    String tokens;
    @Option(names = "--compile", arity = "0..1", fallbackValue = "true",
            description = "torch.compile (fused elementwise kernels; CUDA graphs for decode)") String compile;
    @Option(names = "--float8-linear", arity = "0..1", fallbackValue = "true",
            description = "Train linears in FP8 (torchao Float8Linear, Transformer Engine)") String float8Linear;
    @Option(names = "--tp-comm-overlap", arity = "0..1", fallbackValue = "true",
            description = "Overlap tensor-parallel communication with GEMMs (Megatron, async TP)") String tpCommOverlap;
    @Option(names = "--matmul-efficiency", description = "Override the GPU's matmul ceiling (fraction of peak)")
    String matmulEfficiency;
    @Option(names = "--memory-efficiency", description = "Override the achievable fraction of memory bandwidth")
    String memoryEfficiency;
    @Option(names = "--comm-efficiency", description = "Override the achievable fraction of link bandwidth")
    String commEfficiency;
    @Option(names = "--host-overhead-us", description = "Host time to issue one kernel in eager PyTorch, in "
            + "microseconds (default 20; 0 ignores the host)") String hostOverheadUs;
    @Option(names = "--gpu-file", paramLabel = "CSV", description = "Add or override GPUs (same columns as "
            + "'gpuplan gpus' reads; name, memory_gb, memory_bandwidth_tbs, bf16_dense_tflops required)")
    Path gpuFile;


    /** The raw workload keys: the file's, then the flags given (flags win). */
    Map<String, String> raw() {
        Map<String, String> raw = new LinkedHashMap<>();
        if (workloadFile != null) {
            raw.putAll(WorkloadParser.readFile(workloadFile));
        }
        Map<String, String> flags = new LinkedHashMap<>();
        if (model != null && modelFlag != null && !model.equals(modelFlag)) {
            throw new InvalidInputException("model: given twice ('" + model + "' and --model '" + modelFlag
                    + "'); give one");
        }
        flags.put("model", model != null ? model : modelFlag);
        flags.put("task", task);
        flags.put("method", method);
        flags.put("framework", framework);
        flags.put("gpu", gpu);
        flags.put("precision", precision != null ? precision : dtype);
        flags.put("optimizer", optimizer != null ? optimizer : optim);
        flags.put("optimizer_in_backward", optimizerInBackward);
        flags.put("batch_size", batchSize);
        flags.put("seq_len", seqLen);
        flags.put("prompt_len", promptLen);
        flags.put("output_len", outputLen);
        flags.put("grad_accum", gradAccum);
        flags.put("checkpointing", checkpointing != null ? checkpointing : gradientCheckpointing);
        flags.put("activation_offloading", activationOffloading);
        flags.put("padded_batches", paddedBatches);
        flags.put("attention", attention);
        flags.put("loss_impl", lossImpl);
        flags.put("lora_rank", loraRank != null ? loraRank : loraR);
        flags.put("lora_alpha", loraAlpha);
        flags.put("lora_targets", loraTargets);
        flags.put("use_dora", useDora);
        flags.put("enable_lora", enableLora);
        flags.put("kv_cache_memory", kvCacheMemory);
        flags.put("max_loras", maxLoras);
        flags.put("max_lora_rank", maxLoraRank);
        flags.put("trainer", trainer);
        flags.put("precompute_ref_log_probs", precomputeRefLogProbs);
        flags.put("vllm_version", vllmVersion);
        flags.put("beta", beta);
        flags.put("use_vllm", useVllm);
        flags.put("vllm_mode", vllmMode);
        flags.put("vllm_gpu_memory_utilization", vllmGpuMemoryUtilization);
        flags.put("vllm_enable_sleep_mode", vllmEnableSleepMode);
        flags.put("steps_per_generation", stepsPerGeneration);
        flags.put("num_iterations", numIterations);
        flags.put("mxfp4_backend", mxfp4Backend);
        flags.put("use_liger_kernel", useLigerKernel);
        flags.put("lora_dropout", loraDropout);
        flags.put("modules_to_save", modulesToSave);
        flags.put("quant", quant);
        flags.put("load_in_4bit", loadIn4bit);
        flags.put("load_in_8bit", loadIn8bit);
        flags.put("bf16", bf16);
        flags.put("fp16", fp16);
        flags.put("double_quant", doubleQuant);
        flags.put("kv_dtype", kvDtype);
        flags.put("kv_layout", kvLayout);
        flags.put("gpu_memory_utilization", gpuMemoryUtilization);
        flags.put("max_num_batched_tokens", maxNumBatchedTokens);
        flags.put("max_num_seqs", maxNumSeqs);
        flags.put("n_gpu_layers", nGpuLayers);
        flags.put("op_offload", noOpOffload ? "false" : opOffload);
        flags.put("llamacpp_build", llamacppBuild);
        flags.put("n_cpu_moe", cpuMoe ? "all" : nCpuMoe);
        flags.put("n_parallel", nParallel);
        flags.put("enforce_eager", enforceEager);
        flags.put("expandable_segments", expandableSegments);
        flags.put("pytorch_cuda_alloc_conf", pytorchCudaAllocConf);
        flags.put("cpu_offload_gb", cpuOffloadGb);
        flags.put("mamba_ssm_dtype", mambaSsmDtype);
        flags.put("max_mamba_cache_size", maxMambaCacheSize);
        flags.put("disable_radix_cache", disableRadixCache);
        flags.put("sampler", sampler);
        flags.put("architecture", architecture);
        flags.put("gpus", gpus);
        flags.put("nodes", nodes);
        flags.put("zero", zero);
        flags.put("fsdp", fsdp);
        flags.put("tp", tp);
        flags.put("pp", pp);
        flags.put("virtual_pp", virtualPp);
        flags.put("pp_schedule", ppSchedule);
        flags.put("cp", cp);
        flags.put("ep", ep);
        flags.put("sequence_parallel", sequenceParallel);
        flags.put("offload_optimizer", offloadOptimizer);
        flags.put("offload_params", offloadParams);
        flags.put("global_batch_size", globalBatchSize);
        flags.put("attention_dp", attentionDp);
        flags.put("tokens", tokens);
        flags.put("compile", compile);
        flags.put("float8_linear", float8Linear);
        flags.put("tp_comm_overlap", tpCommOverlap);
        flags.put("matmul_efficiency", matmulEfficiency);
        flags.put("memory_efficiency", memoryEfficiency);
        flags.put("comm_efficiency", commEfficiency);
        flags.put("host_overhead_us", hostOverheadUs);
        flags.forEach((k, v) -> {
            if (v != null) {
                raw.put(k, v);
            }
        });
        Map<String, String> keys = raw;
        if (accelerateFile != null) {
            keys = AccelerateConfig.merge(AccelerateConfig.keys(AccelerateConfig.read(accelerateFile)), keys);
        }
        if (deepspeedFile != null) {
            keys = DeepSpeedConfig.merge(DeepSpeedConfig.keys(DeepSpeedConfig.read(deepspeedFile)), keys);
        }
        if (peftFile != null) {
            keys = PeftConfig.merge(PeftConfig.keys(PeftConfig.read(peftFile)), keys);
        }
        if (keys.get("model") == null) {
            throw new InvalidInputException("model: missing (a HuggingFace id, config.json, folder, .safetensors or "
                    + ".gguf, as MODEL or 'model' in the workload file)");
        }
        // plain numbers from here on (8k, 1_024, 20B, 8.0), so that searches read them back as they are parsed
        return WorkloadParser.normalized(keys);
    }

    /** Everything a command needs: the model, its architecture, the workload and the GPU catalog. */
    Job resolve() {
        ModelResolver resolver = new ModelResolver(ModelCatalog.builtIn(),
                ResolveOptions.fromEnvironment(System.getenv(), online));
        GpuCatalog catalog = gpuFile == null ? GpuCatalog.builtIn() : GpuCatalog.withUserFile(gpuFile);
        return Job.of(raw(), resolver, catalog);
    }
}
