package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/** GPT-2-style blocks under SDPA/flash keep no s² probabilities: exactly the eager block's probability bytes go. */
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
            // (softmax output, dropout mask and output, and under autocast the fp32 softmax plus its cast)
            int c = precision.equals("fp32") ? 4 : 2;
            double perScore = switch (precision) {
                case "bf16-mixed" -> 4 + (1 + 4) + 2;
                case "fp32" -> 4 + (1 + 4);
                default -> 2 + (1 + 2);
            };
            double kept = (c * 768.0 + 4.0 * 12) * 1024; // attention output and log-sum-exp instead
            assertThat((double) (eager - flash)).as(precision)
                    .isCloseTo(perScore * 12 * 1024 * 1024 - kept, org.assertj.core.api.Assertions.within(2.0));
        }
    }

    private static long layer(ModelSpec m, String precision, String attention) {
        return ActivationMemory.training(m, WorkloadParser.parse(Map.of("model", "x", "task", "train", "precision",
                precision, "attention", attention, "batch_size", "1", "seq_len", "1024"))).perLayer().get(0);
    }
}
