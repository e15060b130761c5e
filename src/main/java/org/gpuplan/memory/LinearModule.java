package org.gpuplan.memory;

/**
 * One kind of nn.Linear in a model: its PEFT-style module name, shape and how many instances exist.
 *
 * @param name     the module's attribute name (q_proj, gate_proj, c_attn, …), as LoRA targets name it
 * @param in       input features
 * @param out      output features
 * @param count    instances in the whole model (layers × experts …)
 * @param expert   true for routed-expert weights (only top-k of them run per token)
 */
public record LinearModule(String name, long in, long out, long count, boolean expert) {

    public long parameters() {
        return in * out * count;
    }
}
