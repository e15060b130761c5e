package org.gpuplan.model;

/**
 * Where the normalisation layers sit.
 *
 * @param perLayer      norms over the hidden size in each block (2 for pre-norm decoders, 4 for Gemma 2/3 sandwich
 *                      norms, 2 for BERT's post-norm)
 * @param finalNorm     a norm after the last block (decoders)
 * @param embeddingNorm a norm right after the embeddings (BERT/RoBERTa)
 * @param fp32Scale     the RMSNorm scales by (1 + w) in fp32 and casts afterwards (Gemma, Qwen3-Next/3.5:
 *                      {@code output * (1.0 + self.weight.float())}), so the normalised tensor its weight gradient needs
 *                      is fp32 whatever the model's dtype; Llama-style norms cast first and keep it in the input dtype
 */
public record Norms(NormKind kind, int perLayer, boolean finalNorm, boolean embeddingNorm, boolean fp32Scale) {

    public Norms(NormKind kind, int perLayer, boolean finalNorm, boolean embeddingNorm) {
        this(kind, perLayer, finalNorm, embeddingNorm, false);
    }

    public Norms {
        Checks.notNull(kind, "norm kind");
        Checks.range(perLayer, 0, 8, "norms per layer");
    }
}
