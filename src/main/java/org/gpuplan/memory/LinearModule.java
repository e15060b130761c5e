package org.gpuplan.memory;

/**
 * One kind of nn.Linear in a model: its PEFT-style module name, shape and how many instances exist.
 *
 * @param name     the module's attribute name (q_proj, gate_proj, c_attn, …), as LoRA targets name it
 * @param in       input features
 * @param out      output features
 * @param count    instances in the whole model (layers × experts …)
 * @param expert   true for routed-expert weights (only top-k of them run per token)
 * @param fusedParameter stored as one nn.Parameter for all experts of a layer (Llama 4's experts.gate_up_proj
 *                 [E, h, 2f]) rather than as nn.Linear modules: PEFT's all-linear does not adapt it and bitsandbytes
 *                 does not quantize it, while serving engines' fused-MoE quantization does
 */
public record LinearModule(String name, long in, long out, long count, boolean expert, boolean fusedParameter) {

    public LinearModule(String name, long in, long out, long count, boolean expert) {
        this(name, in, out, count, expert, false);
    }

    public long parameters() {
        return in * out * count;
    }
}
