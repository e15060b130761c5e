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
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.Parallelism;
import org.gpuplan.workload.Workload;

/**
 * Serving across GPUs with tensor and pipeline parallelism (vLLM/SGLang/TensorRT-LLM semantics): weights split by TP
 * (vocab-parallel embeddings and LM head, replicated norms) and by pipeline stage; KV heads split by TP, each rank
 * keeping at least one (replicated when TP exceeds the KV heads, vLLM ModelConfig.get_num_kv_heads); MLA latents
 * replicated on every TP rank; the per-GPU pool sized from the same budget as on one GPU, less the NCCL buffers.
 * Data-parallel replicas are independent copies.
 */
public final class ShardedInference {

    private ShardedInference() {
    }

    /** KV elements per token per layer on one TP rank. */
    static long kvElementsPerRank(ModelSpec m, Workload w, int tp) {
        if (m.attention() instanceof Attention.Latent) {
            long all = KvCache.elementsPerTokenPerLayer(m, w);
            // the latent is replicated on every TP rank; per-head K and V split with the heads
            return KvCache.effective(m, w.framework(), w.kvLayout()) == org.gpuplan.workload.KvLayout.PER_HEAD
                    ? all / tp : all;
        }
        KvCache.elementsPerTokenPerLayer(m, w); // refuses an MLA kv_layout on standard attention
        Attention.Standard s = (Attention.Standard) m.attention();
        int heads = Math.max(1, s.numKvHeads() / tp);
        return 2L * heads * s.headDim();
    }

    public static List<ShardedTraining.Stage> estimate(ModelSpec m, ParameterBreakdown p, Workload w,
                                                       Optional<Gpu> gpu) {
        Parallelism par = w.parallelism();
        ShardedTraining.check(m, w, par);
        if (w.framework() == Framework.LLAMA_CPP) {
            throw new InvalidInputException("gpus: multi-GPU llama.cpp (layer or row split) is not modelled; use "
                    + "--gpus 1, or vllm/sglang for tensor parallelism");
        }
        Gpu g = gpu.orElseThrow(() -> new InvalidInputException("gpu: multi-GPU serving is sized from the GPU's "
                + "memory; give --gpu"));
        int pp = par.pp();
        int perStage = par.gpus() / pp;
        // every worker allocates the same number of KV blocks, the fewest any worker's budget holds (vLLM
        // unify_kv_cache_configs / V0 determine_num_available_blocks take the minimum): pipeline stages with
        // lighter layers keep part of their budget unused
        List<MemoryEstimate> stages = new ArrayList<>();
        long blocks = Long.MAX_VALUE;
        for (int s = 0; s < pp; s++) {
            MemoryEstimate e = stage(m, p, w, g, s, Long.MAX_VALUE);
            stages.add(e);
            blocks = Math.min(blocks, blocks(e));
        }
        List<ShardedTraining.Stage> out = new ArrayList<>();
        for (int s = 0; s < pp; s++) {
            // only a stage whose own budget holds more blocks than the tightest one is sized again
            MemoryEstimate e = blocks(stages.get(s)) > blocks ? stage(m, p, w, g, s, blocks) : stages.get(s);
            out.add(new ShardedTraining.Stage(ShardedTraining.stageName(s, s, pp), perStage, e));
        }
        return ShardedTraining.merge(out, pp, perStage);
    }

    /** KV blocks a stage's pool holds (none without a pool). */
    private static long blocks(MemoryEstimate e) {
        return e.pool().map(MemoryEstimate.KvPool::capacityTokens).orElse(0L) / InferenceMemory.BLOCK;
    }

    private static MemoryEstimate stage(ModelSpec m, ParameterBreakdown p, Workload w, Gpu g, int stage,
                                        long maxBlocks) {
        Parallelism par = w.parallelism();
        ShardedTraining.StageParams sp = ShardedTraining.stageParams(m, p, par, stage);
        Term allWeights = WeightMemory.weights(m, p, w);
        boolean dpAttention = par.attentionDp() && m.attention() instanceof Attention.Latent && par.tp() > 1;
        double heldParams = sp.params();
        if (dpAttention) {
            // attention weights replicated on every rank of the group instead of split by TP
            double attention = (org.gpuplan.model.ParameterCounter.attentionPerLayer(m.attention(), m.hiddenSize())
                    - org.gpuplan.model.ParameterCounter.attentionReplicatedPerLayer(m.attention(), m.hiddenSize()))
                    * sp.layers();
            heldParams += attention - attention / par.tp();
        }
        long held = (long) (allWeights.value() * (heldParams / p.totalCount()));
        // vLLM's Marlin padding of this rank's MXFP4 experts (pre-Hopper GPUs)
        Term padded = InferenceMemory.withMarlinPadding(new Term("weights", "weights", held, ""), m, w,
                Optional.of(g), heldParams / p.totalCount());
        held = padded.value();
        // vLLM's LoRA slots of this rank's layers (--enable-lora)
        long loraSlots = (long) Math.ceil(LoraAdapters.servingSlotBytes(m, w, par.tp()) * sp.layers()
                / m.numLayers());
        held += loraSlots;
        // --cpu-offload-gb: that much of each rank's weights in pinned host memory
        long offloaded = InferenceMemory.offloadedBytes(held, w);
        long weights = held - offloaded;
        int c = w.precision().computeBytes();
        double kvElem = w.kvDtype().bytes(c);
        long perLayer = kvElementsPerRank(m, w, par.tp());
        long context = w.seqLen();
        int first = ShardedTraining.firstLayer(m.numLayers(), par.pp(), stage, true);
        long linearLayers = m.layers().subList(first, Math.min(m.numLayers(), first + (int) sp.layers())).stream()
                .filter(org.gpuplan.model.Layer::linearAttention).count();
        long attentionLayers = (long) sp.layers() - linearLayers;
        double perToken = KvCache.tokenBytesPerLayer(m, w, kvElem, par.tp()) * attentionLayers;
        // sliding-window and chunked layers keep at most their window of each sequence
        double windowed = KvCache.windowedShare(m, context, first, first + (int) sp.layers());
        long kv = (long) (perToken * context * w.batchSize() * windowed);
        long total = g.cudaTotalBytes();
        int batched = InferenceMemory.batchedTokens(w, g);
        int seqs = InferenceMemory.maxNumSeqs(w, g);
        long forward = ActivationMemory.servingForward(m, batched, c, par.tp());
        boolean last = stage == par.pp() - 1;
        long sampled = Math.min(seqs, batched);
        boolean vllm = w.framework() == Framework.VLLM;
        long residue = InferenceMemory.allReduceResidue(m, w, batched, c, par.tp(), (long) sp.layers(), stage == 0);
        long activation = InferenceMemory.profilePeak(m, w, forward, sampled, par.tp(), last) + residue;
        long nonTorch = InferenceMemory.budgetedNonTorch(w) + ShardedTraining.nccl(par);
        List<Term> terms = new ArrayList<>();
        terms.add(new Term("weights", "weights", weights, () -> String.format(Locale.ROOT, "%s, of which this rank holds "
                + "%.2f %% (TP %d, PP stage %d: %d layers)%s", allWeights.formula(), 100 * sp.params() / p.totalCount(),
                par.tp(), stage, (int) sp.layers(), padded.formula() + (loraSlots > 0 ? "; + vLLM LoRA slots "
                + Bytes.mib(loraSlots) + " (" + w.loraSlots().maxLoras() + " adapters × rank " + w.loraSlots().maxRank()
                + ", A of row-parallel and B of column-parallel layers split over TP)" : ""))));
        terms.add(new Term("kv_cache", "KV cache", kv, () -> String.format(Locale.ROOT,
                "batch %d × context %d × %d attention layers "
                + "× %d elements (KV heads per rank: max(1, kv/TP)%s) × %.4g B", w.batchSize(), context,
                (int) attentionLayers, perLayer, m.attention() instanceof Attention.Latent ? (dpAttention
                        ? "; MLA latent of this rank's own sequences (attention data parallel)"
                        : KvCache.effective(m, w.framework(), w.kvLayout()) == org.gpuplan.workload.KvLayout.PER_HEAD
                        ? "; " + KvCache.layoutDescription(m, w.framework(), w.kvLayout()) + ", split over TP"
                        : "; " + KvCache.layoutDescription(m, w.framework(), w.kvLayout())
                        + ", replicated on every TP rank") : "", kvElem)
                + (windowed < 1 ? String.format(Locale.ROOT, " × %.4f (sliding-window/chunked layers keep at most "
                + "%d tokens of a sequence)", windowed, m.slidingWindow()) : "")));
        if (dpAttention) {
            kv = kv / par.tp(); // the requested sequences are spread over the attention-DP ranks
        }
        long state = 0;
        if (linearLayers > 0) {
            Term all = InferenceMemory.recurrentState(m, w, w.batchSize(), par.tp());
            state = all.value() * linearLayers / m.linearLayerCount();
            long stageState = state;
            terms.add(new Term("recurrent_state", "recurrent state", stageState, () -> all.formula() + " × "
                    + linearLayers + "/" + m.linearLayerCount() + " layers on this stage"));
        }
        long pool = 0;
        long capacity = 0;
        double concurrency = 0;
        Optional<SglangStatePool> states = Optional.empty();
        if (w.framework().poolsKvCache()) {
            pool = InferenceMemory.poolBudget(w, total, weights, activation, nonTorch);
            states = SglangStatePool.of(m, w, pool, par.tp(), linearLayers);
            if (states.isPresent()) {
                pool = states.get().kvBudget();
            }
            Optional<HybridPages> hybrid = InferenceMemory.hybridPages(m, w, kvElem, par.tp(), attentionLayers,
                    linearLayers);
            long block = hybrid.map(h -> h.groupSize() * h.pageBytes())
                    .orElse((long) Math.ceil(perToken * InferenceMemory.BLOCK));
            long blocks = block == 0 ? 0 : Math.min(maxBlocks, pool / block);
            capacity = blocks * hybrid.map(HybridPages::blockSize).orElse((long) InferenceMemory.BLOCK);
            pool = blocks * block;
            // the pool counts a token slot in every layer (vLLM V1's hybrid allocator); windows show in how many
            // sequences fit
            concurrency = (hybrid.isPresent() ? hybrid.get().concurrency(blocks, context)
                    : capacity / (context * windowed)) * (dpAttention ? par.tp() : 1);
            if (states.isPresent()) {
                concurrency = Math.min(concurrency, states.get().maxRunningRequests());
            }
            long tokens = capacity;
            Optional<SglangStatePool> st = states;
            String rule = InferenceMemory.poolRule(w);
            terms.add(new Term("kv_pool", "KV pool", pool, () -> String.format(Locale.ROOT,
                    "per GPU: %s = %,d tokens", rule, tokens)
                    + st.map(x -> "; after the " + x.describe()).orElse("")));
            states.ifPresent(x -> terms.add(InferenceMemory.statePoolTerm(m, w, x)));
        }
        long statePool = states.map(SglangStatePool::bytes).orElse(0L);
        terms.add(new Term("activations", "activations", activation, () -> vllm
                ? String.format(Locale.ROOT, "max(forward of %,d tokens / TP %s, sampler over %,d rows × %,d "
                + "vocabulary entries on every TP rank%s: %s)", batched, Bytes.gib(forward), sampled,
                m.vocabSize(), last ? "" : ", not on this pipeline stage", w.sampler().description())
                + (residue > 0 ? String.format(Locale.ROOT, " + %s: vLLM %s keeps every all-reduce's output "
                + "cached until the profile ends (record_stream; issue #2150), (2 × %d layers%s) × %,d tokens × h %d "
                + "× %d B", Bytes.gib(residue), w.vllmVersion().get(), (int) sp.layers(), stage == 0 ? " + 1" : "",
                batched, m.hiddenSize(), c) : "")
                : "profile-run activations of " + batched + " tokens / TP"));
        terms.add(new Term("temporary", "temporaries", 0, "none beyond the profiled peak"));
        // vLLM captures its CUDA graphs on every rank after the pool is allocated, outside the budget (as on one GPU)
        long graphs = vllm && !w.perf().enforceEager() ? InferenceMemory.VLLM_CUDA_GRAPHS : 0;
        terms.add(Overheads.overheadTerm(Optional.of(g), Overheads.context(w), ShardedTraining.nccl(par)
                + (vllm ? InferenceMemory.VLLM_PROFILE_NON_TORCH : 0) + graphs, vllm ? "NCCL buffers, the profile "
                + "run's non-torch growth" + (graphs > 0 ? " and CUDA graph pools (assumed, " + Bytes.mib(graphs) + ")"
                : "") : "NCCL buffers"));
        long allocated = weights + (w.framework().poolsKvCache() ? pool + statePool : kv + state) + activation
                + Overheads.cublasWorkspace(Optional.of(g));
        long reserved = allocated + Overheads.cublasReserved(Optional.of(g)) - Overheads.cublasWorkspace(Optional.of(g));
        long used = reserved + nonTorch + (vllm ? Overheads.context(w) + graphs : 0);
        List<Phase> phases = List.of(new Phase("serving", allocated, List.of("weights", "kv", "activations")));
        List<Term> explanations = List.of(
                new Term("peak_allocated_bytes", "peak allocated", allocated, "weights + KV (pool) + activations"),
                new Term("peak_reserved_bytes", "peak reserved", reserved, "allocated + segment rounding"),
                new Term("device_used_bytes", "device used (nvidia-smi)", used, "reserved + CUDA context + NCCL"));
        Optional<MemoryEstimate.KvPool> kvPool = w.framework().poolsKvCache()
                ? Optional.of(new MemoryEstimate.KvPool(pool, capacity, concurrency, activation, nonTorch))
                : Optional.empty();
        return new MemoryEstimate(terms, phases, phases.get(0), allocated, reserved, used, kvPool, explanations,
                List.of(String.format(Locale.ROOT, "tp %d × pp %d per replica, %d replicas%s", par.tp(), par.pp(),
                        par.dp(), offloaded > 0 ? "; " + Bytes.gib(offloaded) + " of each rank's weights in pinned "
                        + "host memory (--cpu-offload-gb)" : "")), offloaded);
    }
}
