package org.gpuplan.workload;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.gpuplan.model.InvalidInputException;
import org.junit.jupiter.api.Test;

/**
 * DeepSpeed and accelerate configs of random shapes (the known fields holding strings, numbers, booleans, nulls,
 * lists or objects): each is either read or refused with a one-line {@link InvalidInputException}, never another
 * exception; whatever is read parses as a workload or is refused the same way.
 */
class ToolConfigPropertyTest {

    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final List<String> DEEPSPEED = List.of("zero_optimization.stage",
            "zero_optimization.offload_optimizer.device", "zero_optimization.offload_param.device",
            "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "train_batch_size", "bf16.enabled",
            "fp16.enabled", "optimizer.type");
    private static final List<String> ACCELERATE = List.of("distributed_type", "num_processes", "num_machines",
            "mixed_precision", "fsdp_config.fsdp_sharding_strategy", "fsdp_config.fsdp_offload_params",
            "fsdp_config.fsdp_reshard_after_forward", "fsdp_config.fsdp_activation_checkpointing",
            "deepspeed_config.zero_stage", "deepspeed_config.offload_optimizer_device",
            "deepspeed_config.gradient_accumulation_steps");

    private static JsonNode value(Random r) {
        return switch (r.nextInt(9)) {
            case 0 -> F.textNode(List.of("auto", "cpu", "none", "nvme", "FSDP", "DEEPSPEED", "MULTI_GPU", "bf16",
                    "AdamW", "FULL_SHARD", "true", "x").get(r.nextInt(12)));
            case 1 -> F.numberNode(r.nextInt(10) - 2);
            case 2 -> F.numberNode(r.nextDouble() * 1e12);
            case 3 -> F.booleanNode(r.nextBoolean());
            case 4 -> F.nullNode();
            case 5 -> F.arrayNode().add(r.nextInt(4));
            case 6 -> F.objectNode().put("enabled", r.nextBoolean());
            case 7 -> F.numberNode(r.nextInt(64) + 1);
            default -> F.textNode("1e999");
        };
    }

    private static ObjectNode config(Random r, List<String> fields) {
        ObjectNode root = F.objectNode();
        for (String field : fields) {
            if (r.nextInt(3) == 0) {
                continue;
            }
            String[] path = field.split("\\.");
            ObjectNode at = root;
            for (int i = 0; i < path.length - 1; i++) {
                JsonNode next = at.get(path[i]);
                at = next instanceof ObjectNode o ? o : at.putObject(path[i]);
            }
            at.set(path[path.length - 1], value(r));
        }
        return root;
    }

    /** True when read, false when refused with a one-line error; anything else fails the test. */
    private static boolean readOrRefuse(Runnable read) {
        try {
            read.run();
            return true;
        } catch (InvalidInputException e) {
            assertThat(e.getMessage()).doesNotContain("\n").isNotBlank();
            return false;
        }
    }

    @Test
    void randomConfigsAreReadOrRefusedInOneLine() {
        Random r = new Random(20261126L);
        int[] deepspeed = new int[2];
        int[] accelerate = new int[2];
        for (int i = 0; i < 3000; i++) {
            ObjectNode ds = config(r, DEEPSPEED);
            ObjectNode acc = config(r, ACCELERATE);
            deepspeed[readOrRefuse(() -> WorkloadParser.parse(DeepSpeedConfig.merge(DeepSpeedConfig.keys(ds),
                    Map.of("model", "m", "task", "train", "gpus", "8")))) ? 0 : 1]++;
            accelerate[readOrRefuse(() -> WorkloadParser.parse(AccelerateConfig.merge(AccelerateConfig.keys(acc),
                    Map.of("model", "m", "task", "train")))) ? 0 : 1]++;
        }
        // both outcomes occur for each reader, so the generator reaches their checks and their happy paths
        assertThat(deepspeed).doesNotContain(0);
        assertThat(accelerate).doesNotContain(0);
    }
}
