package org.gpuplan.model;

import java.util.List;

/**
 * The architecture of a Transformer model: everything needed to count its parameters and, later, its memory and
 * FLOPs. Immutable and family-neutral: a family only decides which of these fields it sets.
 *
 * @param name            display name (catalog id, folder or file name)
 * @param family          the family the config was read as
 * @param architectures   the config's {@code architectures} class names
 * @param hiddenSize      model width h
 * @param vocabSize       vocabulary size V (rows of the token-embedding table)
 * @param maxContext      maximum positions the model was configured for
 * @param mlp             the dense feed-forward block used by non-MoE layers (null when every layer is MoE)
 * @param moe             the mixture-of-experts block used by MoE layers (null for dense models)
 * @param layers          one entry per Transformer block, in order
 * @param slidingWindow   window of sliding-window layers in tokens, 0 when no layer uses one
 * @param mtpLayers       DeepSeek-V3 multi-token-prediction modules (counted separately from the main model)
 * @param vision          the vision tower of a multimodal model, null for text-only models
 * @param dropout         the training dropout probability of the blocks (the config's largest), 0 for none
 * @param linearAttention the token mixer of linear-attention layers (Qwen3-Next, Qwen3.5), null when every layer
 *                        uses {@code attention}
 */
public record ModelSpec(String name, Family family, List<String> architectures, int hiddenSize, int vocabSize,
                        long maxContext, Embeddings embeddings, Attention attention, Mlp mlp, Moe moe, Norms norms,
                        List<Layer> layers, int slidingWindow, Head head, int mtpLayers, VisionEncoder vision,
                        double dropout, GatedDeltaNet linearAttention) {

    /** A model whose layers all use softmax attention. */
    public ModelSpec(String name, Family family, List<String> architectures, int hiddenSize, int vocabSize,
                     long maxContext, Embeddings embeddings, Attention attention, Mlp mlp, Moe moe, Norms norms,
                     List<Layer> layers, int slidingWindow, Head head, int mtpLayers, VisionEncoder vision,
                     double dropout) {
        this(name, family, architectures, hiddenSize, vocabSize, maxContext, embeddings, attention, mlp, moe, norms,
                layers, slidingWindow, head, mtpLayers, vision, dropout, null);
    }

    /** As below, with the family's usual training dropout ({@link #defaultDropout}). */
    public ModelSpec(String name, Family family, List<String> architectures, int hiddenSize, int vocabSize,
                     long maxContext, Embeddings embeddings, Attention attention, Mlp mlp, Moe moe, Norms norms,
                     List<Layer> layers, int slidingWindow, Head head, int mtpLayers, VisionEncoder vision) {
        this(name, family, architectures, hiddenSize, vocabSize, maxContext, embeddings, attention, mlp, moe, norms,
                layers, slidingWindow, head, mtpLayers, vision, defaultDropout(family));
    }

    /**
     * The dropout a family's configs train with unless they say otherwise: GPT-2 and StarCoder's 0.1
     * (resid/embd/attn_pdrop), BERT/RoBERTa's 0.1 (hidden_dropout_prob), none for Llama-style and GPT-NeoX models.
     */
    public static double defaultDropout(Family family) {
        return switch (family) {
            case GPT2, GPT_BIGCODE -> 0.1;
            default -> family.isEncoder() ? 0.1 : 0.0;
        };
    }

    public static final int MAX_LAYERS = 100_000;
    public static final int MAX_VOCAB = 100_000_000;

    public ModelSpec {
        Checks.notNull(name, "name");
        Checks.notNull(family, "family");
        architectures = List.copyOf(Checks.notNull(architectures, "architectures"));
        Checks.range(hiddenSize, 1, Attention.MAX_DIM, "hidden_size");
        Checks.range(vocabSize, 1, MAX_VOCAB, "vocab_size");
        if (maxContext < 0) {
            throw new InvalidInputException("max_position_embeddings must not be negative, got " + maxContext);
        }
        Checks.notNull(embeddings, "embeddings");
        Checks.notNull(attention, "attention");
        Checks.notNull(norms, "norms");
        Checks.notNull(head, "head");
        layers = List.copyOf(Checks.notNull(layers, "layers"));
        Checks.range(layers.size(), 1, MAX_LAYERS, "num_hidden_layers");
        Checks.range(slidingWindow, 0, Integer.MAX_VALUE, "sliding_window");
        Checks.range(mtpLayers, 0, 64, "num_nextn_predict_layers");
        boolean anyMoe = layers.stream().anyMatch(Layer::moe);
        boolean anyDense = layers.stream().anyMatch(l -> !l.moe());
        if (anyMoe && moe == null) {
            throw new InvalidInputException("MoE layers need the expert settings (num_experts, num_experts_per_tok)");
        }
        if ((anyDense || mtpLayers > 0 && moe == null) && mlp == null) {
            throw new InvalidInputException("dense layers need intermediate_size");
        }
        if (layers.stream().anyMatch(Layer::slidingWindow) && slidingWindow == 0) {
            throw new InvalidInputException("sliding-window layers need a positive sliding_window");
        }
        if (layers.stream().anyMatch(Layer::linearAttention) && linearAttention == null) {
            throw new InvalidInputException("linear-attention layers need the linear_* settings");
        }
        if (!(dropout >= 0 && dropout <= 1)) {
            throw new InvalidInputException("dropout must be a probability from 0 to 1, got " + dropout);
        }
    }

    /** The same language model with a vision tower (multimodal checkpoints that nest it in text_config). */
    public ModelSpec withVision(VisionEncoder tower) {
        return new ModelSpec(name, family, architectures, hiddenSize, vocabSize, maxContext, embeddings, attention, mlp,
                moe, norms, layers, slidingWindow, head, mtpLayers, tower, dropout, linearAttention);
    }

    public int numLayers() {
        return layers.size();
    }

    public long moeLayerCount() {
        if (moe == null) {
            return 0; // dense models: no layer routes (called in every estimate's hot path)
        }
        long n = 0;
        for (Layer layer : layers) {
            if (layer.moe()) {
                n++;
            }
        }
        return n;
    }

    /** Layers whose token mixer is linear attention (they keep no per-token KV cache). */
    public long linearLayerCount() {
        return linearAttention == null ? 0 : layers.stream().filter(Layer::linearAttention).count();
    }

    /** Layers with softmax attention: the ones that hold a KV cache. */
    public long attentionLayerCount() {
        return layers.size() - linearLayerCount();
    }

    public long slidingLayerCount() {
        return layers.stream().filter(Layer::slidingWindow).count();
    }

    public boolean isMoe() {
        return moe != null && moeLayerCount() > 0;
    }

    /** The class name that selected the head, or the family default. */
    public String architecture() {
        return architectures.isEmpty() ? family.defaultArchitecture() : architectures.get(0);
    }
}
