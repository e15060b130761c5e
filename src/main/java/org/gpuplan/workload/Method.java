package org.gpuplan.workload;

/** How a training job updates the model: every weight, LoRA adapters on a 16-bit base, or LoRA on a 4-bit base. */
public enum Method implements Choice {
    FULL("full"),
    LORA("lora"),
    QLORA("qlora");

    private final String key;

    Method(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }
}
