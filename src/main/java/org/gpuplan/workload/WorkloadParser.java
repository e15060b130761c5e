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
            "checkpointing", "attention", "loss_impl", "lora_rank", "lora_alpha", "lora_targets", "quant", "double_quant",
            "kv_dtype", "gpu_memory_utilization", "max_num_batched_tokens", "max_num_seqs", "architecture", "cuda_context_mib", "grads_to_none",
            "tokens", "compile", "float8_linear", "tp_comm_overlap", "matmul_efficiency", "memory_efficiency",
            "comm_efficiency", "host_overhead_us");

    /** Multi-GPU keys. */
    public static final List<String> PARALLEL_KEYS = List.of("gpus", "nodes", "zero", "fsdp", "tp", "pp",
            "virtual_pp", "pp_schedule", "cp", "ep", "sequence_parallel", "offload_optimizer", "offload_params",
            "global_batch_size", "attention_dp");

    private WorkloadParser() {
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

    /** Every accepted key (the planner parses thousands of workloads: built once). */
    private static final Set<String> ACCEPTED = acceptedKeys();

    private static Set<String> acceptedKeys() {
        Set<String> all = new TreeSet<>(KEYS);
        all.addAll(PARALLEL_KEYS);
        return Set.copyOf(all);
    }

    /** Validates raw values and fills defaults. */
    public static Workload parse(Map<String, String> raw) {
        Map<String, String> v = new LinkedHashMap<>();
        raw.forEach((k, val) -> {
            String key = k.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (!ACCEPTED.contains(key)) {
                throw new InvalidInputException("workload: unknown key '" + k + "' (accepted: "
                        + String.join(", ", KEYS) + ", and the multi-GPU keys " + String.join(", ", PARALLEL_KEYS)
                        + ")");
            }
            if (val != null && !val.isBlank()) {
                v.put(key, val.trim());
            }
        });
        String model = v.get("model");
        if (model == null) {
            throw new InvalidInputException("model: missing (a HuggingFace id, config.json, folder, .safetensors or "
                    + ".gguf)");
        }
        if ("serve".equalsIgnoreCase(v.getOrDefault("task", ""))) {
            v.put("task", "infer"); // serving is inference under load
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
        boolean maxBatch = "max".equalsIgnoreCase(v.getOrDefault("batch_size", ""));
        if (maxBatch && task != Task.INFER) {
            throw new InvalidInputException("batch_size: 'max' (the largest concurrency the KV cache holds) applies to "
                    + "--task infer; for training give a positive integer");
        }
        List<String> targets = v.containsKey("lora_targets")
                ? Arrays.stream(v.get("lora_targets").split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList()
                : List.of();
        return new Workload(model, task, method, framework, Optional.ofNullable(v.get("gpu")), precision,
                choice(v, "optimizer", OptimizerKind.class, OptimizerKind.ADAMW),
                bool(v, "optimizer_in_backward", false),
                maxBatch ? 1 : positive(v, "batch_size", 1, false), seqLen, promptLen, outputLen,
                positive(v, "grad_accum", 1, false),
                choice(v, "checkpointing", Checkpointing.class, method == Method.QLORA ? Checkpointing.FULL
                        : Checkpointing.NONE),
                choice(v, "attention", AttentionImpl.class, AttentionImpl.SDPA),
                // torch.compile compiles the loss with the model (HF forward) or on its own (torchtitan, 2025)
                choice(v, "loss_impl", LossImpl.class, bool(v, "compile", false) ? LossImpl.COMPILED : LossImpl.EAGER),
                rank,
                number(v, "lora_alpha", 2.0 * rank), targets, quant,
                bool(v, "double_quant", method == Method.QLORA), choice(v, "kv_dtype", KvDtype.class, KvDtype.AUTO),
                number(v, "gpu_memory_utilization", 0.9), positive(v, "max_num_batched_tokens", 0, true),
                positive(v, "max_num_seqs", 0, true), Optional.ofNullable(v.get("architecture")),
                v.containsKey("cuda_context_mib") ? Optional.of(positive(v, "cuda_context_mib", 0, true) * 1048576L)
                        : Optional.empty(), bool(v, "grads_to_none", true), parallelism(v), perf(v, maxBatch));
    }

    private static Parallelism parallelism(Map<String, String> v) {
        int gpus = positive(v, "gpus", 1, false);
        int tp = positive(v, "tp", 1, false);
        int pp = positive(v, "pp", 1, false);
        int vpp = positive(v, "virtual_pp", 1, false);
        String fsdp = v.getOrDefault("fsdp", "none");
        if (fsdp.equalsIgnoreCase("false") || fsdp.equalsIgnoreCase("no")) {
            fsdp = "none";
        }
        return new Parallelism(gpus, positive(v, "nodes", 1, false), positive(v, "zero", 0, true),
                Choice.parse(Parallelism.FsdpMode.class, "fsdp", fsdp), tp, pp, vpp,
                choice(v, "pp_schedule", Parallelism.PpSchedule.class, vpp > 1 ? Parallelism.PpSchedule.INTERLEAVED
                        : Parallelism.PpSchedule.ONE_F_ONE_B),
                positive(v, "cp", 1, false), positive(v, "ep", 1, false), bool(v, "sequence_parallel", false),
                offload(v, "offload_optimizer"), offload(v, "offload_params"),
                positive(v, "global_batch_size", 0, true), bool(v, "attention_dp", false));
    }

    private static Parallelism.Offload offload(Map<String, String> v, String key) {
        String s = v.getOrDefault(key, "none");
        if (s.equalsIgnoreCase("false") || s.equalsIgnoreCase("no")) {
            s = "none";
        }
        if (s.equalsIgnoreCase("true")) {
            s = "cpu";
        }
        return Choice.parse(Parallelism.Offload.class, key, s);
    }

    private static <E extends Enum<E> & Choice> E choice(Map<String, String> v, String key, Class<E> type,
                                                         E fallback) {
        String s = v.get(key);
        return s == null ? fallback : Choice.parse(type, key, s);
    }

    private static PerfOptions perf(Map<String, String> v, boolean maxBatch) {
        double tokens = 0;
        if (v.containsKey("tokens")) {
            try {
                tokens = Double.parseDouble(v.get("tokens").replace("_", ""));
            } catch (NumberFormatException e) {
                throw new InvalidInputException("tokens: expected a number of training tokens such as 20e9, got '"
                        + v.get("tokens") + "'");
            }
            if (!Double.isFinite(tokens) || tokens <= 0) {
                throw new InvalidInputException("tokens: expected a positive number of training tokens such as 20e9, "
                        + "got '" + v.get("tokens") + "'");
            }
        }
        return new PerfOptions(tokens, maxBatch, bool(v, "compile", false), bool(v, "float8_linear", false),
                bool(v, "tp_comm_overlap", false), optionalNumber(v, "matmul_efficiency"),
                optionalNumber(v, "memory_efficiency"), optionalNumber(v, "comm_efficiency"), hostOverhead(v));
    }

    /** Host microseconds per kernel: a number from 0 to 10000. */
    private static java.util.OptionalDouble hostOverhead(Map<String, String> v) {
        String s = v.get("host_overhead_us");
        if (s == null) {
            return java.util.OptionalDouble.empty();
        }
        try {
            double d = Double.parseDouble(s);
            if (d >= 0 && d <= 10_000) {
                return java.util.OptionalDouble.of(d);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidInputException("host_overhead_us: expected microseconds per kernel from 0 to 10000, such as "
                + "20, got '" + s + "'");
    }

    /** An efficiency override: a fraction in (0, 1]. */
    private static java.util.OptionalDouble optionalNumber(Map<String, String> v, String key) {
        if (!v.containsKey(key)) {
            return java.util.OptionalDouble.empty();
        }
        try {
            double d = Double.parseDouble(v.get(key));
            if (d > 0 && d <= 1) {
                return java.util.OptionalDouble.of(d);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidInputException(key + ": expected a fraction in (0, 1], such as 0.7, got '" + v.get(key) + "'");
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
