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

    @Override
    public java.util.List<String> aliases() {
        // transformers' gradient_checkpointing is a boolean: true checkpoints every layer
        return switch (this) {
            case FULL -> java.util.List.of("true", "yes", "on");
            case NONE -> java.util.List.of("false", "no", "off");
            default -> java.util.List.of();
        };
    }
}
