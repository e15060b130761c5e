package org.gpuplan.workload;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.gpuplan.model.InvalidInputException;

/**
 * Turns workload keys (from a JSON/YAML file and/or command-line flags) into a validated {@link Workload}, filling
 * the defaults a user of each framework would get. Unknown keys and bad values are errors that list what is accepted.
 */
public final class WorkloadParser {

    /** Keys of the single-GPU estimator. */
    public static final List<String> KEYS = List.of("model", "task", "method", "framework", "gpu", "precision",
            "optimizer", "optimizer_in_backward", "batch_size", "seq_len", "prompt_len", "output_len", "grad_accum",
            "checkpointing", "attention", "loss_impl", "trainer", "precompute_ref_log_probs", "lora_rank", "lora_alpha", "lora_targets", "use_dora", "lora_dropout", "modules_to_save", "quant", "double_quant",
            "kv_dtype", "kv_layout", "gpu_memory_utilization", "max_num_batched_tokens", "max_num_seqs", "sampler", "mxfp4_backend",
            "mamba_ssm_dtype", "max_mamba_cache_size", "disable_radix_cache", "architecture", "cuda_context_mib", "grads_to_none", "padded_batches", "expandable_segments", "pytorch_cuda_alloc_conf", "activation_offloading",
            "tokens", "compile", "float8_linear", "tp_comm_overlap", "matmul_efficiency", "memory_efficiency",
            "comm_efficiency", "host_overhead_us", "n_gpu_layers", "op_offload", "llamacpp_build", "n_cpu_moe", "n_parallel", "enforce_eager", "cpu_offload_gb", "use_liger_kernel", "enable_lora", "max_loras", "max_lora_rank", "kv_cache_memory",
            "beta", "use_vllm", "vllm_mode", "vllm_gpu_memory_utilization", "vllm_enable_sleep_mode", "vllm_version",
            "steps_per_generation", "num_iterations");

    /** Multi-GPU keys. */
    public static final List<String> PARALLEL_KEYS = List.of("gpus", "nodes", "zero", "fsdp", "tp", "pp",
            "virtual_pp", "pp_schedule", "cp", "ep", "sequence_parallel", "offload_optimizer", "offload_params",
            "global_batch_size", "attention_dp");

    private WorkloadParser() {
    }

    /**
     * The names other tools give the same keys, so that a vLLM, SGLang, llama.cpp, transformers/PEFT, DeepSpeed or
     * Megatron user's habits work: each maps to one key of {@link #KEYS} or {@link #PARALLEL_KEYS}.
     */
    public static final Map<String, String> KEY_ALIASES = Map.ofEntries(
            // vLLM / SGLang / llama.cpp / TRL / PEFT: the context or training sequence length
            Map.entry("max_model_len", "seq_len"), Map.entry("context_length", "seq_len"),
            Map.entry("ctx_size", "seq_len"), Map.entry("max_seq_length", "seq_len"),
            Map.entry("max_seq_len", "seq_len"),
            // vLLM / SGLang / Megatron parallel sizes
            Map.entry("tensor_parallel_size", "tp"), Map.entry("tp_size", "tp"),
            Map.entry("tensor_model_parallel_size", "tp"),
            Map.entry("pipeline_parallel_size", "pp"), Map.entry("pp_size", "pp"),
            Map.entry("pipeline_model_parallel_size", "pp"),
            Map.entry("context_parallel_size", "cp"),
            Map.entry("expert_model_parallel_size", "ep"), Map.entry("ep_size", "ep"),
            // vLLM / SGLang cache and scheduler knobs
            Map.entry("kv_cache_dtype", "kv_dtype"), Map.entry("quantization", "quant"),
            // each engine's name for the fraction its pool budget starts from (SGLang, TensorRT-LLM's KvCacheConfig)
            Map.entry("mem_fraction_static", "gpu_memory_utilization"),
            Map.entry("free_gpu_memory_fraction", "gpu_memory_utilization"),
            Map.entry("kv_cache_free_gpu_mem_fraction", "gpu_memory_utilization"),
            Map.entry("max_running_requests", "max_num_seqs"), Map.entry("mamba_ssm_cache_dtype", "mamba_ssm_dtype"),
            // llama.cpp's physical batch (-ub)
            Map.entry("ubatch_size", "max_num_batched_tokens"), Map.entry("n_ubatch", "max_num_batched_tokens"),
            // llama.cpp's -ngl (ollama's num_gpu)
            Map.entry("ngl", "n_gpu_layers"), Map.entry("gpu_layers", "n_gpu_layers"),
            Map.entry("num_gpu", "n_gpu_layers"), Map.entry("ncmoe", "n_cpu_moe"),
            Map.entry("disable_cuda_graph", "enforce_eager"), Map.entry("np", "n_parallel"), Map.entry("parallel", "n_parallel"), Map.entry("num_parallel", "n_parallel"),
            // transformers TrainingArguments / PEFT LoraConfig / DeepSpeed config names
            Map.entry("per_device_train_batch_size", "batch_size"), Map.entry("micro_batch_size", "batch_size"),
            Map.entry("train_micro_batch_size_per_gpu", "batch_size"),
            Map.entry("gradient_accumulation_steps", "grad_accum"),
            Map.entry("gradient_checkpointing", "checkpointing"), Map.entry("recompute_granularity", "checkpointing"),
            Map.entry("attn_implementation", "attention"), Map.entry("optim", "optimizer"),
            Map.entry("lora_r", "lora_rank"), Map.entry("target_modules", "lora_targets"),
            // TRL's SFTConfig (max_length since TRL 0.20) and generate's total length
            Map.entry("max_length", "seq_len"),
            // TRL's GRPOConfig: the prompt and completion bounds
            Map.entry("max_prompt_length", "prompt_len"), Map.entry("max_completion_length", "output_len"),
            Map.entry("lora_modules_to_save", "modules_to_save"),
            Map.entry("torch_dtype", "precision"), Map.entry("dtype", "precision"),
            Map.entry("zero_stage", "zero"), Map.entry("liger_kernel", "use_liger_kernel"), Map.entry("liger", "use_liger_kernel"));

    /**
     * The same keys with every alias ({@link #KEY_ALIASES}) replaced by its key, spelled in snake_case. A key given
     * twice under two names with different values is an error.
     */
    public static Map<String, String> canonicalKeys(Map<String, String> raw) {
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, String> givenAs = new java.util.HashMap<>();
        String autocast = null; // transformers' bf16 / fp16 flags: mixed precision unless the weights' dtype is given
        for (Map.Entry<String, String> e : raw.entrySet()) {
            String k = e.getKey();
            String val = e.getValue();
            String key = k.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (key.equals("bf16") || key.equals("fp16")) {
                if (val != null && flag(key, val)) {
                    if (autocast != null && !autocast.equals(key)) {
                        throw new InvalidInputException("bf16, fp16: both true; transformers accepts one");
                    }
                    autocast = key;
                }
                continue;
            }
            String canonical = KEY_ALIASES.getOrDefault(key, key);
            String[] setting = SWITCHES.get(key);
            if (setting != null) { // a boolean that stands for a key's value (load_in_4bit: quant nf4)
                if (val == null || !flag(key, val)) {
                    continue;
                }
                canonical = setting[0];
                val = setting[1];
            }
            String before = out.get(canonical);
            if (before != null && val != null && !before.equals(val)) {
                throw new InvalidInputException(canonical + ": given twice with different values ('" + givenAs.get(
                        canonical) + "' = " + before + ", '" + k + "' = " + val + "); give it once");
            }
            if (before == null || val != null) {
                out.put(canonical, val);
                givenAs.put(canonical, k);
            }
        }
        if (autocast != null) {
            // TrainingArguments(bf16=True) picks the 16-bit type; whether the weights are 16-bit too (torch_dtype) or
            // fp32 masters keeps gpuplan's default for the method (full: mixed; LoRA/QLoRA: 16-bit base) unless given
            String p = out.get("precision");
            String base = p == null ? null : p.trim().toLowerCase(Locale.ROOT).replace("bfloat16", "bf16")
                    .replace("float16", "fp16").replace("-mixed", "");
            String method = out.getOrDefault("method", "full");
            boolean full = method == null || method.trim().equalsIgnoreCase("full");
            if (p == null) {
                out.put("precision", full ? autocast + "-mixed" : autocast);
            } else if (base.equals("fp32") || base.equals("float32")) {
                out.put("precision", autocast + "-mixed");
            } else if (!base.equals(autocast)) {
                throw new InvalidInputException(autocast + ": true, but the precision given is " + p + "; give one");
            }
        }
        return out;
    }

    /**
     * Other tools' on/off switches and the key value each stands for: transformers' BitsAndBytesConfig (the quant
     * format) and llama.cpp's cpu_moe (every layer's experts in host memory).
     */
    private static final Map<String, String[]> SWITCHES = Map.of("load_in_4bit", new String[] {"quant", "nf4"},
            "load_in_8bit", new String[] {"quant", "int8"}, "cpu_moe", new String[] {"n_cpu_moe", "all"});

    private static boolean flag(String field, String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no", "" -> false;
            default -> throw new InvalidInputException(field + ": '" + value + "' is not accepted (accepted: true, "
                    + "false)");
        };
    }

    /** Reads a workload file (JSON or YAML: a mapping of keys to values) into raw string values. */
    public static Map<String, String> readFile(Path file) {
        // YAML is a superset of JSON
        JsonNode root = ToolConfig.readTree(file, "workload", new ObjectMapper(new YAMLFactory()), "JSON or YAML");
        if (root == null || !root.isObject()) {
            throw new InvalidInputException("workload: " + file.getFileName() + " must be a mapping of keys to values "
                    + "(accepted keys: " + String.join(", ", KEYS) + ")");
        }
        // transformers' `deepspeed` argument: a path to the config (relative to this file) or the config inline
        com.fasterxml.jackson.databind.node.ObjectNode keys = (com.fasterxml.jackson.databind.node.ObjectNode) root;
        for (String name : DEEPSPEED_KEYS) {
            JsonNode ds = keys.get(name);
            if (ds != null && ds.isTextual()) {
                keys.set(name, DeepSpeedConfig.read(ToolConfig.besides(file, ds.asText())));
            }
        }
        JsonNode accelerate = keys.get(ACCELERATE_KEY);
        if (accelerate != null && accelerate.isTextual()) {
            keys.set(ACCELERATE_KEY, AccelerateConfig.read(ToolConfig.besides(file, accelerate.asText())));
        }
        JsonNode peft = keys.get(PEFT_KEY);
        if (peft != null && peft.isTextual()) {
            keys.set(PEFT_KEY, PeftConfig.read(ToolConfig.besides(file, peft.asText())));
        }
        return keysOf(keys);
    }

    /** Names of the DeepSpeed config in a workload: transformers' argument and DeepSpeed's launcher flag. */
    private static final List<String> DEEPSPEED_KEYS = List.of("deepspeed", "deepspeed_config");

    /** Name of an accelerate config in a workload. */
    private static final String ACCELERATE_KEY = "accelerate_config";

    /** Name of a PEFT LoRA config (adapter_config.json) in a workload. */
    private static final String PEFT_KEY = "peft_config";

    /** The entries of a JSON object as text (lists joined by commas), under their own names. */
    public static Map<String, String> textEntries(JsonNode root) {
        Map<String, String> out = new LinkedHashMap<>();
        root.fields().forEachRemaining(e -> {
            JsonNode v = e.getValue();
            if (v.isObject()) {
                throw new InvalidInputException(e.getKey() + ": must be a single value or a list");
            }
            if (v.isArray()) {
                List<String> items = new ArrayList<>();
                v.forEach(item -> items.add(item.asText()));
                out.put(e.getKey(), String.join(",", items));
            } else {
                out.put(e.getKey(), v.isNull() ? "" : v.asText());
            }
        });
        return out;
    }

    /**
     * The workload keys of a JSON object (a workload file, an HTTP request): values as text, lists joined by commas,
     * aliases replaced by their keys.
     */
    public static Map<String, String> keysOf(JsonNode root) {
        com.fasterxml.jackson.databind.node.ObjectNode keys = ((com.fasterxml.jackson.databind.node.ObjectNode) root)
                .deepCopy();
        Map<String, String> deepspeed = new LinkedHashMap<>();
        for (String name : DEEPSPEED_KEYS) {
            JsonNode ds = keys.remove(name);
            if (ds == null) {
                continue;
            }
            if (!ds.isObject()) {
                throw new InvalidInputException(name + ": give the DeepSpeed config as an object (inline), or its "
                        + "path in a workload file or with --deepspeed");
            }
            deepspeed = DeepSpeedConfig.merge(deepspeed, DeepSpeedConfig.keys(ds));
        }
        JsonNode accelerate = keys.remove(ACCELERATE_KEY);
        if (accelerate != null) {
            if (!accelerate.isObject()) {
                throw new InvalidInputException(ACCELERATE_KEY + ": give the accelerate config as an object (inline), "
                        + "or its path in a workload file or with --accelerate-config");
            }
            deepspeed = AccelerateConfig.merge(deepspeed, AccelerateConfig.keys(accelerate));
        }
        JsonNode peft = keys.remove(PEFT_KEY);
        if (peft != null && !peft.isObject()) {
            throw new InvalidInputException(PEFT_KEY + ": give the PEFT config (adapter_config.json) as an object "
                    + "(inline), or its path in a workload file or with --peft-config");
        }
        keys.fields().forEachRemaining(e -> {
            if (e.getValue().isObject()) {
                throw new InvalidInputException("workload: '" + e.getKey() + "' must be a single value or a list");
            }
        });
        Map<String, String> own = canonicalKeys(textEntries(keys));
        Map<String, String> merged = deepspeed.isEmpty() ? own : DeepSpeedConfig.merge(deepspeed, own);
        return peft == null ? merged : PeftConfig.merge(PeftConfig.keys(peft), merged);
    }

    /** Integer keys, and whether 0 is accepted for each (the same rules {@link #parse} applies). */
    private static final Map<String, Boolean> INTEGER_KEYS = Map.ofEntries(Map.entry("batch_size", false),
            Map.entry("seq_len", false), Map.entry("prompt_len", true), Map.entry("output_len", true),
            Map.entry("grad_accum", false), Map.entry("lora_rank", false), Map.entry("max_num_batched_tokens", true),
            Map.entry("max_num_seqs", true), Map.entry("cuda_context_mib", true), Map.entry("gpus", false),
            Map.entry("nodes", false), Map.entry("zero", true), Map.entry("tp", false), Map.entry("pp", false),
            Map.entry("virtual_pp", false), Map.entry("cp", false), Map.entry("ep", false),
            Map.entry("global_batch_size", true));

    /**
     * The keys as {@link #canonicalKeys} gives them, with every number in plain form (8k → 8192, 1_024 → 1024,
     * 8.0 → 8, 20B → 20000000000): what searches and reports read back. Bad numbers are the same one-line errors as
     * in {@link #parse}.
     */
    public static Map<String, String> normalized(Map<String, String> raw) {
        Map<String, String> v = canonicalKeys(raw);
        INTEGER_KEYS.forEach((key, zeroOk) -> {
            String s = v.get(key);
            if (s != null && !s.isBlank() && !(key.equals("batch_size") && s.trim().equalsIgnoreCase("max"))) {
                v.put(key, String.valueOf(positive(v, key, 0, zeroOk)));
            }
        });
        String t = v.get("tokens");
        if (t != null && !t.isBlank()) {
            double tokens;
            try {
                tokens = tokenCount(t);
            } catch (NumberFormatException e) {
                tokens = Double.NaN; // reported by parse
            }
            if (Double.isFinite(tokens) && tokens > 0) {
                v.put("tokens", tokens == Math.rint(tokens) && tokens < 1e18 ? String.valueOf((long) tokens)
                        : String.valueOf(tokens));
            }
        }
        return v;
    }

    /** Every accepted key (the planner parses thousands of workloads: built once). */
    private static final Set<String> ACCEPTED = acceptedKeys();

    private static Set<String> acceptedKeys() {
        Set<String> all = new TreeSet<>(KEYS);
        all.addAll(PARALLEL_KEYS);
        return Set.copyOf(all);
    }

    /** Validates raw values and fills defaults. */
    public static Workload parse(Map<String, String> raw) {
        Map<String, String> v = new LinkedHashMap<>();
        canonicalKeys(raw).forEach((k, val) -> {
            String key = k.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (!ACCEPTED.contains(key)) {
                throw new InvalidInputException("workload: unknown key '" + k + "' (accepted: "
                        + String.join(", ", KEYS) + ", and the multi-GPU keys " + String.join(", ", PARALLEL_KEYS)
                        + ")");
            }
            if (val != null && !val.isBlank()) {
                v.put(key, val.trim());
            }
        });
        String model = v.get("model");
        if (model == null) {
            throw new InvalidInputException("model: missing (a HuggingFace id, config.json, folder, .safetensors or "
                    + ".gguf)");
        }
        if ("serve".equalsIgnoreCase(v.getOrDefault("task", ""))) {
            v.put("task", "infer"); // serving is inference under load
        }
        Task task = choice(v, "task", Task.class, Task.TRAIN);
        boolean dora = bool(v, "use_dora", false);
        String methodName = v.getOrDefault("method", "").trim().toLowerCase(Locale.ROOT);
        if (methodName.equals("dora") || methodName.equals("qdora")) { // DoRA is LoRA with use_dora (PEFT)
            if (v.containsKey("use_dora") && !dora) {
                throw new InvalidInputException("use_dora: false contradicts method " + methodName + "; give one");
            }
            v.put("method", methodName.equals("dora") ? "lora" : "qlora");
            dora = true;
        }
        if (!methodName.isEmpty() && !List.of("full", "lora", "qlora").contains(v.get("method").trim()
                .toLowerCase(Locale.ROOT))) {
            throw new InvalidInputException("method: '" + v.get("method") + "' is not accepted (accepted: full, lora, "
                    + "qlora, dora (lora with use_dora), qdora (qlora with use_dora))");
        }
        Method method = choice(v, "method", Method.class, Method.FULL);
        Framework framework = choice(v, "framework", Framework.class, task == Task.TRAIN ? Framework.HF
                : Framework.HF);
        // torchtune has no autocast: its recipes train in the model dtype (dtype: bf16 in every config)
        Precision precision = choice(v, "precision", Precision.class, task == Task.TRAIN && method == Method.FULL
                && framework != Framework.TORCHTUNE ? Precision.BF16_MIXED : Precision.BF16);
        QuantFormat quant = choice(v, "quant", QuantFormat.class, method == Method.QLORA ? QuantFormat.NF4
                : QuantFormat.NONE);
        int promptLen = positive(v, "prompt_len", 0, true);
        int outputLen = positive(v, "output_len", 0, true);
        Trainer trainer = choice(v, "trainer", Trainer.class, Trainer.SFT);
        if (trainer == Trainer.GRPO && task == Task.TRAIN) {
            // GRPOConfig's defaults: max_prompt_length 512, max_completion_length 256
            if (promptLen == 0 && !v.containsKey("seq_len")) {
                promptLen = 512;
            }
            if (outputLen == 0) {
                outputLen = 256;
            }
        }
        int defaultSeq = (task == Task.INFER || trainer == Trainer.GRPO) && promptLen + outputLen > 0
                ? promptLen + outputLen : task == Task.INFER ? 4096 : 2048;
        int seqLen = positive(v, "seq_len", defaultSeq, false);
        // llama.cpp's -np: its slots share the context -c, each holding c / np tokens
        int slots = positive(v, "n_parallel", 0, false); // absent: 0; given: at least one slot
        if (slots > 0) {
            if (framework != Framework.LLAMA_CPP) {
                throw new InvalidInputException("n_parallel: llama.cpp's -np (slots sharing the context); for other "
                        + "engines give batch_size (concurrent sequences) and max_num_seqs");
            }
            if (v.containsKey("batch_size") && !String.valueOf(slots).equals(v.get("batch_size").trim())) {
                throw new InvalidInputException("n_parallel: " + slots + " slots but batch_size " + v.get("batch_size")
                        + "; give one (llama.cpp serves n_parallel sequences at once)");
            }
            if (seqLen / slots < 1) {
                throw new InvalidInputException("n_parallel: " + slots + " slots leave less than one token of the "
                        + seqLen + "-token context each");
            }
            seqLen = seqLen / slots;
        }
        if ((task == Task.INFER || trainer == Trainer.GRPO) && promptLen + outputLen > 0 && v.containsKey("seq_len")
                && seqLen < promptLen + outputLen) {
            throw new InvalidInputException("seq_len (" + seqLen + ") is shorter than prompt_len + output_len ("
                    + (promptLen + outputLen) + ")");
        }
        int rank = positive(v, "lora_rank", 16, false);
        boolean maxBatch = "max".equalsIgnoreCase(v.getOrDefault("batch_size", ""));
        if (maxBatch && task != Task.INFER) {
            throw new InvalidInputException("batch_size: 'max' (the largest concurrency the KV cache holds) applies to "
                    + "--task infer; for training give a positive integer");
        }
        // the V0 engine (before vLLM 0.8) samples top-k/top-p with PyTorch's sort
        Optional<VllmVersion> version = v.containsKey("vllm_version") ? Optional.of(VllmVersion.parse(
                v.get("vllm_version"))) : Optional.empty();
        List<String> targets = v.containsKey("lora_targets")
                ? Arrays.stream(v.get("lora_targets").split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList()
                : List.of();
        GpuLayers layers = gpuLayers(v);
        return new Workload(model, task, method, framework, Optional.ofNullable(v.get("gpu")), precision,
                choice(v, "optimizer", OptimizerKind.class, OptimizerKind.ADAMW),
                bool(v, "optimizer_in_backward", false),
                maxBatch ? 1 : slots > 0 ? slots : positive(v, "batch_size", 1, false), seqLen, promptLen, outputLen,
                positive(v, "grad_accum", 1, false),
                choice(v, "checkpointing", Checkpointing.class, method == Method.QLORA ? Checkpointing.FULL
                        : Checkpointing.NONE),
                bool(v, "activation_offloading", false),
                choice(v, "attention", AttentionImpl.class, defaultAttention(framework, layers.llamacppBuild())),
                // torch.compile compiles the loss with the model (HF forward) or on its own (torchtitan, 2025)
                // Liger's patch replaces the loss with its fused linear cross-entropy; TRL's preference trainers take
                // per-token log-probabilities with a row-wise log-softmax in the logits' dtype
                choice(v, "loss_impl", LossImpl.class, bool(v, "use_liger_kernel", false) ? LossImpl.FUSED_LINEAR
                        : bool(v, "compile", false) ? LossImpl.COMPILED
                        : trainer != Trainer.SFT ? LossImpl.ROWWISE
                        : LossImpl.EAGER),
                trainer, bool(v, "precompute_ref_log_probs", false),
                rank,
                number(v, "lora_alpha", 2.0 * rank), targets, dora, probability(v, "lora_dropout"),
                v.containsKey("modules_to_save") ? Arrays.stream(v.get("modules_to_save").split(",")).map(String::trim)
                        .filter(x -> !x.isEmpty()).toList() : List.of(), quant,
                bool(v, "double_quant", method == Method.QLORA), choice(v, "kv_dtype", KvDtype.class, KvDtype.AUTO),
                choice(v, "kv_layout", KvLayout.class, KvLayout.AUTO), number(v, "gpu_memory_utilization", 0.9), positive(v, "max_num_batched_tokens", 0, true),
                positive(v, "max_num_seqs", 0, true), choice(v, "sampler", Sampler.class, version.map(VllmVersion::v0)
                        .orElse(false) ? Sampler.TORCH : Sampler.FLASHINFER),
                choice(v, "mxfp4_backend", Mxfp4Backend.class, Mxfp4Backend.AUTO),
                Optional.ofNullable(v.get("architecture")),
                v.containsKey("cuda_context_mib") ? Optional.of(positive(v, "cuda_context_mib", 0, true) * 1048576L)
                        : Optional.empty(), bool(v, "grads_to_none", true),
                bool(v, "padded_batches", true), parallelism(v), perf(v, maxBatch),
                new StateCache(choice(v, "mamba_ssm_dtype", StateDtype.class, StateDtype.AUTO),
                        positive(v, "max_mamba_cache_size", 0, true), !bool(v, "disable_radix_cache", false)),
                layers, loraSlots(v), bytes(v, "kv_cache_memory"), rl(v), version);
    }

    /**
     * TRL GRPOConfig's generation and KL settings: beta (default 0.0), use_vllm (default false: transformers
     * generate), vllm_mode (colocate, TRL's current default, or server), vllm_gpu_memory_utilization (default 0.3) and
     * vllm_enable_sleep_mode (default false).
     */
    private static RlGeneration rl(Map<String, String> v) {
        String modeName = v.get("vllm_mode");
        boolean useVllm = bool(v, "use_vllm", modeName != null || v.containsKey("vllm_gpu_memory_utilization")
                || v.containsKey("vllm_enable_sleep_mode"));
        if (!useVllm && (modeName != null || v.containsKey("vllm_gpu_memory_utilization")
                || v.containsKey("vllm_enable_sleep_mode"))) {
            throw new InvalidInputException("use_vllm: false, but vLLM settings are given (vllm_mode, "
                    + "vllm_gpu_memory_utilization, vllm_enable_sleep_mode); drop them or set use_vllm true");
        }
        RlGeneration.Mode mode = RlGeneration.Mode.TRANSFORMERS;
        if (useVllm) {
            String m = modeName == null ? "colocate" : modeName.trim().toLowerCase(Locale.ROOT);
            mode = switch (m) {
                case "colocate", "vllm-colocate" -> RlGeneration.Mode.VLLM_COLOCATE;
                case "server", "vllm-server" -> RlGeneration.Mode.VLLM_SERVER;
                default -> throw new InvalidInputException("vllm_mode: '" + modeName + "' is not accepted (accepted: "
                        + "colocate, server)");
            };
        }
        return new RlGeneration(nonNegative(v, "beta"), mode, number(v, "vllm_gpu_memory_utilization", 0.3),
                bool(v, "vllm_enable_sleep_mode", false), positive(v, "steps_per_generation", 0, true),
                positive(v, "num_iterations", 1, false));
    }

    /** A byte count: plain bytes or with a binary/decimal unit (20GiB, 21474836480, 20e9, 16GB); 0 when absent. */
    private static long bytes(Map<String, String> v, String key) {
        String s = v.get(key);
        if (s == null) {
            return 0;
        }
        java.util.regex.Matcher mt = java.util.regex.Pattern.compile("(?i)^\\s*([0-9]+(?:\\.[0-9]+)?(?:e[0-9]+)?)\\s*"
                + "(gib|gb|mib|mb|kib|kb|b)?\\s*$").matcher(s);
        if (mt.matches()) {
            double n = Double.parseDouble(mt.group(1));
            String unit = mt.group(2) == null ? "b" : mt.group(2).toLowerCase(Locale.ROOT);
            double scale = switch (unit) {
                case "gib" -> 1L << 30;
                case "gb" -> 1e9;
                case "mib" -> 1L << 20;
                case "mb" -> 1e6;
                case "kib" -> 1024;
                case "kb" -> 1e3;
                default -> 1;
            };
            double b = n * scale;
            if (b >= 1 && b < 1e15) {
                return (long) b;
            }
        }
        throw new InvalidInputException(key + ": expected a size in bytes such as 21474836480 or 20GiB, got '" + s + "'");
    }

    /** vLLM --enable-lora with --max-loras (1) and --max-lora-rank (16); naming either enables it. */
    private static LoraSlots loraSlots(Map<String, String> v) {
        boolean on = bool(v, "enable_lora", v.containsKey("max_loras") || v.containsKey("max_lora_rank"));
        if (!on) {
            return LoraSlots.NONE;
        }
        return new LoraSlots(positive(v, "max_loras", 1, false), positive(v, "max_lora_rank", 16, false));
    }

    /** llama.cpp builds from b6325 (PR #15434, 2025-08-30) run with -fa auto: flash attention wherever supported. */
    static final int LLAMACPP_AUTO_FLASH_FROM = 6325;

    /**
     * The attention kernel when the workload names none: PyTorch's SDPA for the PyTorch frameworks; for llama.cpp
     * flash attention (-fa auto, on for CUDA devices) unless the workload names a build from before b6325, whose
     * default was off.
     */
    private static AttentionImpl defaultAttention(Framework framework, int build) {
        if (framework != Framework.LLAMA_CPP) {
            return AttentionImpl.SDPA;
        }
        return build == 0 || build >= LLAMACPP_AUTO_FLASH_FROM ? AttentionImpl.FLASH : AttentionImpl.EAGER;
    }

    /** llama.cpp's -ngl (a count, or all: "all", -1 and counts above any model's layers) and op offload. */
    private static GpuLayers gpuLayers(Map<String, String> v) {
        String t = v.get("n_gpu_layers");
        int count;
        if (t == null || t.isBlank() || t.trim().equalsIgnoreCase("all") || t.trim().equals("-1")
                || t.trim().matches("[0-9]{6,}")) { // llama.cpp takes any count above the layers as all
            count = GpuLayers.ALL;
        } else {
            count = positive(v, "n_gpu_layers", 0, true);
        }
        String moe = v.get("n_cpu_moe");
        int cpuMoe = moe == null || moe.isBlank() ? 0 : moe.trim().equalsIgnoreCase("all") ? GpuLayers.ALL
                : positive(v, "n_cpu_moe", 0, true);
        return new GpuLayers(count, bool(v, "op_offload", true), cpuMoe, number(v, "cpu_offload_gb", 0),
                llamacppBuild(v.get("llamacpp_build")));
    }

    /** A llama.cpp build as `llama-cli --version` and release tags print it: 5781, b5781 or "version: 5781 (…)". */
    static int llamacppBuild(String text) {
        if (text == null || text.isBlank()) {
            return 0;
        }
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        t = t.startsWith("version:") ? t.substring(8).trim() : t;
        t = t.startsWith("b") ? t.substring(1) : t;
        int space = t.indexOf(' ');
        t = space > 0 ? t.substring(0, space) : t;
        if (!t.matches("[0-9]{1,7}") || Integer.parseInt(t) < 1 || Integer.parseInt(t) > GpuLayers.MAX_BUILD) {
            throw new InvalidInputException("llamacpp_build: '" + text.trim() + "' is not a llama.cpp build (expected "
                    + "a build number such as b5781 or 5781, as `llama-cli --version` prints it)");
        }
        return Integer.parseInt(t);
    }

    private static Parallelism parallelism(Map<String, String> v) {
        int gpus = positive(v, "gpus", 1, false);
        int tp = positive(v, "tp", 1, false);
        int pp = positive(v, "pp", 1, false);
        int vpp = positive(v, "virtual_pp", 1, false);
        String fsdp = v.getOrDefault("fsdp", "none");
        if (fsdp.equalsIgnoreCase("false") || fsdp.equalsIgnoreCase("no")) {
            fsdp = "none";
        }
        return new Parallelism(gpus, positive(v, "nodes", 1, false), positive(v, "zero", 0, true),
                Choice.parse(Parallelism.FsdpMode.class, "fsdp", fsdp), tp, pp, vpp,
                choice(v, "pp_schedule", Parallelism.PpSchedule.class, vpp > 1 ? Parallelism.PpSchedule.INTERLEAVED
                        : Parallelism.PpSchedule.ONE_F_ONE_B),
                positive(v, "cp", 1, false), positive(v, "ep", 1, false), bool(v, "sequence_parallel", false),
                offload(v, "offload_optimizer"), offload(v, "offload_params"),
                positive(v, "global_batch_size", 0, true), bool(v, "attention_dp", false));
    }

    private static Parallelism.Offload offload(Map<String, String> v, String key) {
        String s = v.getOrDefault(key, "none");
        if (s.equalsIgnoreCase("false") || s.equalsIgnoreCase("no")) {
            s = "none";
        }
        if (s.equalsIgnoreCase("true")) {
            s = "cpu";
        }
        return Choice.parse(Parallelism.Offload.class, key, s);
    }

    private static <E extends Enum<E> & Choice> E choice(Map<String, String> v, String key, Class<E> type,
                                                         E fallback) {
        String s = v.get(key);
        return s == null ? fallback : Choice.parse(type, key, s);
    }

    private static PerfOptions perf(Map<String, String> v, boolean maxBatch) {
        double tokens = 0;
        if (v.containsKey("tokens")) {
            try {
                tokens = tokenCount(v.get("tokens"));
            } catch (NumberFormatException e) {
                throw new InvalidInputException("tokens: expected a number of training tokens such as 20e9 or 20B, got '"
                        + v.get("tokens") + "'");
            }
            if (!Double.isFinite(tokens) || tokens <= 0) {
                throw new InvalidInputException("tokens: expected a positive number of training tokens such as 20e9, "
                        + "got '" + v.get("tokens") + "'");
            }
        }
        return new PerfOptions(tokens, maxBatch, bool(v, "compile", false), bool(v, "float8_linear", false),
                bool(v, "tp_comm_overlap", false), optionalNumber(v, "matmul_efficiency"),
                optionalNumber(v, "memory_efficiency"), optionalNumber(v, "comm_efficiency"), hostOverhead(v),
                bool(v, "enforce_eager", false), bool(v, "use_liger_kernel", false), expandableSegments(v));
    }

    /**
     * expandable_segments: a boolean, or PyTorch's own setting as PYTORCH_CUDA_ALLOC_CONF spells it
     * (pytorch_cuda_alloc_conf: "expandable_segments:True,max_split_size_mb:128").
     */
    private static boolean expandableSegments(Map<String, String> v) {
        String conf = v.get("pytorch_cuda_alloc_conf");
        if (conf != null) {
            for (String option : conf.split(",")) {
                String[] kv = option.trim().split(":", 2);
                if (kv.length == 2 && kv[0].trim().equals("expandable_segments")) {
                    String value = kv[1].trim();
                    if (!value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false")) {
                        throw new InvalidInputException("pytorch_cuda_alloc_conf: expandable_segments takes True or "
                                + "False, got '" + value + "'");
                    }
                    if (v.containsKey("expandable_segments")
                            && bool(v, "expandable_segments", false) != value.equalsIgnoreCase("true")) {
                        throw new InvalidInputException("expandable_segments: " + v.get("expandable_segments")
                                + " disagrees with pytorch_cuda_alloc_conf's expandable_segments:" + value
                                + "; give one of them");
                    }
                    return value.equalsIgnoreCase("true");
                }
            }
        }
        return bool(v, "expandable_segments", false);
    }

    /** Host microseconds per kernel: a number from 0 to 10000. */
    private static java.util.OptionalDouble hostOverhead(Map<String, String> v) {
        String s = v.get("host_overhead_us");
        if (s == null) {
            return java.util.OptionalDouble.empty();
        }
        try {
            double d = Double.parseDouble(s);
            if (d >= 0 && d <= 10_000) {
                return java.util.OptionalDouble.of(d);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidInputException("host_overhead_us: expected microseconds per kernel from 0 to 10000, such as "
                + "20, got '" + s + "'");
    }

    /** An efficiency override: a fraction in (0, 1]. */
    private static java.util.OptionalDouble optionalNumber(Map<String, String> v, String key) {
        if (!v.containsKey(key)) {
            return java.util.OptionalDouble.empty();
        }
        try {
            double d = Double.parseDouble(v.get(key));
            if (d > 0 && d <= 1) {
                return java.util.OptionalDouble.of(d);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidInputException(key + ": expected a fraction in (0, 1], such as 0.7, got '" + v.get(key) + "'");
    }

    /** Token lengths, which users write as 8k or 128K (k = 1,024 tokens, as in "a 128k context" = 131,072). */
    private static final Set<String> LENGTH_KEYS = Set.of("seq_len", "prompt_len", "output_len",
            "max_num_batched_tokens");

    private static int positive(Map<String, String> v, String key, int fallback, boolean zeroOk) {
        String s = v.get(key);
        if (s == null) {
            return fallback;
        }
        boolean length = LENGTH_KEYS.contains(key);
        try {
            String t = s.replace("_", "").trim();
            double scale = 1;
            if (length && (t.endsWith("k") || t.endsWith("K"))) {
                scale = 1024;
                t = t.substring(0, t.length() - 1);
            }
            double d = Double.parseDouble(t) * scale;
            if (d != Math.rint(d) || d < (zeroOk ? 0 : 1) || d > Integer.MAX_VALUE) {
                throw new NumberFormatException();
            }
            return (int) d;
        } catch (NumberFormatException e) {
            throw new InvalidInputException(key + ": expected a " + (zeroOk ? "non-negative" : "positive")
                    + " integer" + (length ? " of tokens (8192, or 8k = 8 × 1024)" : "") + ", got '" + s + "'");
        }
    }

    /**
     * A number of training tokens: plain (2e10, 20_000_000_000) or with the decimal suffixes used for dataset sizes,
     * K, M, B (or G) and T (20B = 2·10^10, 15T = 1.5·10^13).
     */
    static double tokenCount(String s) {
        String t = s.replace("_", "").trim();
        double scale = 1;
        if (!t.isEmpty()) {
            switch (Character.toUpperCase(t.charAt(t.length() - 1))) {
                case 'K' -> scale = 1e3;
                case 'M' -> scale = 1e6;
                case 'B', 'G' -> scale = 1e9;
                case 'T' -> scale = 1e12;
                default -> scale = 1;
            }
            if (scale != 1) {
                t = t.substring(0, t.length() - 1);
            }
        }
        return Double.parseDouble(t) * scale;
    }

    private static double number(Map<String, String> v, String key, double fallback) {
        return decimal(v, key, fallback, d -> Double.isFinite(d) && d > 0, "a positive number");
    }

    /** A finite number ≥ 0 (0 when absent), such as GRPO's KL coefficient beta. */
    private static double nonNegative(Map<String, String> v, String key) {
        return decimal(v, key, 0, d -> Double.isFinite(d) && d >= 0, "a number ≥ 0 such as 0.04");
    }

    /** A dropout probability in [0, 1) (0 when absent). */
    private static double probability(Map<String, String> v, String key) {
        return decimal(v, key, 0, d -> d >= 0 && d < 1, "a probability in [0, 1) such as 0.05");
    }

    /** A decimal the predicate accepts ({@code fallback} when absent); anything else names what is expected. */
    private static double decimal(Map<String, String> v, String key, double fallback,
                                  java.util.function.DoublePredicate accepted, String expected) {
        String s = v.get(key);
        if (s == null) {
            return fallback;
        }
        try {
            double d = Double.parseDouble(s);
            if (accepted.test(d)) {
                return d;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidInputException(key + ": expected " + expected + ", got '" + s + "'");
    }

    private static boolean bool(Map<String, String> v, String key, boolean fallback) {
        String s = v.get(key);
        if (s == null) {
            return fallback;
        }
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "true", "yes", "1", "on" -> true;
            case "false", "no", "0", "off" -> false;
            default -> throw new InvalidInputException(key + ": expected true or false, got '" + s + "'");
        };
    }
}
