package org.gpuplan.workload;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.gpuplan.model.InvalidInputException;

/** Workload keys that come from another tool's config file (DeepSpeed, accelerate) beside the workload's own. */
final class ToolConfig {

    private ToolConfig() {
    }

    /**
     * A size-capped JSON/YAML file as a tree; unreadable, oversized or malformed files are one-line errors naming
     * {@code field} and the {@code format} expected. The tree may be null (an empty file) or not an object.
     */
    static JsonNode readTree(Path file, String field, ObjectMapper mapper, String format) {
        String text;
        try {
            if (Files.size(file) > 1_000_000) {
                throw new InvalidInputException(field + ": " + file.getFileName() + " is larger than 1 MB");
            }
            text = Files.readString(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new InvalidInputException(field + ": cannot read " + file + ": no such file");
        } catch (IOException e) {
            throw new InvalidInputException(field + ": cannot read " + file + ": " + e.getMessage());
        }
        try {
            return mapper.readTree(text);
        } catch (JsonProcessingException e) {
            String msg = e.getOriginalMessage() == null ? "parse error" : e.getOriginalMessage().split("\n")[0];
            throw new InvalidInputException(field + ": " + file.getFileName() + " is not valid " + format + " (" + msg
                    + ")");
        }
    }

    /** {@code name} relative to the folder of {@code file} (the way tools resolve paths inside their configs). */
    static Path besides(Path file, String name) {
        Path parent = file.toAbsolutePath().getParent();
        return parent == null ? Path.of(name) : parent.resolve(name);
    }

    /**
     * The config's keys with the workload's on top. A key both give must agree, as transformers' Trainer insists
     * (its "auto" placeholders defer to the workload); a bf16/fp16 precision with or without "-mixed" agrees with the
     * config's, since DeepSpeed and FSDP's mixed precision keep fp32 master weights either way.
     */
    static Map<String, String> merge(String source, Map<String, String> config, Map<String, String> workload) {
        return merge(source, config, workload, " (\"auto\" in the config defers to the workload)");
    }

    /** {@link #merge(String, Map, Map)} for configs without "auto" placeholders: {@code hint} ends the error. */
    static Map<String, String> merge(String source, Map<String, String> config, Map<String, String> workload,
                                     String hint) {
        Map<String, String> out = new LinkedHashMap<>(config);
        workload.forEach((k, v) -> {
            String c = config.get(k);
            if (v == null) {
                out.putIfAbsent(k, null);
                return;
            }
            if (c != null && !agree(k, c, v)) {
                throw new InvalidInputException(k + ": " + source + " gives '" + c + "' and the workload '" + v
                        + "'; give one" + hint);
            }
            out.put(k, v);
        });
        return out;
    }

    private static boolean agree(String key, String config, String value) {
        String a = config.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        String b = value.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        if (key.equals("precision")) {
            return a.replace("-mixed", "").equals(b.replace("-mixed", "").replace("bfloat16", "bf16")
                    .replace("float16", "fp16"));
        }
        return a.equals(b);
    }
}
