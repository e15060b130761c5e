package org.gpuplan.workload;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.gpuplan.model.InvalidInputException;

/**
 * A DeepSpeed config (the {@code ds_config.json} passed to {@code deepspeed --deepspeed_config} or transformers'
 * {@code --deepspeed}) read as workload keys, so that the file users already have is what gets estimated. Fields
 * read: {@code zero_optimization.stage}, {@code .offload_optimizer.device}, {@code .offload_param.device},
 * {@code train_micro_batch_size_per_gpu}, {@code gradient_accumulation_steps}, {@code train_batch_size},
 * {@code bf16.enabled} / {@code fp16.enabled} and {@code optimizer.type}; transformers' {@code "auto"} placeholders
 * are left to the other keys. Bucket sizes and ZeRO-3 prefetch limits keep gpuplan's DeepSpeed defaults.
 */
public final class DeepSpeedConfig {

    private DeepSpeedConfig() {
    }

    /** The config file as JSON (size-capped; comments allowed, as DeepSpeed's own loader tolerates them). */
    public static JsonNode read(Path file) {
        ObjectMapper mapper = new ObjectMapper();
        mapper.configure(JsonParser.Feature.ALLOW_COMMENTS, true);
        JsonNode root = ToolConfig.readTree(file, "deepspeed", mapper, "JSON");
        if (root == null || !root.isObject()) {
            throw new InvalidInputException("deepspeed: " + file.getFileName() + " must be a JSON object (a DeepSpeed "
                    + "config such as {\"zero_optimization\": {\"stage\": 3}})");
        }
        return root;
    }

    /** The workload keys a DeepSpeed config sets: framework deepspeed and whatever it states. */
    public static Map<String, String> keys(JsonNode root) {
        if (!root.isObject()) {
            throw new InvalidInputException("deepspeed: expected a DeepSpeed config object, e.g. "
                    + "{\"zero_optimization\": {\"stage\": 3}}");
        }
        Map<String, String> out = new LinkedHashMap<>();
        out.put("framework", "deepspeed");
        JsonNode zero = root.path("zero_optimization");
        put(out, "zero", zero.path("stage"), "zero_optimization.stage");
        put(out, "offload_optimizer", zero.path("offload_optimizer").path("device"),
                "zero_optimization.offload_optimizer.device");
        put(out, "offload_params", zero.path("offload_param").path("device"), "zero_optimization.offload_param.device");
        put(out, "batch_size", root.path("train_micro_batch_size_per_gpu"), "train_micro_batch_size_per_gpu");
        put(out, "grad_accum", root.path("gradient_accumulation_steps"), "gradient_accumulation_steps");
        put(out, "global_batch_size", root.path("train_batch_size"), "train_batch_size");
        boolean bf16 = enabled(root.path("bf16"), "bf16.enabled");
        boolean fp16 = enabled(root.path("fp16"), "fp16.enabled");
        if (bf16 && fp16) {
            throw new InvalidInputException("deepspeed: bf16.enabled and fp16.enabled are both true; DeepSpeed accepts "
                    + "one");
        }
        // DeepSpeed keeps 16-bit model weights and gradients with fp32 master weights in the optimizer: gpuplan's
        // mixed precisions under framework deepspeed
        if (bf16 || fp16) {
            out.put("precision", bf16 ? "bf16-mixed" : "fp16-mixed");
        }
        JsonNode type = root.path("optimizer").path("type");
        if (type.isTextual() && !isAuto(type)) {
            out.put("optimizer", optimizer(type.asText()));
        }
        return out;
    }

    /** The config's keys with the workload's on top; keys both give must agree ({@link ToolConfig#merge}). */
    public static Map<String, String> merge(Map<String, String> config, Map<String, String> workload) {
        return ToolConfig.merge("the DeepSpeed config", config, workload);
    }

    private static void put(Map<String, String> out, String key, JsonNode value, String field) {
        if (value.isMissingNode() || value.isNull() || isAuto(value)) {
            return;
        }
        if (!value.isValueNode()) {
            throw new InvalidInputException("deepspeed: " + field + " must be a single value");
        }
        out.put(key, value.asText());
    }

    private static boolean enabled(JsonNode section, String field) {
        JsonNode e = section.path("enabled");
        if (e.isMissingNode() || e.isNull() || isAuto(e)) {
            return false;
        }
        if (e.isBoolean()) {
            return e.booleanValue();
        }
        throw new InvalidInputException("deepspeed: " + field + " must be true, false or \"auto\"");
    }

    private static boolean isAuto(JsonNode v) {
        return v.isTextual() && v.asText().trim().equalsIgnoreCase("auto");
    }

    /** DeepSpeed's optimizer names (deepspeed/runtime/config.py) as gpuplan's. */
    private static String optimizer(String type) {
        return switch (type.trim().toLowerCase(Locale.ROOT)) {
            case "adam", "adamw", "fusedadam", "cpuadam", "deepspeedcpuadam" -> "adamw";
            case "lion", "fusedlion", "cpulion", "deepspeedcpulion" -> "lion";
            case "sgd" -> "sgd";
            default -> throw new InvalidInputException("deepspeed: optimizer.type '" + type + "' is not modelled "
                    + "(accepted: Adam, AdamW, Lion, SGD; or remove it and pass --optimizer)");
        };
    }
}
