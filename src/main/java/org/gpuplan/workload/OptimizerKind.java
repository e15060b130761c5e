package org.gpuplan.workload;

/** Optimizers and their state layouts. */
public enum OptimizerKind implements Choice {
    ADAMW("adamw"),
    ADAMW_8BIT("adamw-8bit"),
    PAGED_ADAMW_8BIT("paged-adamw-8bit"),
    ADAFACTOR("adafactor"),
    SGD("sgd"),
    SGD_MOMENTUM("sgd-momentum"),
    LION("lion");

    private final String key;

    OptimizerKind(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }
}
