package org.gpuplan.model;

/**
 * A SigLIP-style vision tower and its projector into the language model (Gemma 3 multimodal).
 *
 * @param hiddenSize       vision width
 * @param layers           vision Transformer blocks
 * @param intermediateSize vision MLP size
 * @param patchSize        patch edge in pixels
 * @param imageSize        image edge in pixels
 * @param channels         image channels
 * @param textHiddenSize   width of the language model the projector maps into
 */
public record VisionEncoder(int hiddenSize, int layers, int intermediateSize, int patchSize, int imageSize,
                            int channels, int textHiddenSize) {
    public VisionEncoder {
        Checks.range(hiddenSize, 1, Attention.MAX_DIM, "vision_config.hidden_size");
        Checks.range(layers, 1, ModelSpec.MAX_LAYERS, "vision_config.num_hidden_layers");
        Checks.range(intermediateSize, 1, Attention.MAX_DIM, "vision_config.intermediate_size");
        Checks.range(patchSize, 1, 4096, "vision_config.patch_size");
        Checks.range(imageSize, patchSize, 1 << 16, "vision_config.image_size");
        Checks.range(channels, 1, 64, "vision_config.num_channels");
        Checks.range(textHiddenSize, 1, Attention.MAX_DIM, "text hidden size");
    }

    public long patches() {
        long side = imageSize / patchSize;
        return side * side;
    }
}
