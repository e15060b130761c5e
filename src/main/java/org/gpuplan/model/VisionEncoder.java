package org.gpuplan.model;

/**
 * The vision tower of a multimodal model and its projector into the language model. Towers differ in their embeddings
 * and adapters; their Transformer blocks are alike (two LayerNorms, biased q/k/v/o, a biased two-layer MLP).
 */
public sealed interface VisionEncoder permits VisionEncoder.Siglip, VisionEncoder.Llama4, VisionEncoder.QwenVl {

    /** Vision width. */
    int hiddenSize();

    /** Vision Transformer blocks. */
    int layers();

    /** Vision MLP size. */
    int intermediateSize();

    /** Patch edge in pixels. */
    int patchSize();

    /** Image (tile) edge in pixels. */
    int imageSize();

    /** Width of the language model the projector maps into. */
    int textHiddenSize();

    /** A short name for reports. */
    String kind();

    /** One line for reports. */
    default String summary() {
        return kind() + ", " + layers() + " layers, hidden " + hiddenSize() + ", " + imageSize() + " px images in "
                + patchSize() + " px patches (" + patches() + " per image)";
    }

    /** Patches per image (tile). */
    default long patches() {
        long side = imageSize() / patchSize();
        return side * side;
    }

    private static void check(int hiddenSize, int layers, int intermediateSize, int patchSize, int imageSize,
                              int channels, int textHiddenSize) {
        Checks.range(hiddenSize, 1, Attention.MAX_DIM, "vision_config.hidden_size");
        Checks.range(layers, 1, ModelSpec.MAX_LAYERS, "vision_config.num_hidden_layers");
        Checks.range(intermediateSize, 1, Attention.MAX_DIM, "vision_config.intermediate_size");
        Checks.range(patchSize, 1, 4096, "vision_config.patch_size");
        Checks.range(imageSize, patchSize, 1 << 16, "vision_config.image_size");
        Checks.range(channels, 1, 64, "vision_config.num_channels");
        Checks.range(textHiddenSize, 1, Attention.MAX_DIM, "text hidden size");
    }

    /** SigLIP (Gemma 3): a biased patch convolution, learned positions, a post-LayerNorm, a projector with a norm. */
    record Siglip(int hiddenSize, int layers, int intermediateSize, int patchSize, int imageSize, int channels,
                  int textHiddenSize) implements VisionEncoder {
        public Siglip {
            check(hiddenSize, layers, intermediateSize, patchSize, imageSize, channels, textHiddenSize);
        }

        @Override
        public String kind() {
            return "SigLIP";
        }
    }

    /**
     * Llama 4's ViT (modeling_llama4.py Llama4VisionModel): an unbiased linear patch embedding, a class token and
     * learned positions for every patch and the class token, LayerNorms before and after the blocks, then the
     * pixel-shuffle adapter (two unbiased Linears: intermediate_size → projector_input_dim → projector_output_dim) and
     * the multimodal projector (vision_output_dim → text hidden, unbiased).
     */
    record Llama4(int hiddenSize, int layers, int intermediateSize, int patchSize, int imageSize, int channels,
                  int projectorInputDim, int projectorOutputDim, int visionOutputDim, int textHiddenSize)
            implements VisionEncoder {
        public Llama4 {
            check(hiddenSize, layers, intermediateSize, patchSize, imageSize, channels, textHiddenSize);
            Checks.range(projectorInputDim, 1, Attention.MAX_DIM, "vision_config.projector_input_dim");
            Checks.range(projectorOutputDim, 1, Attention.MAX_DIM, "vision_config.projector_output_dim");
            Checks.range(visionOutputDim, 1, Attention.MAX_DIM, "vision_config.vision_output_dim");
        }

        @Override
        public String kind() {
            return "Llama 4 ViT";
        }
    }

    /**
     * The Qwen3-VL / Qwen3.5 ViT (modeling_qwen3_vl.py Qwen3VLVisionModel): a biased Conv3d patch embedding over
     * temporalPatch × patch × patch pixels, learned positions, the blocks, and a patch merger (LayerNorm over the
     * width, then two biased Linears on spatialMerge² concatenated patches into the language model's width); each
     * deepstack merger normalises after the merge.
     */
    record QwenVl(int hiddenSize, int layers, int intermediateSize, int patchSize, int temporalPatch, int channels,
                  int positions, int spatialMerge, int deepstackMergers, int textHiddenSize) implements VisionEncoder {
        public QwenVl {
            check(hiddenSize, layers, intermediateSize, patchSize, patchSize, channels, textHiddenSize);
            Checks.range(temporalPatch, 1, 64, "vision_config.temporal_patch_size");
            Checks.range(positions, 1, 1 << 24, "vision_config.num_position_embeddings");
            Checks.range(spatialMerge, 1, 64, "vision_config.spatial_merge_size");
            Checks.range(deepstackMergers, 0, 1024, "vision_config.deepstack_visual_indexes");
        }

        @Override
        public int imageSize() {
            return patchSize; // images are tiled dynamically; one patch stands for the unit
        }

        @Override
        public long patches() {
            return positions;
        }

        @Override
        public String kind() {
            return "Qwen3-VL ViT";
        }

        @Override
        public String summary() {
            return kind() + ", " + layers + " layers, hidden " + hiddenSize + ", " + patchSize + " px patches over "
                    + temporalPatch + " frames at dynamic resolution (" + positions + " learned positions), "
                    + spatialMerge + "×" + spatialMerge + " patches merged per token";
        }
    }
}
