package org.gpuplan.workload;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.gpuplan.model.InvalidInputException;

/** Workload keys that come from another tool's config file (DeepSpeed, accelerate) beside the workload's own. */
final class ToolConfig {

    private ToolConfig() {
    }

    /**
     * The config's keys with the workload's on top. A key both give must agree, as transformers' Trainer insists
     * (its "auto" placeholders defer to the workload); a bf16/fp16 precision with or without "-mixed" agrees with the
     * config's, since DeepSpeed and FSDP's mixed precision keep fp32 master weights either way.
     */
    static Map<String, String> merge(String source, Map<String, String> config, Map<String, String> workload) {
        Map<String, String> out = new LinkedHashMap<>(config);
        workload.forEach((k, v) -> {
            String c = config.get(k);
            if (v == null) {
                out.putIfAbsent(k, null);
                return;
            }
            if (c != null && !agree(k, c, v)) {
                throw new InvalidInputException(k + ": " + source + " gives '" + c + "' and the workload '" + v
                        + "'; give one (\"auto\" in the config defers to the workload)");
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
