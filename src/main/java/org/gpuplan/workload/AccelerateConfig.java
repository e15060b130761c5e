package org.gpuplan.workload;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.gpuplan.model.InvalidInputException;

/**
 * An accelerate config ({@code accelerate launch --config_file}, the YAML {@code accelerate config} writes) read as
 * workload keys: {@code distributed_type} (FSDP, DEEPSPEED, MULTI_GPU), {@code num_processes} and
 * {@code num_machines}, {@code mixed_precision}, and the FSDP or DeepSpeed plugin's sharding, offload and
 * checkpointing fields ({@code fsdp_config}, {@code deepspeed_config} or the DeepSpeed file it names).
 */
public final class AccelerateConfig {

    private AccelerateConfig() {
    }

    /** The config file as a tree; a {@code deepspeed_config_file} it names is read in place (relative to it). */
    public static JsonNode read(Path file) {
        JsonNode root = ToolConfig.readTree(file, "accelerate_config", new ObjectMapper(new YAMLFactory()), "YAML");
        if (root == null || !root.isObject()) {
            throw new InvalidInputException("accelerate_config: " + file.getFileName() + " must be a mapping (the "
                    + "YAML 'accelerate config' writes)");
        }
        JsonNode ds = root.path("deepspeed_config");
        JsonNode dsFile = ds.path("deepspeed_config_file");
        if (ds.isObject() && dsFile.isTextual() && !dsFile.asText().isBlank()) {
            ((ObjectNode) ds).set("deepspeed_config_file", DeepSpeedConfig.read(ToolConfig.besides(file,
                    dsFile.asText())));
        }
        return root;
    }

    /** The workload keys an accelerate config sets. */
    public static Map<String, String> keys(JsonNode root) {
        if (!root.isObject()) {
            throw new InvalidInputException("accelerate_config: expected an accelerate config object, e.g. "
                    + "{\"distributed_type\": \"FSDP\", \"num_processes\": 8}");
        }
        Map<String, String> out = new LinkedHashMap<>();
        String type = text(root.path("distributed_type"), "distributed_type").toUpperCase(Locale.ROOT);
        switch (type) {
            case "", "NO" -> { }
            case "MULTI_GPU" -> out.put("framework", "hf"); // DistributedDataParallel under the Trainer
            case "FSDP" -> {
                out.put("framework", "fsdp");
                fsdp(root.path("fsdp_config"), out);
            }
            case "DEEPSPEED" -> deepspeed(root.path("deepspeed_config"), out);
            default -> throw new InvalidInputException("accelerate_config: distributed_type '" + type + "' is not "
                    + "modelled (accepted: NO, MULTI_GPU, FSDP, DEEPSPEED)");
        }
        int processes = count(root.path("num_processes"), "num_processes");
        int machines = count(root.path("num_machines"), "num_machines");
        if (processes > 0 && !type.isEmpty() && !type.equals("NO")) {
            out.put("gpus", Integer.toString(processes));
        }
        if (machines > 1) {
            out.put("nodes", Integer.toString(machines));
        }
        String precision = text(root.path("mixed_precision"), "mixed_precision").toLowerCase(Locale.ROOT);
        switch (precision) {
            case "", "no" -> { }
            case "bf16" -> out.put("precision", "bf16-mixed");
            case "fp16" -> out.put("precision", "fp16-mixed");
            case "fp8" -> {
                out.put("precision", "bf16-mixed");
                out.put("float8_linear", "true");
            }
            default -> throw new InvalidInputException("accelerate_config: mixed_precision '" + precision + "' is not "
                    + "accepted (accepted: no, bf16, fp16, fp8)");
        }
        return out;
    }

    /** accelerate's FSDP plugin: strategy names or torch's enum numbers, FSDP2's reshard flag, CPU offload. */
    private static void fsdp(JsonNode c, Map<String, String> out) {
        String strategy = text(c.path("fsdp_sharding_strategy"), "fsdp_config.fsdp_sharding_strategy")
                .toUpperCase(Locale.ROOT);
        String mode = switch (strategy) {
            case "FULL_SHARD", "1" -> "full_shard";
            case "SHARD_GRAD_OP", "2" -> "shard_grad_op";
            case "NO_SHARD", "3" -> "no_shard";
            case "HYBRID_SHARD", "4" -> "hybrid_shard";
            case "" -> null;
            default -> throw new InvalidInputException("accelerate_config: fsdp_config.fsdp_sharding_strategy '"
                    + strategy + "' is not modelled (accepted: FULL_SHARD, SHARD_GRAD_OP, NO_SHARD, HYBRID_SHARD)");
        };
        JsonNode reshard = c.path("fsdp_reshard_after_forward");
        if (mode == null && reshard.isBoolean()) { // FSDP2: reshard_after_forward False is ZeRO-2-like
            mode = reshard.booleanValue() ? "full_shard" : "shard_grad_op";
        }
        out.put("fsdp", mode == null ? "full_shard" : mode);
        // FSDP's CPUOffload(offload_params=True) keeps parameters, gradients and the optimizer step on the host
        if (flag(c.path("fsdp_offload_params"), "fsdp_config.fsdp_offload_params")) {
            out.put("offload_params", "cpu");
            out.put("offload_optimizer", "cpu");
        }
        if (flag(c.path("fsdp_activation_checkpointing"), "fsdp_config.fsdp_activation_checkpointing")) {
            out.put("checkpointing", "full");
        }
    }

    /** accelerate's DeepSpeed plugin: its own fields, or the DeepSpeed config file it names. */
    private static void deepspeed(JsonNode c, Map<String, String> out) {
        out.put("framework", "deepspeed");
        JsonNode file = c.path("deepspeed_config_file");
        if (file.isObject()) {
            out.putAll(DeepSpeedConfig.keys(file));
            return;
        }
        if (file.isTextual() && !file.asText().isBlank()) {
            throw new InvalidInputException("accelerate_config: deepspeed_config_file is a path; give the DeepSpeed "
                    + "config inline, or the accelerate config as a file");
        }
        String stage = text(c.path("zero_stage"), "deepspeed_config.zero_stage");
        if (!stage.isEmpty()) {
            out.put("zero", stage);
        }
        String optimizer = text(c.path("offload_optimizer_device"), "deepspeed_config.offload_optimizer_device");
        if (!optimizer.isEmpty()) {
            out.put("offload_optimizer", optimizer.toLowerCase(Locale.ROOT));
        }
        String param = text(c.path("offload_param_device"), "deepspeed_config.offload_param_device");
        if (!param.isEmpty()) {
            out.put("offload_params", param.toLowerCase(Locale.ROOT));
        }
        String accumulation = text(c.path("gradient_accumulation_steps"), "deepspeed_config.gradient_accumulation_steps");
        if (!accumulation.isEmpty()) {
            out.put("grad_accum", accumulation);
        }
    }

    private static String text(JsonNode v, String field) {
        if (v.isMissingNode() || v.isNull()) {
            return "";
        }
        if (!v.isValueNode()) {
            throw new InvalidInputException("accelerate_config: " + field + " must be a single value");
        }
        return v.asText().trim();
    }

    private static int count(JsonNode v, String field) {
        String t = text(v, field);
        if (t.isEmpty()) {
            return 0;
        }
        try {
            int n = Integer.parseInt(t);
            if (n >= 1 && n <= 1_000_000) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidInputException("accelerate_config: " + field + " must be a whole number from 1 to "
                + "1,000,000 (got '" + t + "')");
    }

    private static boolean flag(JsonNode v, String field) {
        String t = text(v, field).toLowerCase(Locale.ROOT);
        return switch (t) {
            case "true" -> true;
            case "false", "" -> false;
            default -> throw new InvalidInputException("accelerate_config: " + field + " must be true or false");
        };
    }

    /** The config's keys with the workload's on top; keys both give must agree ({@link ToolConfig#merge}). */
    public static Map<String, String> merge(Map<String, String> config, Map<String, String> workload) {
        return ToolConfig.merge("the accelerate config", config, workload);
    }
}
