package org.gpuplan.workload;

import org.gpuplan.model.InvalidInputException;

/**
 * How a serving engine keeps the states of linear-attention layers.
 *
 * @param dtype the recurrent state's dtype (AUTO: the engine's default)
 * @param slots SGLang --max-mamba-cache-size: the states its pool holds; 0 lets SGLang split its budget
 * @param radixCache SGLang's prefix (radix) cache, on by default: it keeps the states of cached prefixes, so a running
 *                   request holds three slots; --disable-radix-cache leaves one
 */
public record StateCache(StateDtype dtype, int slots, boolean radixCache) {
    public static final StateCache DEFAULT = new StateCache(StateDtype.AUTO, 0, true);

    public StateCache {
        if (slots < 0) {
            throw new InvalidInputException("max_mamba_cache_size must be positive, got " + slots);
        }
    }
}
