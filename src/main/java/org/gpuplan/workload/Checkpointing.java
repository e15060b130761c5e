package org.gpuplan.workload;

/** Activation (gradient) checkpointing. */
public enum Checkpointing implements Choice {
    NONE("none"),
    FULL("full"),
    SELECTIVE("selective");

    private final String key;

    Checkpointing(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }
}
