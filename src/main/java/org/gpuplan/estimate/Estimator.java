package org.gpuplan.estimate;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.memory.InferenceMemory;
import org.gpuplan.memory.MemoryEstimate;
import org.gpuplan.memory.RlGenerationMemory;
import org.gpuplan.memory.ShardedInference;
import org.gpuplan.memory.ShardedTraining;
import org.gpuplan.memory.TrainingMemory;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.ParameterCounter;
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.Method;
import org.gpuplan.workload.Precision;
import org.gpuplan.workload.Workload;

/** The one entry point: ModelSpec × Workload × GPU → Estimate. Pure; the CLI, HTTP API and library call it. */
public final class Estimator {

    private Estimator() {
    }

    public static Estimate estimate(String modelName, ModelSpec spec, Workload w, Optional<Gpu> gpu) {
        return estimate(modelName, spec, w, gpu, true);
    }

    /** Memory only (no runtime model): what a search needs to reject candidates that do not fit. */
    public static Estimate estimateMemory(String modelName, ModelSpec spec, Workload w, Optional<Gpu> gpu) {
        return estimate(modelName, spec, w, gpu, false);
    }

    /** Why a llama.cpp run with layers or experts in host memory gets no runtime figures. */
    private static final String HOST_LAYERS = "runtime not estimated: with layers or experts in host memory (-ngl, "
            + "--n-cpu-moe) the CPU runs them and sets the pace";

    /** Adds the runtime figures to a memory-only estimate (the same result as {@link #estimate}). */
    public static Estimate withPerf(Estimate e) {
        return e.perf().isPresent() ? e : withRuntime(e);
    }

    /**
     * The runtime model's figures for a memory estimate on a GPU; none, with a warning, when llama.cpp runs layers
     * or experts from host memory (the CPU sets the pace there and gpuplan has no CPU model).
     */
    private static Estimate withRuntime(Estimate e) {
        if (e.gpu().isEmpty()) {
            return e;
        }
        List<String> warnings = new ArrayList<>(e.warnings());
        Optional<org.gpuplan.perf.PerfEstimate> perf = Optional.empty();
        if (!e.workload().training() && InferenceMemory.llamaCppHostResident(e.spec(), e.workload())) {
            if (!warnings.contains(HOST_LAYERS)) {
                warnings.add(HOST_LAYERS);
            }
        } else {
            perf = Optional.of(org.gpuplan.perf.PerfModel.estimate(e.spec(), e.parameters(), e.workload(),
                    e.gpu().get(), e.memory()));
        }
        return new Estimate(e.modelName(), e.spec(), e.parameters(), e.workload(), e.gpu(), e.memory(), e.fit(),
                warnings, e.ranks(), e.hostMemoryBytesPerNode(), perf);
    }

    private static Estimate estimate(String modelName, ModelSpec spec, Workload w, Optional<Gpu> gpu,
                                     boolean withPerf) {
        if (w.perf().maxBatch()) {
            w = atMaxConcurrency(modelName, spec, w, gpu);
        }
        ParameterBreakdown p = ParameterCounter.count(spec);
        List<String> warnings = new ArrayList<>();
        if (w.perf().liger() && !LIGER_FAMILIES.contains(spec.family())) {
            // transformers applies Liger only to the model types it has kernels for, and leaves the others as they are
            warnings.add("use_liger_kernel: Liger has no kernels for " + spec.family().modelType() + "; transformers "
                    + "leaves the model as it is, so the estimate does too");
            w = w.withoutLiger();
        }
        checkSupported(spec, w, gpu, warnings);
        List<Estimate.Rank> ranks = new ArrayList<>();
        long hostPerNode = 0;
        MemoryEstimate memory;
        if (w.parallelism().single()) {
            memory = w.training() ? RlGenerationMemory.apply(spec, p, w, gpu, TrainingMemory.estimate(spec, p, w, gpu))
                    : InferenceMemory.estimate(spec, p, w, gpu);
            ranks.add(new Estimate.Rank("the GPU", 1, memory));
            hostPerNode = memory.hostBytes();
        } else {
            List<ShardedTraining.Stage> stages = w.training() ? ShardedTraining.estimate(spec, p, w, gpu)
                    : ShardedInference.estimate(spec, p, w, gpu);
            final Workload sw = w;
            stages = stages.stream().map(st -> new ShardedTraining.Stage(st.name(), st.ranks(),
                    RlGenerationMemory.apply(spec, p, sw, gpu, st.memory()))).toList();
            ShardedTraining.Stage worst = stages.get(0);
            long maxHost = 0;
            for (ShardedTraining.Stage st : stages) {
                ranks.add(new Estimate.Rank(st.name(), st.ranks(), st.memory()));
                if (st.memory().deviceUsed() > worst.memory().deviceUsed()) {
                    worst = st;
                }
                maxHost = Math.max(maxHost, st.memory().hostBytes());
            }
            memory = worst.memory();
            hostPerNode = maxHost * w.parallelism().gpusPerNode();
        }
        // paged optimizer states live in CUDA managed memory and page out to the host when the GPU is full
        // (bitsandbytes paged optimizers): nvidia-smi shows them, but they do not decide whether the job fits
        long paged = w.training() && w.optimizer().paged()
                ? memory.bytes("optimizer") : 0;
        Optional<Estimate.Fit> fit = gpu.map(g -> new Estimate.Fit(g.cudaTotalBytes(), memory.deviceUsed() - paged));
        if (paged > 0 && gpu.isPresent() && memory.deviceUsed() > gpu.get().cudaTotalBytes()
                && memory.deviceUsed() - paged <= gpu.get().cudaTotalBytes()) {
            warnings.add(String.format(Locale.ROOT, "the paged optimizer states (%.2f GiB) do not all fit beside the "
                    + "rest: they page to host memory at each step (slower optimizer step)", paged / (double) (1L << 30)));
        }
        if (memory.pool().isPresent()) {
            MemoryEstimate.KvPool pool = memory.pool().get();
            if (pool.empty()) {
                warnings.add("no memory is left for the KV cache: the engine refuses to start (lower the model size, "
                        + "quantize, or use a larger GPU)");
            } else {
                if (w.framework() == org.gpuplan.workload.Framework.VLLM && pool.capacityTokens() < spec.maxContext()
                        && w.seqLen() < spec.maxContext()) {
                    // vLLM's max_model_len defaults to the model's context and is checked against the pool at start
                    warnings.add(String.format(Locale.ROOT, "vLLM's max_model_len defaults to the model's context "
                            + "(%,d tokens) and this pool holds %,d: without --max-model-len (here %,d) vLLM refuses "
                            + "to start", spec.maxContext(), pool.capacityTokens(), w.seqLen()));
                }
                if (!pool.holdsOneSequence(w.seqLen())) {
                    warnings.add("the pool holds fewer tokens (" + pool.capacityTokens() + ") than one sequence's "
                            + "context (" + w.seqLen() + "): " + (w.framework() == org.gpuplan.workload.Framework.VLLM
                            ? "vLLM refuses to start; " : "") + "lower the context (max_model_len), quantize, or add "
                            + "GPUs");
                } else if (memory.bytes("kv_cache") > pool.poolBytes()) {
                    warnings.add(String.format(Locale.ROOT, "the %d requested sequences need more KV cache than the "
                            + "pool holds (max concurrency %.1f at this context): the engine queues or preempts the "
                            + "rest", w.batchSize(), pool.maxConcurrency()));
                }
            }
        }
        Estimate memoryOnly = new Estimate(modelName, spec, p, w, gpu, memory, fit, warnings, ranks, hostPerNode,
                Optional.empty());
        return withPerf ? withRuntime(memoryOnly) : memoryOnly;
    }

    /** {@code batch_size: max}: the largest number of sequences the engine's KV pool holds at this context. */
    private static Workload atMaxConcurrency(String modelName, ModelSpec spec, Workload w, Optional<Gpu> gpu) {
        if (gpu.isEmpty()) {
            throw new InvalidInputException("batch_size: 'max' needs --gpu (the KV pool depends on the GPU's memory)");
        }
        Workload one = w.withBatchSize(1);
        ParameterBreakdown p = ParameterCounter.count(spec);
        MemoryEstimate m = one.parallelism().single() ? InferenceMemory.estimate(spec, p, one, gpu)
                : ShardedInference.estimate(spec, p, one, gpu).get(0).memory();
        MemoryEstimate.KvPool pool = m.pool().orElseThrow(() -> new InvalidInputException("batch_size: 'max' needs "
                + "an engine with a KV-cache pool (accepted with max: vllm, sglang, tensorrt-llm); "
                + w.framework().key() + " allocates per request"));
        int max = (int) Math.floor(Math.min(pool.maxConcurrency(), InferenceMemory.maxNumSeqs(w, gpu.get())));
        if (max < 1) {
            throw new InvalidInputException("batch_size: 'max' is 0: the KV pool (" + pool.capacityTokens()
                    + " tokens) holds no whole sequence of " + w.seqLen() + " tokens");
        }
        return w.withBatchSize(max);
    }

    /**
     * Workload defaults a weights file implies: a GGUF file is served by llama.cpp in its own quantization type
     * unless the user said otherwise.
     */
    public static java.util.Map<String, String> withFileDefaults(java.util.Map<String, String> raw,
                                                                 org.gpuplan.io.LoadedModel loaded) {
        java.util.Map<String, String> out = new java.util.LinkedHashMap<>(raw);
        // a checkpoint stored quantized (quantization_config) is served in that format
        String task = raw.getOrDefault("task", "train");
        loaded.config().flatMap(org.gpuplan.io.ParsedConfig::quantization).ifPresent(q -> {
            String method = q.toLowerCase(Locale.ROOT);
            String quant = method.startsWith("fp8") ? "fp8" : method.startsWith("mxfp4") ? "mxfp4"
                    : method.startsWith("gptq") ? "gptq-4bit" : method.startsWith("awq") ? "awq-4bit"
                    : method.contains("nf4") ? "nf4" : null;
            if (quant != null && task.equalsIgnoreCase("infer")) {
                out.putIfAbsent("quant", quant);
            }
        });
        loaded.gguf().flatMap(org.gpuplan.io.GgufFile::fileType).ifPresent(type -> {
            String t = type.toLowerCase(Locale.ROOT);
            boolean known = java.util.Arrays.stream(org.gpuplan.workload.QuantFormat.values())
                    .anyMatch(q -> q.key().equals(t));
            out.putIfAbsent("task", "infer");
            out.putIfAbsent("framework", "llama.cpp");
            if (known) {
                out.putIfAbsent("quant", t);
            } else if (t.equals("f16") || t.equals("bf16")) {
                out.putIfAbsent("precision", t.equals("f16") ? "fp16" : "bf16");
            }
        });
        // a DeepSeek GGUF converted before llama.cpp's MLA support has no split kv_b (attn_k_b/attn_v_b) and no
        // key_length_mla: llama.cpp then caches per-head K and V
        loaded.gguf().filter(f -> f.architecture().filter("deepseek2"::equals).isPresent()
                && f.integer("deepseek2.attention.key_length_mla").isEmpty())
                .ifPresent(f -> out.putIfAbsent("kv_layout", "per-head"));
        return out;
    }

    /** Model types Liger patches (liger_kernel.transformers: Llama-style RMSNorm + SwiGLU decoders). */
    private static final java.util.Set<org.gpuplan.model.Family> LIGER_FAMILIES = java.util.EnumSet.of(
            org.gpuplan.model.Family.LLAMA, org.gpuplan.model.Family.MISTRAL, org.gpuplan.model.Family.MIXTRAL,
            org.gpuplan.model.Family.GEMMA, org.gpuplan.model.Family.GEMMA2, org.gpuplan.model.Family.GEMMA3,
            org.gpuplan.model.Family.QWEN2, org.gpuplan.model.Family.QWEN2_MOE, org.gpuplan.model.Family.QWEN3,
            org.gpuplan.model.Family.QWEN3_MOE, org.gpuplan.model.Family.PHI3, org.gpuplan.model.Family.GRANITE,
            org.gpuplan.model.Family.OLMO2, org.gpuplan.model.Family.LLAMA4);

    private static void checkSupported(ModelSpec spec, Workload w, Optional<Gpu> gpu, List<String> warnings) {
        if (w.stateCache().slots() > 0 && (w.framework() != Framework.SGLANG || spec.linearLayerCount() == 0)) {
            warnings.add("max_mamba_cache_size sizes SGLang's pool of linear-attention states; it does nothing for "
                    + w.framework().key() + (spec.linearLayerCount() == 0 ? " with a model without such layers" : ""));
        }
        long fusedExtra = org.gpuplan.memory.WeightMemory.fusedExpertsExtraBytes(spec, w);
        if (fusedExtra > 0) {
            warnings.add(String.format(Locale.ROOT, "the routed experts are counted as nn.Linear modules that "
                    + "bitsandbytes quantizes (transformers 4.x); transformers 5 stores the routed experts of most MoE "
                    + "models (Mixtral, Qwen3-MoE, DeepSeek-V3, ...) as fused 3D parameters, which bitsandbytes leaves "
                    + "unquantized%s: %.1f GiB more weights in all with transformers 5",
                    w.training() && w.method() == Method.QLORA ? " and k-bit preparation upcasts to fp32" : "",
                    fusedExtra / (double) (1L << 30)));
        }
        if (w.stateCache().dtype() != org.gpuplan.workload.StateDtype.AUTO && spec.linearLayerCount() == 0) {
            warnings.add("mamba_ssm_dtype: " + spec.family().modelType() + " has no linear-attention layers; ignored");
        }
        if (w.training() && w.framework() != Framework.HF && w.parallelism().single()) {
            warnings.add("framework " + w.framework().key() + ": single-GPU training is estimated with "
                    + "transformers/PEFT semantics; framework-specific buffers come with the multi-GPU estimator");
        }
        if (spec.family().isEncoder() && !w.training() && w.framework() != Framework.HF) {
            throw new InvalidInputException("framework: " + w.framework().key() + " serves decoder models; "
                    + spec.family().modelType() + " is an encoder (use --framework hf)");
        }
        if (w.method() == Method.QLORA && w.precision() == Precision.FP32) {
            warnings.add("qlora with fp32 compute: bitsandbytes dequantizes to fp32 (slow and larger temporaries)");
        }
        gpu.ifPresent(g -> {
            String vendor = g.vendor().toLowerCase(Locale.ROOT);
            if (w.framework() == Framework.TENSORRT_LLM && !vendor.equals("nvidia")) {
                throw new InvalidInputException("framework: tensorrt-llm runs on NVIDIA GPUs only; " + g.name()
                        + " is " + g.vendor() + " (use vllm or sglang)");
            }
            if (w.framework() == Framework.LLAMA_CPP && (vendor.equals("google") || vendor.equals("intel"))) {
                throw new InvalidInputException("framework: llama.cpp has no " + g.name() + " backend (use vllm)");
            }
            if (vendor.equals("google") || vendor.equals("intel")) {
                warnings.add(g.name() + " is not a CUDA device: memory is estimated with PyTorch-on-CUDA semantics "
                        + "(CUDA context and library workspaces, the caching allocator's peaks); the "
                        + (vendor.equals("google") ? "XLA (TPU)" : "Habana (Gaudi)") + " runtime allocates differently");
            } else if (vendor.equals("amd")) {
                warnings.add(g.name() + " runs ROCm: torch.cuda reports the same peaks and rocm-smi the device use; the "
                        + "CUDA context and cuBLAS workspace sizes stand in for HIP's and hipBLASLt's (not measured)");
            }
            boolean bf16 = w.precision() == Precision.BF16 || w.precision() == Precision.BF16_MIXED;
            if (bf16 && g.computeMajor() > 0 && g.computeMajor() < 8) {
                warnings.add(g.name() + " (compute capability " + g.computeCapability() + ") has no bf16 tensor "
                        + "cores: use --precision fp16-mixed or fp16");
            }
        });
    }
}
