package org.gpuplan.workload;

/**
 * How vLLM samples top-k/top-p: it decides the largest tensor of its start-up profile run for 128k-256k vocabularies
 * (every sampled row's logits over the whole vocabulary), and so the KV pool left.
 */
public enum Sampler implements Choice {
    /** FlashInfer's sampling kernels, vLLM V1's default when FlashInfer is installed: no sort. */
    FLASHINFER("flashinfer", 14, "FlashInfer sampling: 16-bit logits, their fp32 copy, fp32 probabilities and the "
            + "renormalized probabilities (14 B per entry)"),
    /**
     * PyTorch's sort-based top-k/top-p (VLLM_USE_FLASHINFER_SAMPLER=0, no FlashInfer, or the V0 engine, which never
     * used FlashInfer for top-k/top-p): sorted fp32 values and int64 indices beside the logits.
     */
    TORCH("torch", 32, "PyTorch top-k/top-p: 16-bit and fp32 logits, sorted values and int64 indices, masks, sorted "
            + "probabilities and their cumulative sum, the scattered result (32 B per entry)");

    private final String key;
    private final int bytesPerEntry;
    private final String description;

    Sampler(String key, int bytesPerEntry, String description) {
        this.key = key;
        this.bytesPerEntry = bytesPerEntry;
        this.description = description;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public java.util.List<String> aliases() {
        return this == TORCH ? java.util.List.of("native", "pytorch", "v0") : java.util.List.of();
    }

    /** Bytes held per sampled row per vocabulary entry at the sampler's peak. */
    public int bytesPerEntry() {
        return bytesPerEntry;
    }

    /** What the sampler keeps, in words (for explanations). */
    public String description() {
        return description;
    }
}
