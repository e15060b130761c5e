package org.gpuplan.memory;

/**
 * Activation memory of a GPT-3-style Transformer layer (16-bit activations, GELU MLP of 4h, dropout) as derived by
 * Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models" (arXiv 2205.05198,
 * Table 2), the equations Megatron-LM implements: s sequence, b micro-batch, h hidden, a heads, t tensor-parallel size.
 */
public final class Korthikanti {

    /** What the layer recomputes in backward. */
    public enum Recompute {
        /** Keep everything. */
        NONE,
        /** Recompute the attention core (QKᵀ, softmax, softmax dropout, attention over V). */
        SELECTIVE,
        /** Keep only the layer input. */
        FULL
    }

    private Korthikanti() {
    }

    /** Bytes one layer keeps for backward. */
    public static double perLayerBytes(long s, long b, long h, long a, int t, boolean sequenceParallel,
                                       Recompute recompute) {
        double sbh = (double) s * b * h;
        double scores = 5.0 * a * s / h;
        return switch (recompute) {
            // sbh(10 + 24/t + 5as/(ht)) with TP only; sbh/t·(34 + 5as/h) with TP and sequence parallelism
            case NONE -> sequenceParallel ? sbh / t * (34 + scores) : sbh * (10 + 24.0 / t + scores / t);
            // sbh(10 + 24/t) with TP only; 34·sbh/t with sequence parallelism
            case SELECTIVE -> sequenceParallel ? 34 * sbh / t : sbh * (10 + 24.0 / t);
            // the layer input, 2sbh (split by t under sequence parallelism)
            case FULL -> sequenceParallel ? 2 * sbh / t : 2 * sbh;
        };
    }

    /**
     * Activations on the first pipeline stage: L/p layers for each of the p micro-batches in flight under 1F1B, i.e.
     * L layers' worth, times 1 + (p − 1)/(p·v) with v model chunks per rank (interleaved schedule).
     */
    public static double firstStageBytes(double perLayer, int layers, int pp, int virtualPp) {
        double interleave = virtualPp > 1 ? 1 + (pp - 1) / (double) (pp * virtualPp) : 1;
        return perLayer * layers * interleave;
    }
}
