package org.gpuplan.memory;

import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Workload;

/**
 * vLLM's KV cache for models that mix softmax-attention and linear-attention (Gated DeltaNet) layers: one page size for
 * both kinds (kv_cache_utils / unify_hybrid_kv_cache_specs). The attention block grows to 16 · ⌈state page /
 * (16 · bytes per token)⌉ tokens so that it covers a linear layer's whole state ("Setting attention block size to N
 * tokens"), and the state page is padded to the attention page. Layers form groups of the smaller layer count; each
 * shared pool tensor serves one layer of every group, so the pool holds pool / (group size · page) blocks, which the
 * groups draw from: a sequence takes ⌈context / block⌉ blocks in an attention group and one in each linear group.
 * Checked against vLLM logs: Qwen3-Next-80B TP 2 (block 544, padding 1.49 %, 7,162 blocks), Qwen3.5-0.8B (block
 * 544, padding 2.64 %), Qwen3.5-9B (528), -27B (784), -35B-A3B (1,056); a later log's 4,455,808 tokens and 17.00
 * sequences of 262,144 are 8,191 blocks of 544.
 *
 * @param blockSize       tokens per attention block
 * @param pageBytes       bytes per block of one layer (the attention page; the state page padded to it)
 * @param statePageBytes  one linear layer's state for one sequence, unpadded
 * @param groupSize       layers per group (the pool's tensors)
 * @param attentionGroups groups of attention layers
 * @param linearGroups    groups of linear-attention layers
 */
public record HybridPages(long blockSize, long pageBytes, long statePageBytes, long groupSize, long attentionGroups,
                          long linearGroups) {

    /** The page layout for {@code attentionLayers} and {@code linearLayers} on one rank of a TP group. */
    public static HybridPages of(ModelSpec m, Workload w, long attentionTokenBytes, int tp, long attentionLayers,
                                 long linearLayers) {
        long state = (long) Math.ceil(KvCache.statePerLayer(m, w, tp));
        long unit = 16 * Math.max(1, attentionTokenBytes);
        long block = 16 * ((state + unit - 1) / unit);
        long group = Math.max(1, Math.min(attentionLayers, linearLayers));
        return new HybridPages(block, block * attentionTokenBytes, state, group,
                (attentionLayers + group - 1) / group, (linearLayers + group - 1) / group);
    }

    /** Blocks a pool of {@code poolBytes} holds. */
    public long blocks(long poolBytes) {
        return Math.max(0, poolBytes) / (groupSize * pageBytes);
    }

    /** Attention-layer tokens the blocks hold. */
    public long capacityTokens(long blocks) {
        return blocks * blockSize;
    }

    /**
     * Sequences of {@code context} tokens the blocks hold, as vLLM reports it: the token capacity over the context
     * (recent vLLM; 0.10.2 charged each sequence its linear groups' blocks too, 14.77 instead of 14.86 for
     * Qwen3-Next at 262,144).
     */
    public double concurrency(long blocks, long context) {
        return capacityTokens(blocks) / (double) context;
    }

    /** The padding the state page gets, as a fraction (vLLM logs it as "Padding mamba page size by N %"). */
    public double statePadding() {
        return (pageBytes - statePageBytes) / (double) statePageBytes;
    }

    public String describe() {
        return String.format(java.util.Locale.ROOT, "hybrid pages: attention blocks of %d tokens cover one linear "
                + "layer's state (%s, padded %.2f %%); %d groups of %d layers (%d attention, %d linear)", blockSize,
                Bytes.mib(statePageBytes), 100 * statePadding(), attentionGroups + linearGroups, groupSize,
                attentionGroups, linearGroups);
    }
}
