package org.gpuplan.memory;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.model.Attention;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.Term;
import org.gpuplan.workload.AttentionImpl;
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.VllmVersion;
import org.gpuplan.workload.Workload;

/**
 * Inference and serving on one GPU: transformers {@code generate}, the pooling engines (vLLM, SGLang, TensorRT-LLM)
 * and llama.cpp.
 */
public final class InferenceMemory {

    /**
     * vLLM: CUDA graph pools captured after the KV cache is allocated (assumed; vLLM 0.21+ logs estimates of
     * 0.1-0.7 GiB for dense models at the default capture sizes). Before 0.21 they come on top of the utilization
     * budget; from 0.21 (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS on by default) the estimate is taken from it.
     */
    static final long VLLM_CUDA_GRAPHS = 512 * Bytes.MIB;
    /**
     * What grew outside PyTorch during vLLM's profile run (kernel modules loaded lazily, cuBLAS/cuBLASLt handles and
     * workspaces): the published profiles print 0.05-0.35 GiB on one GPU (vLLM 0.6.5-0.7 V0 on A10/A10G/3090/4090:
     * 0.05, 0.06, 0.35, 0.25 GiB; V1 0.11 on H100: 0.13-0.14 GiB; V1 0.19 on H100: 0.24-0.26 GiB); 0.15 GiB assumed.
     */
    static final long VLLM_PROFILE_NON_TORCH = 150 * Bytes.MIB;
    /** vLLM's block size on CUDA. */
    static final int BLOCK = 16;

    private InferenceMemory() {
    }

    /**
     * The weights with vLLM's padding of MXFP4 experts ({@link WeightMemory#vllmMxfp4ExpertPadding}) on the
     * share {@code expertShare} of the routed experts this rank holds.
     */
    static Term withMarlinPadding(Term weights, ModelSpec m, Workload w, Optional<Gpu> gpu, double expertShare) {
        double factor = WeightMemory.vllmMxfp4ExpertPadding(m, w, gpu);
        if (factor <= 1) {
            return weights;
        }
        long extra = (long) Math.ceil(WeightMemory.mxfp4ExpertBytes(m) * expertShare * (factor - 1));
        return new Term(weights.key(), weights.label(), weights.value() + extra, () -> weights.formula()
                + String.format(Locale.ROOT, "; + %s: vLLM's %s MXFP4 MoE kernel pads each expert's intermediate "
                + "size per partition and hidden size to its alignment (× %.4f on the expert bytes)", Bytes.mib(extra),
                w.mxfp4Backend().resolve(gpu.orElseThrow().computeMajor()).key(), factor));
    }

    /**
     * The engine's max_num_seqs: as given, else vLLM's usage-context default (1024 on ≥70 GiB non-A100, else 256;
     * the V0 engine of a vllm_version before 0.8: 256).
     */
    public static int maxNumSeqs(Workload w, Gpu g) {
        boolean v0 = w.vllmVersion().map(VllmVersion::v0).orElse(false);
        return w.maxNumSeqs() > 0 ? w.maxNumSeqs() : (largeGpu(g) && !v0 ? 1024 : 256);
    }

    /**
     * The tokens of the profile's forward, max_num_batched_tokens: as given, else the V1 server default (8192 on
     * ≥70 GiB non-A100 GPUs, else 2048), or V0's for a vllm_version before 0.8 ({@link VllmVersion#v0BatchedTokens}).
     */
    static int batchedTokens(Workload w, Gpu g) {
        if (w.maxNumBatchedTokens() > 0) {
            return w.maxNumBatchedTokens();
        }
        if (w.framework() == Framework.VLLM && w.vllmVersion().map(VllmVersion::v0).orElse(false)) {
            return w.vllmVersion().get().v0BatchedTokens(w.seqLen());
        }
        return largeGpu(g) ? 8192 : 2048;
    }

    /** vLLM V1's usage-context defaults single out the ≥ 70 GiB GPUs other than the A100 (H100, H200, MI300X, …). */
    private static boolean largeGpu(Gpu g) {
        return g.cudaTotalBytes() >= 70 * Bytes.GIB && !g.name().startsWith("A100");
    }

    /**
     * vLLM 0.2.5-0.2.6 with tensor parallelism: the output of every all-reduce of the profile's forward (two per
     * layer, plus the vocab-parallel embedding's on the first stage) stays cached until the profile ends (vLLM issue
     * #2150), and the device-wide measurement of those releases counts it: (2·layers + 1) × tokens × h × c.
     */
    static long allReduceResidue(ModelSpec m, Workload w, int batchedTokens, int c, int tp, long layers,
                                 boolean firstStage) {
        boolean applies = tp > 1 && w.framework() == Framework.VLLM && w.vllmVersion()
                .map(v -> v.profileSeesDevice() && v.allReduceOutputsCached()).orElse(false);
        return applies ? (2 * layers + (firstStage ? 1 : 0)) * batchedTokens * m.hiddenSize() * c : 0;
    }

    public static MemoryEstimate estimate(ModelSpec m, ParameterBreakdown p, Workload w, Optional<Gpu> gpu) {
        Term weights = LoraAdapters.withServingSlots(withMarlinPadding(WeightMemory.weights(m, p, w), m, w, gpu, 1.0),
                m, w, 1);
        int c = w.precision().computeBytes();
        double kvElem = w.kvDtype().bytes(c);
        long context = w.seqLen();
        long kv = KvCache.bytes(m, w, w.batchSize(), context, kvElem);
        Term kvTerm = new Term("kv_cache", "KV cache", kv, () -> String.format(Locale.ROOT,
                "batch × context × attention layers × %d elements × %.4g B = %d × %d × %d × %d × %.4g%s",
                KvCache.elementsPerTokenPerLayer(m, w), kvElem, w.batchSize(), context, m.attentionLayerCount(),
                KvCache.elementsPerTokenPerLayer(m, w), kvElem,
                (m.slidingWindow() == 0 ? "" : w.framework() == Framework.LLAMA_CPP ? " (sliding-window layers "
                        + "hold the window plus one n_ubatch per sequence, " + m.slidingWindow() + " + " + nUbatch(w)
                        + " cells, llama-kv-cache-iswa)" : " (sliding-window layers hold at most " + m.slidingWindow()
                        + " tokens)") + (m.attention() instanceof org.gpuplan.model.Attention.Latent ? "; "
                        + KvCache.layoutDescription(m, w.framework(), w.kvLayout()) : "")));
        if (w.framework().poolsKvCache()) {
            Term onGpu = hostOffloaded(weights, w);
            MemoryEstimate e = pooled(m, w, gpu, onGpu, kvTerm, c, kvElem, context);
            return onGpu == weights ? e : e.withHostBytes(weights.value() - onGpu.value());
        }
        MemoryEstimate e;
        if (w.framework() == Framework.LLAMA_CPP) {
            e = llamaCpp(m, p, w, gpu, weights, kvTerm, kvElem);
        } else if (w.framework() != Framework.HF) {
            throw new InvalidInputException("framework: " + w.framework().key() + " does not serve models; for "
                    + "--task infer use hf, vllm, sglang, tensorrt-llm or llama.cpp");
        } else {
            e = hfGenerate(m, w, gpu, weights, kvTerm, c, kvElem);
        }
        if (m.linearLayerCount() == 0) {
            return e;
        }
        Term state = recurrentState(m, w, w.batchSize(), 1);
        if (w.framework() == Framework.LLAMA_CPP && w.partialOffload(m.numLayers())) {
            // llama.cpp keeps each layer's recurrent state on that layer's device
            int from = m.numLayers() - w.nGpuLayers();
            long onGpu = m.layers().subList(from, m.numLayers()).stream().filter(l -> l.linearAttention()).count();
            long share = Math.round(state.value() * (onGpu / (double) m.linearLayerCount()));
            Term all = state;
            state = new Term(state.key(), state.label(), share, () -> all.formula() + "; the " + onGpu + " of "
                    + m.linearLayerCount() + " linear-attention layers offloaded to the GPU (" + Bytes.mib(share)
                    + "), the rest in host memory");
        }
        return e.plusResident(state);
    }

    /**
     * vLLM's unified pages for a model with linear-attention layers (the other engines keep the states apart from the
     * KV pool, which then holds the attention layers' tokens only).
     */
    static Optional<HybridPages> hybridPages(ModelSpec m, Workload w, double kvElem, int tp, long attentionLayers,
                                             long linearLayers) {
        if (linearLayers == 0 || attentionLayers == 0 || w.framework() != Framework.VLLM) {
            return Optional.empty();
        }
        long tokenBytes = Bytes.ceil(KvCache.tokenBytesPerLayer(m, w, kvElem, tp));
        return Optional.of(HybridPages.of(m, w, tokenBytes, tp, attentionLayers, linearLayers));
    }

    /**
     * The memory a pooling engine gives its caches on one GPU (0 when nothing is left): vLLM takes its utilization
     * share of the whole GPU less weights, the profiled activation peak and non-torch memory; SGLang its
     * mem_fraction_static share of the memory free before loading, less the weights; TensorRT-LLM its
     * free_gpu_memory_fraction of what is left after weights, activations and the context.
     */
    static long poolBudget(Workload w, long total, long weights, long activation, long nonTorch) {
        if (w.kvCacheMemory() > 0) {
            return w.kvCacheMemory(); // vLLM --kv-cache-memory: the pool is given, not derived
        }
        double util = w.gpuMemoryUtilization();
        long pool = switch (w.framework()) {
            case SGLANG -> (long) ((total - nonTorch) * util) - weights;
            case TENSORRT_LLM -> (long) (util * (total - weights - activation - nonTorch));
            default -> (long) (total * util) - weights - activation - nonTorch - budgetedCudaGraphs(w);
        };
        return Math.max(0, pool);
    }

    /** The CUDA-graph memory vLLM 0.21 and later take from the KV budget (none with enforce_eager or before 0.21). */
    static long budgetedCudaGraphs(Workload w) {
        boolean profiled = w.vllmVersion().map(VllmVersion::profilesCudaGraphs).orElse(true);
        return w.framework() == Framework.VLLM && profiled && !w.perf().enforceEager() ? VLLM_CUDA_GRAPHS : 0;
    }

    /** {@link #poolBudget}'s rule in words. */
    static String poolRule(Workload w) {
        if (w.kvCacheMemory() > 0) {
            return "kv_cache_memory (vLLM --kv-cache-memory) = " + w.kvCacheMemory() + " B, given";
        }
        return switch (w.framework()) {
            case SGLANG -> "mem_fraction_static × (total − CUDA context and NCCL) − weights";
            case TENSORRT_LLM -> "free_gpu_memory_fraction × (total − weights − activation peak − CUDA context and "
                    + "NCCL)";
            default -> "gpu_memory_utilization × total − weights − profile-run activation peak − non-torch memory"
                    + (budgetedCudaGraphs(w) > 0 ? " − estimated CUDA-graph memory (vLLM 0.21+)" : "");
        };
    }

    /** SGLang's state pool as a memory term (JSON recurrent_state_pool_bytes). */
    static Term statePoolTerm(ModelSpec m, Workload w, SglangStatePool st) {
        return new Term("recurrent_state_pool", "recurrent-state pool", st.bytes(), () -> st.describe()
                + "; a slot is " + st.slotBytes() + " B: conv window in the compute dtype and recurrent state in "
                + (int) KvCache.stateBytes(m, w) + "-byte elements (SGLang's mamba_ssm_dtype, fp32 by default) for "
                + "every linear-attention layer on this GPU");
    }

    /** The linear-attention layers' state for {@code sequences} sequences, split over {@code tp} ranks. */
    static Term recurrentState(ModelSpec m, Workload w, long sequences, int tp) {
        return new Term("recurrent_state", "recurrent state", KvCache.recurrentStateBytes(m, w, sequences, tp),
                () -> "batch " + sequences + " × " + KvCache.recurrentStateDescription(m, w)
                        + (tp > 1 ? " / TP " + tp : "") + (w.framework() == Framework.LLAMA_CPP
                        ? " (llama.cpp's recurrent buffer: R and S in f32)" : ""));
    }

    // transformers generate(): prefill over the prompt (logits of the last position only), then one token at a time
    // with a growing DynamicCache (torch.cat copies one layer's cache per step).
    private static MemoryEstimate hfGenerate(ModelSpec m, Workload w, Optional<Gpu> gpu, Term weights, Term kvTerm,
                                             int c, double kvElem) {
        long prompt = w.promptLen() > 0 ? w.promptLen() : w.seqLen();
        long prefillTokens = (long) w.batchSize() * prompt;
        long prefillAct = ActivationMemory.inferenceTransient(m, prefillTokens, c, w.attention(), prompt);
        long logits = (long) w.batchSize() * m.vocabSize() * (c + 4);
        long kvPrompt = KvCache.bytes(m, w, w.batchSize(), prompt, kvElem);
        long kv = kvTerm.value();
        long catCopy = kv / Math.max(1, m.numLayers());
        // bitsandbytes 4-bit dequantizes each weight to the compute dtype for multi-token (prefill) matmuls
        long dequant = w.quant().isBitsAndBytes4bit() ? LinearModules.nnLinear(m).stream()
                .mapToLong(lm -> lm.in() * lm.out()).max().orElse(0) * c : 0;
        List<Term> terms = new ArrayList<>();
        terms.add(weights);
        terms.add(kvTerm);
        terms.add(new Term("activations", "activations", prefillAct, () -> "prefill of " + prefillTokens + " tokens, "
                + "largest layer: residual and normed hidden (2·c·h + fp32 4·h) + gate, up, product (3·c·f)"
                + (w.attention() == AttentionImpl.EAGER ? " + eager scores (4 + c)·a·s" : "") + " per token"));
        terms.add(new Term("temporary", "temporaries", logits + catCopy + dequant,
                () -> "last-position logits b·V·(c + 4) "
                + "(logits_to_keep=1) + one layer's cache copy during torch.cat"
                + (dequant > 0 ? " + the largest weight dequantized by bitsandbytes for prefill" : "")));
        terms.add(Overheads.overheadTerm(gpu, Overheads.context(w), 0, ""));
        List<Phase> phases = List.of(
                new Phase("prefill", weights.value() + kvPrompt + prefillAct + logits + dequant,
                        List.of("weights", "kv_cache (prompt)", "activations", "logits")),
                new Phase("end of generation", weights.value() + kv + catCopy + logits,
                        List.of("weights", "kv_cache", "temporary")));
        long peak = phases.stream().mapToLong(Phase::bytes).max().orElse(0);
        // a run that does not fit is not replayed: its reserved figure only says by how much it misses
        // (nor are sizes past any device, which the estimate refuses afterwards)
        Optional<TrainingAllocations.Result> replay = gpu.isPresent() && peak > gpu.get().cudaTotalBytes()
                || !MemoryEstimate.sane(peak) ? Optional.empty()
                : generateReplay(m, w, gpu, kvPrompt / Math.max(1, prompt));
        return finish(terms, phases, gpu, weights.value(), Optional.empty(), Overheads.context(w), List.of(
                "transformers generate() with a DynamicCache; only the last position's logits are computed"), replay,
                w.perf().expandableSegments());
    }

    /**
     * The caching allocator over generate()'s tensors (GenerateAllocations), where the run is small enough to replay
     * and fits the GPU.
     */
    private static Optional<TrainingAllocations.Result> generateReplay(ModelSpec m, Workload w, Optional<Gpu> gpu,
                                                                      long kvPerTokenAllLayers) {
        if (!TrainingAllocations.replayable(m) || GenerateAllocations.calls(m, w) > 200_000
                || !(m.attention() instanceof Attention.Standard) || m.linearLayerCount() > 0
                || !MemoryEstimate.sane(Bytes.ceil(GenerateAllocations.largestTensor(m, w)))) {
            return Optional.empty();
        }
        long perLayer = kvPerTokenAllLayers / Math.max(1, 2L * m.numLayers());
        return Optional.of(GenerateAllocations.replay(m, w, TrainingAllocations.params(m, w,
                org.gpuplan.model.ParameterCounter.count(m)), perLayer, TrainingAllocations.capacity(gpu, w)));
    }

    // vLLM/SGLang/TensorRT-LLM size a KV pool from a memory budget after loading weights and a profile run.
    private static MemoryEstimate pooled(ModelSpec m, Workload w, Optional<Gpu> gpu, Term weights, Term kvTerm,
                                         int c, double kvElem, long context) {
        Gpu g = gpu.orElseThrow(() -> new InvalidInputException("gpu: " + w.framework().key() + " sizes its KV pool "
                + "from the GPU's memory; give --gpu (e.g. H100-SXM-80GB, L40S, A10G)"));
        long total = g.cudaTotalBytes();
        int maxSeqs = maxNumSeqs(w, g);
        int batchedTokens = batchedTokens(w, g);
        long forward = ActivationMemory.servingForward(m, batchedTokens, c, 1);
        long sampled = Math.min(maxSeqs, batchedTokens);
        long activation = profilePeak(m, w, forward, sampled, 1, true);
        long nonTorch = budgetedNonTorch(w);
        double util = w.gpuMemoryUtilization();
        long pool = poolBudget(w, total, weights.value(), activation, nonTorch);
        String poolFormula = poolRule(w) + switch (w.framework()) {
            case SGLANG -> " (SGLang: the free memory before loading × the fraction, less the weights)";
            case TENSORRT_LLM -> " (TensorRT-LLM)";
            default -> " (vLLM determine_available_memory)";
        };
        Optional<SglangStatePool> states = SglangStatePool.of(m, w, pool, 1, m.linearLayerCount());
        if (states.isPresent()) {
            pool = states.get().kvBudget();
        }
        // a block holds a token slot in every layer (vLLM V1's hybrid allocator shares one pool between the full and
        // the sliding-window layer groups), so the pool's token count is per token of all layers; a sliding-window
        // layer's saving shows in how many sequences fit, not in the tokens reported
        double perToken = KvCache.tokenBytesPerLayer(m, w, kvElem, 1) * m.attentionLayerCount();
        double perSequenceToken = KvCache.bytesPerToken(m, w, context, kvElem);
        Optional<HybridPages> hybrid = hybridPages(m, w, kvElem, 1, m.attentionLayerCount(), m.linearLayerCount());
        long blockBytes = hybrid.map(h -> h.groupSize() * h.pageBytes()).orElse(Bytes.ceil(perToken * BLOCK));
        long blocks = blockBytes == 0 ? 0 : pool / blockBytes;
        long block = hybrid.map(HybridPages::blockSize).orElse((long) BLOCK);
        long capacity = blocks * block;
        double concurrency = hybrid.isPresent() ? hybrid.get().concurrency(blocks, context)
                : perSequenceToken == 0 ? 0 : blocks * blockBytes / (perSequenceToken * context);
        if (states.isPresent()) {
            concurrency = Math.min(concurrency, states.get().maxRunningRequests());
        }
        MemoryEstimate.KvPool kvPool = new MemoryEstimate.KvPool(blocks * blockBytes, capacity, concurrency,
                activation, nonTorch);
        List<Term> terms = new ArrayList<>();
        terms.add(weights);
        terms.add(kvTerm);
        String arithmetic = switch (w.framework()) {
            case SGLANG -> String.format(Locale.ROOT, "%.2f × (%s − %s) − %s", util, Bytes.gib(total),
                    Bytes.gib(nonTorch), Bytes.gib(weights.value()));
            case TENSORRT_LLM -> String.format(Locale.ROOT, "%.2f × (%s − %s − %s − %s)", util, Bytes.gib(total),
                    Bytes.gib(weights.value()), Bytes.gib(activation), Bytes.gib(nonTorch));
            default -> String.format(Locale.ROOT, "%.2f × %s − %s − %s − %s", util, Bytes.gib(total),
                    Bytes.gib(weights.value()), Bytes.gib(activation), Bytes.gib(nonTorch))
                    + (budgetedCudaGraphs(w) > 0 ? " − " + Bytes.mib(budgetedCudaGraphs(w)) : "");
        };
        terms.add(new Term("kv_pool", "KV pool", kvPool.poolBytes(), () -> String.format(Locale.ROOT,
                "%s = %s → %,d blocks of %d tokens (%,d tokens, %.1f sequences of %,d)%s",
                poolFormula, arithmetic, blocks, block, capacity, kvPool.maxConcurrency(), context,
                hybrid.map(h -> "; " + h.describe()).orElse("")
                        + states.map(st -> "; after the " + st.describe()).orElse(""))));
        long statePool = states.map(SglangStatePool::bytes).orElse(0L);
        states.ifPresent(st -> terms.add(statePoolTerm(m, w, st)));
        if (m.linearLayerCount() > 0) {
            terms.add(recurrentState(m, w, w.batchSize(), 1));
        }
        terms.add(new Term("activations", "activations", activation, () -> w.framework() == Framework.VLLM
                ? String.format(Locale.ROOT, "max(forward of %,d tokens (max_num_batched_tokens) %s, sampler over %,d "
                + "rows (max_num_seqs) × %,d vocabulary entries %s: %s) — the profile run's peak",
                batchedTokens, Bytes.gib(forward), sampled, m.vocabSize(), Bytes.gib(vllmSampler(m, w, sampled)),
                w.sampler().description())
                : String.format(Locale.ROOT, "profile run of %,d tokens (max_num_batched_tokens) + fp32 logits for %,d "
                + "sequences (max_num_seqs)", batchedTokens, sampled)));
        long graphs = w.framework() == Framework.VLLM && !w.perf().enforceEager() ? VLLM_CUDA_GRAPHS : 0;
        terms.add(new Term("temporary", "temporaries", 0, "none beyond the profiled peak"));
        long profiledNonTorch = w.framework() == Framework.VLLM ? VLLM_PROFILE_NON_TORCH : 0;
        terms.add(Overheads.overheadTerm(gpu, Overheads.context(w), graphs + profiledNonTorch, graphs > 0
                ? "CUDA graph pools (assumed, " + Bytes.mib(graphs) + ") and the profile run's non-torch growth ("
                + Bytes.mib(profiledNonTorch) + ")" : "non-torch growth"));
        long allocated = weights.value() + kvPool.poolBytes() + statePool + activation
                + Overheads.cublasWorkspace(gpu);
        List<Phase> phases = List.of(new Phase("serving (pool allocated)", weights.value() + kvPool.poolBytes()
                + statePool + activation, statePool > 0 ? List.of("weights", "kv_pool", "recurrent_state_pool",
                "activations") : List.of("weights", "kv_pool", "activations")));
        long reserved = allocated + Overheads.cublasReserved(gpu) - Overheads.cublasWorkspace(gpu);
        long outsideTorch = Overheads.context(w) + profiledNonTorch;
        long used = reserved + outsideTorch + graphs;
        List<Term> explanations = List.of(
                new Term("peak_allocated_bytes", "peak allocated", allocated, () -> "weights + KV pool + profiled "
                        + "activation peak + cuBLAS workspace"),
                new Term("peak_reserved_bytes", "peak reserved", reserved, () -> "allocated + segment rounding (the pool "
                        + "is one allocation per layer; little fragmentation)"),
                new Term("device_used_bytes", "device used (nvidia-smi)", used, () -> "reserved + CUDA context and non-torch memory "
                        + Bytes.mib(outsideTorch) + (graphs > 0 ? " + CUDA graphs " + Bytes.mib(graphs) : "")));
        return new MemoryEstimate(terms, phases, phases.get(0), allocated, reserved, used, Optional.of(kvPool),
                explanations, List.of(w.framework().key() + " defaults: max_num_batched_tokens " + batchedTokens
                + ", max_num_seqs " + maxSeqs + (w.vllmVersion().isPresent() ? " (vLLM " + w.vllmVersion().get()
                + (w.vllmVersion().get().v0() ? ", V0 engine" : "") + " defaults)" : " (vLLM V1 server defaults "
                + "for this GPU size)") + ", block size "
                + BLOCK + ", gpu_memory_utilization " + util));
    }

    /**
     * vLLM's dummy sampler run after the profile forward: every sampled row's logits over the whole vocabulary, at
     * the sampler's bytes per entry (FlashInfer 14, PyTorch's sort 32). V1 all-gathers the logits on every
     * tensor-parallel rank; V0 gathers them on the driver, the rank that limits the pool. The forward's transients
     * are freed by then, so the profiled peak is the larger of the two. Measured: vLLM 0.19 (FlashInfer) prints a
     * torch peak of 3.62-3.66 GiB for Gemma-2 2B-27B at 1,024 rows × 256,000 entries (14.8 B); a V0 0.7 driver at TP 2
     * held 1.23 GiB more than its peer for 256 rows × 152,064 entries (33.8 B).
     */
    static long vllmSampler(ModelSpec m, Workload w, long rows) {
        return rows * m.vocabSize() * w.sampler().bytesPerEntry();
    }

    /**
     * The activation peak a pooling engine subtracts, per GPU: vLLM's profile run (the larger of the forward and, on
     * the last pipeline stage, the sampler run); otherwise the forward plus fp32 logits of the sampled rows / TP.
     * {@code forward} is already per GPU.
     */
    static long profilePeak(ModelSpec m, Workload w, long forward, long sampledRows, int tp, boolean lastStage) {
        if (w.framework() == Framework.VLLM) {
            return Math.max(forward, lastStage ? vllmSampler(m, w, sampledRows) : 0);
        }
        return forward + (lastStage ? sampledRows * m.vocabSize() * 4 / tp : 0);
    }

    /**
     * The non-torch memory taken from a pool's budget: vLLM subtracts only what grew outside PyTorch during its
     * profile run (its baseline already holds the CUDA context); SGLang and TensorRT-LLM size the pool from the free
     * memory, which the context has already taken.
     */
    static long budgetedNonTorch(Workload w) {
        if (w.framework() == Framework.VLLM) {
            // vLLM 0.2.5-0.6.3 measured total − free after the profile: the CUDA context is in it too
            return VLLM_PROFILE_NON_TORCH + (w.vllmVersion().map(VllmVersion::profileSeesDevice).orElse(false)
                    ? Overheads.context(w) : 0);
        }
        return Overheads.context(w);
    }

    // llama.cpp: weights (token embeddings stay on the host), KV buffers, and the compute buffer. ggml's graph
    // allocator reuses memory, so the buffer is the largest set of f32 tensors alive at one node of the graph:
    // either the output (u·V logits with the final hidden state, u·h) or the attention of a layer (the KQ matrix
    // n_ctx·u·n_head, the KQ mask n_ctx·u and four hidden-sized tensors). This reproduces the logged buffers:
    // Llama-2-7B 70.50 MiB at n_ctx 512 (the logits) and 164.00 MiB at 2048 (attention), Mistral-7B 164.01 MiB at
    // 2048 (GQA and FFN width do not enter). Flash attention keeps no KQ matrix, but the f32 mask is cast to f16
    // (llama-graph.cpp self_kq_mask_cnv): both are alive at the cast, beside the first layer's Q, K, V and the
    // residual stream (GLM-4.5-Air at n_ctx 131,072 and n_ubatch 4,096: 3,584.09 MiB logged).
    private static MemoryEstimate llamaCpp(ModelSpec m, ParameterBreakdown p, Workload w, Optional<Gpu> gpu,
                                           Term allWeights, Term allKv, double kvElem) {
        long ubatch = Math.min(nUbatch(w), Math.max(1, w.promptLen() > 0 ? w.promptLen() : w.seqLen()));
        long nctx = (long) w.seqLen() * w.batchSize();
        long heads = m.attention().numHeads();
        long h = m.hiddenSize();
        boolean flash = w.attention().flashKernel();
        int n = m.numLayers();
        boolean partial = w.partialOffload(n);
        Placement place = placement(m, p, w, allWeights, allKv, kvElem, ubatch);
        int from = place.from();
        Term weights = place.weights();
        Term kvTerm = place.kv();
        long host = place.host();
        long outputCopy = place.outputCopy();
        long layerCopy = place.layerCopy();
        long logits = 4L * ubatch * (m.vocabSize() + h);
        // the logits are a GPU node when the output layer is offloaded or op offload runs its matmul there
        long output = partial && !w.gpuLayers().opOffload() ? 0 : logits + outputCopy;
        // a GPU split that follows host layers receives their hidden state as an input copy of its own
        long splitInput = partial && from > 0 && from < n ? 4L * ubatch * h : 0;
        long qkv = qDim(m) + 2 * kvDim(m);
        int build = w.gpuLayers().llamacppBuild();
        // the f32 mask and its f16 cast; from b9410 only the f16 mask, built on the host and copied in
        long maskBytes = build >= LlamaCppGraph.F16_MASK_FROM ? 2 : 6;
        // no offloaded layer, no attention on the GPU (its KV cache is in host memory)
        long attention = from >= n ? 0 : (flash ? maskBytes * nctx * ubatch + 4L * ubatch * (h + qkv)
                : 4L * nctx * ubatch * heads + 4L * nctx * ubatch + 16L * ubatch * h) + splitInput;
        String splitText = splitInput > 0 ? " + the hidden state copied in from the host layers 4·n_ubatch·h" : "";
        long hostLayer = layerCopy > 0 ? layerCopy + 4L * ubatch * (h + maxIntermediate(m)) : 0;
        long closedForm = Math.max(output, Math.max(attention, hostLayer));
        long copied = outputCopy;
        // the whole graph through ggml's allocator where gpuplan builds the family's graph (one sequence, every
        // layer on the GPU, flash attention); the closed formula elsewhere
        java.util.Optional<LlamaCppGraph> graph = flash && !partial && place.cpuMoe() == 0 && w.batchSize() == 1
                ? LlamaCppGraph.of(m, build).filter(g -> g.simulable(ubatch, nctx)) : java.util.Optional.empty();
        GgmlGraphAllocator.Result simulated = graph.map(g -> g.computeBuffers(ubatch, nctx)).orElse(null);
        long compute = simulated != null ? simulated.bufferBytes()[0] : closedForm;
        List<Term> terms = new ArrayList<>();
        terms.add(weights);
        terms.add(kvTerm);
        if (simulated != null) {
            LlamaCppGraph g = graph.get();
            terms.add(new Term("activations", "compute buffer", compute, () -> String.format(Locale.ROOT,
                    "ggml's graph allocator over llama.cpp's reservation graph (%d nodes, n_ubatch %d, n_ctx %d; %s): "
                    + "the buffer's end is set by '%s' (%s at offset %s); the order of allocations, not a size "
                    + "rule, decides it (closed-form view: logits 4·n_ubatch·(V + h) = %s, attention %s); the host "
                    + "compute buffer of %s (inputs: tokens, positions, KQ mask) is pinned host memory, not counted",
                    simulated.graphNodes(), ubatch, nctx, g.describe(), simulated.peakTensor(),
                    Bytes.mib(simulated.peakTensorBytes()), Bytes.mib(simulated.peakTensorOffset()),
                    Bytes.mib(logits), Bytes.mib(attention), Bytes.mib(simulated.bufferBytes()[1]))));
        } else {
            terms.add(new Term("activations", "compute buffer", compute, () -> String.format(Locale.ROOT,
                    "max(output: 4·n_ubatch·(V + h) = %s%s, attention: %s = %s%s) with n_ubatch %d, n_ctx %d%s",
                    Bytes.mib(logits), copied > 0 ? " + the host output matrix copied for the GPU matmul " + Bytes.mib(copied)
                            : "", flash ? (maskBytes == 6 ? "6·n_ctx·n_ubatch (f32 mask and its f16 cast for flash "
                            + "attention)" : "2·n_ctx·n_ubatch (the f16 mask of b9410 and later)") + " + "
                            + "4·n_ubatch·(h + q + 2·kv) (residual stream, Q, K, V; q = " + qDim(m) + ", kv = " + kvDim(m)
                            + ")" + splitText
                            : "4·n_ctx·n_ubatch·(n_head + 1) + 16·n_ubatch·h (f32 KQ and mask)" + splitText,
                    Bytes.mib(attention),
                    hostLayer > 0 ? ", a host layer's matmul: its largest matrix copied + 4·n_ubatch·(h + f) = "
                            + Bytes.mib(hostLayer) : "", ubatch, nctx, flash && !partial ? "; the closed form "
                            + "misses where ggml's allocator places the logits above tensors that stay alive, which only a graph "
                            + "simulation follows (done for dense llama/mistral/qwen2/qwen3 with one sequence)" : "")));
        }
        terms.add(new Term("temporary", "temporaries", 0, "output logits live in a host buffer"));
        terms.add(new Term("overhead", "CUDA context", Overheads.context(w), () -> "CUDA context and cuBLAS handles "
                + Bytes.mib(Overheads.context(w))));
        long bytes = weights.value() + kvTerm.value() + compute;
        List<Phase> phases = List.of(new Phase("decode (buffers allocated)", bytes,
                List.of("weights", "kv_cache", "compute buffer")));
        List<Term> explanations = List.of(
                new Term("peak_allocated_bytes", "buffers", bytes, () -> "model + KV + compute buffers (llama.cpp "
                        + "allocates them once)"),
                new Term("peak_reserved_bytes", "buffers", bytes, "same: llama.cpp does not use a caching allocator"),
                new Term("device_used_bytes", "device used (nvidia-smi)", bytes + Overheads.context(w),
                        "buffers + CUDA context"));
        int cpuMoe = place.cpuMoe();
        String placement = (partial ? "-ngl " + w.nGpuLayers() + ": the last " + w.nGpuLayers() + " of " + n
                + " layers on the GPU, the output layer and the rest in host memory" : "all layers offloaded (-ngl 999)")
                + (cpuMoe > 0 ? "; routed experts of the first " + cpuMoe + " layers in host memory (--n-cpu-moe)" : "")
                + (host > 0 ? " (" + Bytes.mib(host) + " of weights and KV there)" : "");
        return new MemoryEstimate(terms, phases, phases.get(0), bytes, bytes, bytes + Overheads.context(w),
                Optional.empty(), explanations, List.of(placement + "; token embeddings stay in host memory; n_ubatch "
                + ubatch + "; KV cache " + w.kvDtype().key()), host);
    }

    /**
     * Where llama.cpp's weights and KV cache live (-ngl, --n-cpu-moe) and what op offload copies into the compute
     * buffer for batched matmuls of host-resident weights.
     *
     * @param host       weights and KV cache left in host memory
     * @param outputCopy the host output matrix copied beside the logits
     * @param layerCopy  a host layer's largest tensor copied beside its activations
     * @param from       the first layer on the GPU (-ngl counts from the last)
     * @param cpuMoe     the layers, from the first, whose routed experts stay in host memory
     */
    private record Placement(Term weights, Term kv, long host, long outputCopy, long layerCopy, int from,
                             int cpuMoe) {
    }

    private static Placement placement(ModelSpec m, ParameterBreakdown p, Workload w, Term allWeights, Term allKv,
                                       double kvElem, long ubatch) {
        int n = m.numLayers();
        boolean partial = w.partialOffload(n);
        int from = partial ? n - w.nGpuLayers() : 0;
        int cpuMoe = m.moe() == null ? 0 : w.gpuLayers().cpuMoeLayers(n);
        if (!partial && cpuMoe == 0) {
            return new Placement(allWeights, allKv, 0, 0, 0, from, cpuMoe);
        }
        WeightMemory.LlamaCppSplit split = WeightMemory.llamaCppSplit(m, p, w, allWeights.value(), from, cpuMoe,
                !partial);
        String placed = (partial ? String.format(Locale.ROOT, "-ngl %d: layers %d-%d of %d on the GPU, the output "
                + "layer%s in host memory", w.nGpuLayers(), from, n - 1, n, from > 0 ? " and layers 0-" + (from - 1)
                : "") : "every layer on the GPU") + (cpuMoe > 0 ? String.format(Locale.ROOT, "; the routed experts of layers 0-%d in "
                + "host memory (--n-cpu-moe %d)", cpuMoe - 1, cpuMoe) : "");
        Term weights = new Term("weights", "weights", split.gpu(), () -> String.format(Locale.ROOT, "%s: each layer "
                + "its share of the all-offloaded %s by its bits (%s); %s stay in host memory", placed,
                Bytes.mib(allWeights.value()), allWeights.formula(), Bytes.mib(split.host())));
        Term kv = allKv;
        if (from > 0) {
            long kvGpu = KvCache.bytes(m, w, w.batchSize(), w.seqLen(), kvElem, from, n);
            kv = new Term("kv_cache", "KV cache", kvGpu, () -> String.format(Locale.ROOT, "the offloaded layers' "
                    + "share (%d of %d layers) of %s = %s; the other layers' KV buffers (%s) stay in host memory",
                    n - from, n, Bytes.mib(allKv.value()), allKv.formula(), Bytes.mib(allKv.value() - kvGpu)));
        }
        // ggml's scheduler runs batched matmuls (>= 32 tokens) of host-resident weights on the GPU (op offload, the
        // default since mid-2025), copying the weight into the compute buffer
        boolean copies = ubatch >= 32 && w.gpuLayers().opOffload();
        return new Placement(weights, kv, split.host() + allKv.value() - kv.value(),
                copies ? split.outputMatrix() : 0, copies ? split.largestHostMatrix() : 0, from, cpuMoe);
    }

    /**
     * The weights a GPU holds when vLLM or SGLang keep {@code cpu_offload_gb} GiB of them in pinned host memory
     * (--cpu-offload-gb, per GPU): the rest, which the engine sizes its pool around.
     */
    static Term hostOffloaded(Term weights, Workload w) {
        long off = offloadedBytes(weights.value(), w);
        if (off <= 0) {
            return weights;
        }
        return new Term("weights", "weights", weights.value() - off, () -> weights.formula() + "; less "
                + Bytes.gib(off) + " kept in pinned host memory (--cpu-offload-gb " + w.gpuLayers().cpuOffloadGib()
                + "), read over the host link in every forward");
    }

    /** Of {@code weights} bytes on a GPU, what --cpu-offload-gb keeps in pinned host memory. */
    public static long offloadedBytes(long weights, Workload w) {
        return Math.min(weights, w.gpuLayers().cpuOffloadBytes());
    }

    /** llama.cpp runs some of the model's layers or routed experts from host memory (-ngl, --n-cpu-moe). */
    public static boolean llamaCppHostResident(ModelSpec m, Workload w) {
        return w.framework() == Framework.LLAMA_CPP && (w.partialOffload(m.numLayers())
                || m.moe() != null && w.gpuLayers().cpuMoeLayers(m.numLayers()) > 0);
    }

    /** The widest MLP intermediate of any layer (dense or expert), the largest activation a matmul writes. */
    private static long maxIntermediate(ModelSpec m) {
        return LinearModules.of(m).stream().mapToLong(lm -> Math.max(lm.in(), lm.out())).max().orElse(m.hiddenSize());
    }

    /** llama.cpp's physical batch n_ubatch (-ub): 512 by default, max_num_batched_tokens when given. */
    static long nUbatch(Workload w) {
        return w.maxNumBatchedTokens() > 0 ? w.maxNumBatchedTokens() : 512;
    }

    /** Width of one token's queries across all heads. */
    private static long qDim(ModelSpec m) {
        if (m.attention() instanceof Attention.Latent l) {
            return (long) l.numHeads() * l.qkHeadDim();
        }
        Attention.Standard s = (Attention.Standard) m.attention();
        return (long) s.numHeads() * s.headDim();
    }

    /** Width of one token's keys (and of its values) across the KV heads; MLA's latent plus rope part. */
    private static long kvDim(ModelSpec m) {
        if (m.attention() instanceof Attention.Latent l) {
            return l.kvLoraRank() + l.qkRopeHeadDim();
        }
        Attention.Standard s = (Attention.Standard) m.attention();
        return (long) s.numKvHeads() * s.headDim();
    }

    private static MemoryEstimate finish(List<Term> terms, List<Phase> phases, Optional<Gpu> gpu, long weights,
                                         Optional<MemoryEstimate.KvPool> pool, long context,
                                         List<String> assumptions) {
        return finish(terms, phases, gpu, weights, pool, context, assumptions, Optional.empty(), false);
    }

    private static MemoryEstimate finish(List<Term> terms, List<Phase> phases, Optional<Gpu> gpu, long weights,
                                         Optional<MemoryEstimate.KvPool> pool, long context,
                                         List<String> assumptions, Optional<TrainingAllocations.Result> replay,
                                         boolean expandable) {
        Phase peak = phases.stream().max((x, y) -> Long.compare(x.bytes(), y.bytes())).orElseThrow();
        long ws = Overheads.cublasWorkspace(gpu);
        long allocated = peak.bytes() + ws;
        long churn = Math.max(0, peak.bytes() - weights);
        long slack = replay.map(TrainingAllocations.Result::slack)
                .orElseGet(() -> Bytes.ceil(Overheads.FRAGMENTATION * churn));
        long reserved = peak.bytes() + Overheads.cublasReserved(gpu) + slack;
        long used = reserved + context;
        List<Term> explanations = List.of(
                new Term("peak_allocated_bytes", "peak allocated", allocated, () -> "largest phase ('" + peak.name()
                        + "') + cuBLAS workspace"),
                new Term("peak_reserved_bytes", "peak reserved", reserved, () -> replay.isPresent()
                        ? "allocated + segment rounding + the caching allocator's slack " + Bytes.gib(slack)
                        + ": generate()'s tensors (weights, the prefill layer by layer, the DynamicCache copied one "
                        + "token longer per layer and step by torch.cat, the last position's logits) replayed through "
                        + "PyTorch's allocator rules (" + CachingAllocator.rules(expandable) + ") reach "
                        + Bytes.gib(replay.get().peakReserved()) + " reserved at "
                        + Bytes.gib(replay.get().peakAllocated()) + " allocated"
                        : "allocated + segment rounding + " + (int) (Overheads.FRAGMENTATION * 100)
                        + " % of the non-weight bytes as cached blocks"),
                new Term("device_used_bytes", "device used (nvidia-smi)", used, "reserved + CUDA context"));
        return new MemoryEstimate(terms, phases, peak, allocated, reserved, used, pool, explanations, assumptions);
    }
}
