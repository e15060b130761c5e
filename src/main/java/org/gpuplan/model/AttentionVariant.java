package org.gpuplan.model;

/** How keys and values are shared between query heads. */
public enum AttentionVariant {
    /** Multi-head: one K/V head per query head. */
    MHA,
    /** Grouped-query: several query heads share each K/V head. */
    GQA,
    /** Multi-query: one K/V head for all query heads. */
    MQA,
    /** Multi-head latent attention (DeepSeek-V2/V3): K/V compressed into a shared latent vector. */
    MLA
}
