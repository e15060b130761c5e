package org.gpuplan.memory;

import java.util.Locale;
import java.util.Optional;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.Workload;

/**
 * SGLang's pool of linear-attention states (its MambaPool) for hybrid models such as Qwen3-Next and Qwen3.5. SGLang
 * splits the budget left after the weights between this pool and the KV pool of the attention layers
 * (model_runner_kv_cache_mixin.py handle_max_mamba_cache, with the radix cache on, its default): the states take
 * budget · r / (1 + r) with r = --mamba-full-memory-ratio (0.9), in whole slots of one request's state in every linear
 * layer of the rank; the KV pool gets the rest. A running request holds three slots (the radix cache keeps states of
 * cached prefixes: MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO), so the running requests are capped at slots / 3.
 * MambaPool allocates one slot more than it counts (a padding slot). --max-mamba-cache-size sets the slots instead
 * of the split. Checked against SGLang's start-up log of
 * Qwen3.5-9B on two RTX 4090s (validation set).
 *
 * @param slots     max_mamba_cache_size: the states the pool holds
 * @param slotBytes one request's state on this rank: conv window and recurrent matrix of every linear layer
 * @param budget    the budget the pool and the KV pool share
 * @param slotsPerRequest slots a running request holds: three with the radix cache (SGLang's default), one without
 */
public record SglangStatePool(long slots, long slotBytes, long budget, int slotsPerRequest) {

    /** --mamba-full-memory-ratio: state memory over KV memory (server_args.py default). */
    static final double FULL_MEMORY_RATIO = 0.9;

    /** Slots a running request holds with the radix cache on (no_buffer strategy); one without it. */
    static final int SLOTS_PER_REQUEST = 3;

    /**
     * The pool for a rank holding {@code linearLayers} linear-attention layers, or empty when the engine is not SGLang
     * or the rank has none.
     */
    static Optional<SglangStatePool> of(ModelSpec m, Workload w, long budget, int tp, long linearLayers) {
        if (w.framework() != Framework.SGLANG || linearLayers == 0 || m.linearAttention() == null) {
            return Optional.empty();
        }
        long slotBytes = Bytes.ceil(KvCache.statePerLayer(m, w, tp) * linearLayers);
        long share = (long) (Math.max(0, budget) * FULL_MEMORY_RATIO / (1 + FULL_MEMORY_RATIO));
        // an explicit --max-mamba-cache-size wins over the split (as far as the budget reaches); without the radix
        // cache, a --max-running-requests sets it (SGLang since 2026-02, PR #18786)
        boolean radix = w.stateCache().radixCache();
        long asked = w.stateCache().slots() > 0 ? w.stateCache().slots() : !radix ? w.maxNumSeqs() : 0;
        long slots = slotBytes == 0 ? 0 : asked > 0 ? Math.min(asked, Math.max(0, budget) / slotBytes)
                : share / slotBytes;
        return Optional.of(new SglangStatePool(slots, slotBytes, budget, radix ? SLOTS_PER_REQUEST : 1));
    }

    /** What the pool allocates: its slots and the padding slot. */
    public long bytes() {
        return slots == 0 ? 0 : (slots + 1) * slotBytes;
    }

    /** The budget left to the KV pool: SGLang subtracts the counted slots only. */
    public long kvBudget() {
        return Math.max(0, budget - slots * slotBytes);
    }

    /** How many requests can run at once with these states. */
    public long maxRunningRequests() {
        return slots / slotsPerRequest;
    }

    public String describe() {
        return String.format(Locale.ROOT, "SGLang state pool: %,d slots of %s (+1 padding slot; %s × %.1f/%.1f "
                        + "unless --max-mamba-cache-size or, without the radix cache, --max-running-requests), %,d running requests at %d slot%s each; the KV pool gets "
                        + "the rest of %s, %s", slots, Bytes.mib(slotBytes), Bytes.gib(budget), FULL_MEMORY_RATIO,
                1 + FULL_MEMORY_RATIO, maxRunningRequests(), slotsPerRequest, slotsPerRequest == 1 ? "" : "s", Bytes.gib(budget),
                Bytes.gib(kvBudget()));
    }
}
