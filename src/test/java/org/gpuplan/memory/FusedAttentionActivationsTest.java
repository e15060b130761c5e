package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/**
 * GPT-2-style blocks under SDPA/flash keep no s² probabilities: exactly the eager block's probability bytes go, and the
 * fp32 log-sum-exp and the kernel's RNG seed and offset come (measured on CUDA: validation/activations/cuda-h200.jsonl).
 */
class FusedAttentionActivationsTest {

    @Test
    void fusedAttentionDropsTheProbabilitiesOfTheEagerBlock() {
        ModelSpec m = new ModelResolver(ModelCatalog.builtIn(), ResolveOptions.fromEnvironment(Map.of(), false))
                .resolve("openai-community/gpt2").spec().orElseThrow();
        for (String precision : new String[] {"fp32", "bf16-mixed", "bf16"}) {
            long eager = layer(m, precision, "eager");
            long flash = layer(m, precision, "flash");
            long sdpa = layer(m, precision, "sdpa");
            assertThat(sdpa).isEqualTo(flash);
            // 12 heads × 1024 keys per token, 1024 tokens: the per-score bytes are those the eager block keeps
            // (softmax output, dropout's bool mask and its output; under autocast the fp32 softmax, the mask and the
            // 16-bit probabilities the AV matmul keeps)
            double perScore = switch (precision) {
                case "bf16-mixed" -> 4 + 1 + 2;
                case "fp32" -> 4 + (1 + 4);
                default -> 2 + (1 + 2);
            };
            double kept = 4.0 * 12 * 1024 + 16; // fp32 log-sum-exp per head and token; Philox seed and offset
            assertThat((double) (eager - flash)).as(precision)
                    .isCloseTo(perScore * 12 * 1024 * 1024 - kept, org.assertj.core.api.Assertions.within(1.0));
        }
    }

    private static long layer(ModelSpec m, String precision, String attention) {
        return ActivationMemory.training(m, WorkloadParser.parse(Map.of("model", "x", "task", "train", "precision",
                precision, "attention", attention, "batch_size", "1", "seq_len", "1024"))).perLayer().get(0);
    }
}
