package org.gpuplan.workload;

import org.gpuplan.model.InvalidInputException;

/**
 * vLLM's multi-LoRA serving (--enable-lora): GPU slots for {@code maxLoras} adapters of rank up to {@code maxRank},
 * pre-allocated in every LoRA-capable layer when the model loads.
 *
 * @param maxLoras adapters served in one batch (vLLM --max-loras, default 1); 0 = LoRA serving off
 * @param maxRank  the largest adapter rank (vLLM --max-lora-rank, default 16)
 */
public record LoraSlots(int maxLoras, int maxRank) {

    public static final LoraSlots NONE = new LoraSlots(0, 0);

    public LoraSlots {
        if (maxLoras < 0 || maxLoras > 4096 || maxRank < 0 || maxRank > 65536 || (maxLoras > 0) != (maxRank > 0)) {
            throw new InvalidInputException("max_loras, max_lora_rank: expected positive integers (up to 4096 "
                    + "adapters, rank up to 65536), got " + maxLoras + " and " + maxRank);
        }
    }

    public boolean enabled() {
        return maxLoras > 0;
    }
}
