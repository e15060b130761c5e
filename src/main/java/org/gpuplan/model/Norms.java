package org.gpuplan.model;

/**
 * Where the normalisation layers sit.
 *
 * @param perLayer      norms over the hidden size in each block (2 for pre-norm decoders, 4 for Gemma 2/3 sandwich
 *                      norms, 2 for BERT's post-norm)
 * @param finalNorm     a norm after the last block (decoders)
 * @param embeddingNorm a norm right after the embeddings (BERT/RoBERTa)
 */
public record Norms(NormKind kind, int perLayer, boolean finalNorm, boolean embeddingNorm) {
    public Norms {
        Checks.notNull(kind, "norm kind");
        Checks.range(perLayer, 0, 8, "norms per layer");
    }
}
