package org.gpuplan.workload;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.gpuplan.model.InvalidInputException;

/**
 * A PEFT LoRA config (the {@code adapter_config.json} that {@code save_pretrained} writes beside an adapter, or a
 * {@code LoraConfig} as JSON) read as workload keys: {@code r}, {@code lora_alpha}, {@code target_modules},
 * {@code lora_dropout}, {@code use_dora}, {@code modules_to_save} and {@code base_model_name_or_path} (the model,
 * unless the workload names one). Settings that change which layers are adapted or their ranks per module
 * ({@code layers_to_transform}, {@code rank_pattern}) are refused rather than ignored; settings that change no memory
 * ({@code use_rslora}, {@code init_lora_weights}, {@code task_type}) are ignored.
 */
public final class PeftConfig {

    private PeftConfig() {
    }

    /** The config file as JSON (size-capped). */
    public static JsonNode read(Path file) {
        JsonNode root = ToolConfig.readTree(file, "peft_config", new ObjectMapper(), "JSON");
        if (root == null || !root.isObject()) {
            throw new InvalidInputException("peft_config: " + file.getFileName() + " must be a JSON object (PEFT's "
                    + "adapter_config.json, e.g. {\"peft_type\": \"LORA\", \"r\": 16, \"target_modules\": [\"q_proj\", "
                    + "\"v_proj\"]})");
        }
        return root;
    }

    /** The workload keys a LoRA config sets (method lora unless the workload says qlora). */
    public static Map<String, String> keys(JsonNode root) {
        if (!root.isObject()) {
            throw new InvalidInputException("peft_config: expected PEFT's adapter_config.json object, e.g. "
                    + "{\"peft_type\": \"LORA\", \"r\": 16}");
        }
        JsonNode type = root.path("peft_type");
        if (!type.isMissingNode() && !type.isNull() && !type.asText().equalsIgnoreCase("LORA")) {
            throw new InvalidInputException("peft_config: peft_type '" + type.asText() + "' is not modelled (accepted: "
                    + "LORA, with or without use_dora)");
        }
        for (String unsupported : List.of("layers_to_transform", "rank_pattern", "alpha_pattern")) {
            JsonNode v = root.path(unsupported);
            if (!(v.isMissingNode() || v.isNull() || v.isObject() && v.isEmpty() || v.isArray() && v.isEmpty())) {
                throw new InvalidInputException("peft_config: " + unsupported + " (adapters of other ranks or on some "
                        + "layers only) is not modelled; remove it to estimate every targeted module at rank r, an "
                        + "upper bound when it lowers ranks or skips layers");
            }
        }
        Map<String, String> out = new LinkedHashMap<>();
        out.put("task", "train");
        value(out, "lora_rank", root.path("r"), "r");
        value(out, "lora_alpha", root.path("lora_alpha"), "lora_alpha");
        value(out, "lora_dropout", root.path("lora_dropout"), "lora_dropout");
        value(out, "use_dora", root.path("use_dora"), "use_dora");
        list(out, "lora_targets", root.path("target_modules"), "target_modules");
        list(out, "modules_to_save", root.path("modules_to_save"), "modules_to_save");
        JsonNode base = root.path("base_model_name_or_path");
        if (base.isTextual() && !base.asText().isBlank()) {
            out.put("model", base.asText().trim());
        }
        return out;
    }

    /**
     * The config's keys with the workload's on top. The workload's model and method win (an adapter config is reused
     * on another checkpoint or on a 4-bit base for QLoRA); other keys both give must agree ({@link ToolConfig#merge}).
     */
    public static Map<String, String> merge(Map<String, String> config, Map<String, String> workload) {
        Map<String, String> c = new LinkedHashMap<>(config);
        if (workload.get("model") != null) {
            c.remove("model");
        }
        Map<String, String> out = ToolConfig.merge("the PEFT config", c, workload, "");
        if (out.get("method") == null) {
            out.put("method", "lora");
        }
        return out;
    }

    private static void value(Map<String, String> out, String key, JsonNode v, String field) {
        if (v.isMissingNode() || v.isNull()) {
            return;
        }
        if (!v.isValueNode()) {
            throw new InvalidInputException("peft_config: " + field + " must be a single value");
        }
        out.put(key, v.asText());
    }

    /** A list of module names; PEFT also takes one string: "all-linear", or a regex (refused: names are needed). */
    private static void list(Map<String, String> out, String key, JsonNode v, String field) {
        if (v.isMissingNode() || v.isNull()) {
            return;
        }
        List<String> names = new ArrayList<>();
        if (v.isTextual()) {
            String s = v.asText().trim();
            if (!s.matches("[A-Za-z0-9_.\\-]+")) {
                throw new InvalidInputException("peft_config: " + field + " '" + s + "' is a regular expression; give "
                        + "the module names as a list (e.g. [\"q_proj\", \"v_proj\"]) or \"all-linear\"");
            }
            names.add(s);
        } else if (v.isArray()) {
            for (JsonNode item : v) {
                if (!item.isTextual()) {
                    throw new InvalidInputException("peft_config: " + field + " must list module names");
                }
                names.add(item.asText().trim());
            }
        } else {
            throw new InvalidInputException("peft_config: " + field + " must be a list of module names");
        }
        // PEFT matches a name against the end of each module's path (model.layers.0.self_attn.q_proj ends in q_proj)
        if (!names.isEmpty()) {
            out.put(key, String.join(",", names.stream().map(n -> n.substring(n.lastIndexOf('.') + 1)).toList()));
        }
    }
}
