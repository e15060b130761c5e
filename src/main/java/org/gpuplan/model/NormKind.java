package org.gpuplan.model;

/** Normalisation layers and how many parameters they hold per feature. */
public enum NormKind {
    /** RMSNorm: a scale vector only. */
    RMS_NORM(1),
    /** LayerNorm: scale and bias vectors. */
    LAYER_NORM(2);

    private final int paramsPerFeature;

    NormKind(int paramsPerFeature) {
        this.paramsPerFeature = paramsPerFeature;
    }

    public int paramsPerFeature() {
        return paramsPerFeature;
    }
}
