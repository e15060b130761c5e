package org.gpuplan.workload;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.gpuplan.model.InvalidInputException;

/**
 * Turns workload keys (from a JSON/YAML file and/or command-line flags) into a validated {@link Workload}, filling
 * the defaults a user of each framework would get. Unknown keys and bad values are errors that list what is accepted.
 */
public final class WorkloadParser {

    /** Keys of the single-GPU estimator. */
    public static final List<String> KEYS = List.of("model", "task", "method", "framework", "gpu", "precision",
            "optimizer", "optimizer_in_backward", "batch_size", "seq_len", "prompt_len", "output_len", "grad_accum",
            "checkpointing", "attention", "lora_rank", "lora_alpha", "lora_targets", "quant", "double_quant",
            "kv_dtype", "gpu_memory_utilization", "max_num_batched_tokens", "max_num_seqs", "architecture", "cuda_context_mib", "grads_to_none");

    /** Multi-GPU keys: accepted with their single-GPU values until sharding is modelled. */
    public static final Map<String, String> SINGLE_GPU_VALUES = linked("gpus", "1", "nodes", "1", "zero", "0",
            "fsdp", "none", "tp", "1", "pp", "1", "virtual_pp", "1", "cp", "1", "ep", "1", "sequence_parallel", "false",
            "offload_optimizer", "none", "offload_params", "none", "global_batch_size", "");

    private WorkloadParser() {
    }

    private static Map<String, String> linked(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    /** Reads a workload file (JSON or YAML: a mapping of keys to values) into raw string values. */
    public static Map<String, String> readFile(Path file) {
        String text;
        try {
            if (Files.size(file) > 1_000_000) {
                throw new InvalidInputException("workload: " + file + " is larger than 1 MB");
            }
            text = Files.readString(file);
        } catch (IOException e) {
            throw new InvalidInputException("workload: cannot read " + file + ": " + e.getMessage());
        }
        ObjectMapper mapper = new ObjectMapper(new YAMLFactory()); // YAML is a superset of JSON
        JsonNode root;
        try {
            root = mapper.readTree(text);
        } catch (JsonProcessingException e) {
            String msg = e.getOriginalMessage() == null ? "parse error" : e.getOriginalMessage().split("\n")[0];
            throw new InvalidInputException("workload: " + file.getFileName() + " is not valid JSON or YAML (" + msg
                    + ")");
        }
        if (root == null || !root.isObject()) {
            throw new InvalidInputException("workload: " + file.getFileName() + " must be a mapping of keys to values "
                    + "(accepted keys: " + String.join(", ", KEYS) + ")");
        }
        Map<String, String> out = new LinkedHashMap<>();
        root.fields().forEachRemaining(e -> {
            JsonNode v = e.getValue();
            String value;
            if (v.isArray()) {
                List<String> items = new ArrayList<>();
                v.forEach(item -> items.add(item.asText()));
                value = String.join(",", items);
            } else if (v.isObject()) {
                throw new InvalidInputException("workload: '" + e.getKey() + "' must be a single value or a list");
            } else {
                value = v.isNull() ? "" : v.asText();
            }
            out.put(e.getKey(), value);
        });
        return out;
    }

    /** Validates raw values and fills defaults. */
    public static Workload parse(Map<String, String> raw) {
        Map<String, String> v = new LinkedHashMap<>();
        Set<String> accepted = new TreeSet<>(KEYS);
        accepted.addAll(SINGLE_GPU_VALUES.keySet());
        raw.forEach((k, val) -> {
            String key = k.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (!accepted.contains(key)) {
                throw new InvalidInputException("workload: unknown key '" + k + "' (accepted: "
                        + String.join(", ", KEYS) + ", and the multi-GPU keys " + String.join(", ",
                        SINGLE_GPU_VALUES.keySet()) + ")");
            }
            if (val != null && !val.isBlank()) {
                v.put(key, val.trim());
            }
        });
        refuseMultiGpu(v);
        String model = v.get("model");
        if (model == null) {
            throw new InvalidInputException("model: missing (a HuggingFace id, config.json, folder, .safetensors or "
                    + ".gguf)");
        }
        Task task = choice(v, "task", Task.class, Task.TRAIN);
        Method method = choice(v, "method", Method.class, Method.FULL);
        Framework framework = choice(v, "framework", Framework.class, task == Task.TRAIN ? Framework.HF
                : Framework.HF);
        Precision precision = choice(v, "precision", Precision.class,
                task == Task.TRAIN && method == Method.FULL ? Precision.BF16_MIXED : Precision.BF16);
        QuantFormat quant = choice(v, "quant", QuantFormat.class, method == Method.QLORA ? QuantFormat.NF4
                : QuantFormat.NONE);
        int promptLen = positive(v, "prompt_len", 0, true);
        int outputLen = positive(v, "output_len", 0, true);
        int defaultSeq = task == Task.INFER && promptLen + outputLen > 0 ? promptLen + outputLen
                : task == Task.INFER ? 4096 : 2048;
        int seqLen = positive(v, "seq_len", defaultSeq, false);
        if (task == Task.INFER && promptLen + outputLen > 0 && v.containsKey("seq_len")
                && seqLen < promptLen + outputLen) {
            throw new InvalidInputException("seq_len (" + seqLen + ") is shorter than prompt_len + output_len ("
                    + (promptLen + outputLen) + ")");
        }
        int rank = positive(v, "lora_rank", 16, false);
        List<String> targets = v.containsKey("lora_targets")
                ? Arrays.stream(v.get("lora_targets").split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList()
                : List.of();
        return new Workload(model, task, method, framework, Optional.ofNullable(v.get("gpu")), precision,
                choice(v, "optimizer", OptimizerKind.class, OptimizerKind.ADAMW),
                bool(v, "optimizer_in_backward", false),
                positive(v, "batch_size", 1, false), seqLen, promptLen, outputLen,
                positive(v, "grad_accum", 1, false),
                choice(v, "checkpointing", Checkpointing.class, method == Method.QLORA ? Checkpointing.FULL
                        : Checkpointing.NONE),
                choice(v, "attention", AttentionImpl.class, AttentionImpl.SDPA), rank,
                number(v, "lora_alpha", 2.0 * rank), targets, quant,
                bool(v, "double_quant", method == Method.QLORA), choice(v, "kv_dtype", KvDtype.class, KvDtype.AUTO),
                number(v, "gpu_memory_utilization", 0.9), positive(v, "max_num_batched_tokens", 0, true),
                positive(v, "max_num_seqs", 0, true), Optional.ofNullable(v.get("architecture")),
                v.containsKey("cuda_context_mib") ? Optional.of(positive(v, "cuda_context_mib", 0, true) * 1048576L)
                        : Optional.empty(), bool(v, "grads_to_none", true));
    }

    private static void refuseMultiGpu(Map<String, String> v) {
        SINGLE_GPU_VALUES.forEach((key, single) -> {
            String given = v.get(key);
            if (given == null || single.isEmpty()) {
                return;
            }
            String g = given.toLowerCase(Locale.ROOT);
            boolean same = g.equals(single) || (single.equals("false") && g.equals("no"))
                    || (single.equals("none") && (g.equals("no") || g.equals("false")));
            if (!same) {
                throw new InvalidInputException(key + ": '" + given + "' needs the multi-GPU estimator, which is not "
                        + "available yet (accepted here: " + single + ")");
            }
        });
    }

    private static <E extends Enum<E> & Choice> E choice(Map<String, String> v, String key, Class<E> type,
                                                         E fallback) {
        String s = v.get(key);
        return s == null ? fallback : Choice.parse(type, key, s);
    }

    private static int positive(Map<String, String> v, String key, int fallback, boolean zeroOk) {
        String s = v.get(key);
        if (s == null) {
            return fallback;
        }
        try {
            double d = Double.parseDouble(s.replace("_", ""));
            if (d != Math.rint(d) || d < (zeroOk ? 0 : 1) || d > Integer.MAX_VALUE) {
                throw new NumberFormatException();
            }
            return (int) d;
        } catch (NumberFormatException e) {
            throw new InvalidInputException(key + ": expected a " + (zeroOk ? "non-negative" : "positive")
                    + " integer, got '" + s + "'");
        }
    }

    private static double number(Map<String, String> v, String key, double fallback) {
        String s = v.get(key);
        if (s == null) {
            return fallback;
        }
        try {
            double d = Double.parseDouble(s);
            if (!Double.isFinite(d) || d <= 0) {
                throw new NumberFormatException();
            }
            return d;
        } catch (NumberFormatException e) {
            throw new InvalidInputException(key + ": expected a positive number, got '" + s + "'");
        }
    }

    private static boolean bool(Map<String, String> v, String key, boolean fallback) {
        String s = v.get(key);
        if (s == null) {
            return fallback;
        }
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "true", "yes", "1", "on" -> true;
            case "false", "no", "0", "off" -> false;
            default -> throw new InvalidInputException(key + ": expected true or false, got '" + s + "'");
        };
    }
}
