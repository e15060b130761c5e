package org.gpuplan.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.gpuplan.model.InvalidInputException;

/**
 * The built-in model catalog: verbatim HuggingFace config.json files in {@code gpuplan/models/}, indexed by
 * {@code catalog.csv} (id, file, source, retrieved, notes). Data, not code: adding a model is adding a row and a file.
 */
public final class ModelCatalog {

    static final String DIR = "/gpuplan/models/";
    private final List<CatalogEntry> entries;

    private ModelCatalog(List<CatalogEntry> entries) {
        this.entries = List.copyOf(entries);
    }

    /** The catalog shipped in the jar. */
    public static ModelCatalog builtIn() {
        String text = resource("catalog.csv");
        List<List<String>> rows = Csv.parse(text, "catalog.csv");
        List<CatalogEntry> entries = new ArrayList<>();
        for (List<String> row : rows.subList(1, rows.size())) {
            if (row.size() < 4) {
                throw new IllegalStateException("catalog.csv: malformed row " + row);
            }
            entries.add(new CatalogEntry(row.get(0), row.get(1), row.get(2), row.get(3),
                    row.size() > 4 ? row.get(4) : ""));
        }
        entries.sort(Comparator.comparing(e -> e.id().toLowerCase(Locale.ROOT)));
        return new ModelCatalog(entries);
    }

    public List<CatalogEntry> entries() {
        return entries;
    }

    /** Exact id (case-insensitive), or the name part alone when exactly one entry has it. */
    public Optional<CatalogEntry> find(String ref) {
        String r = ref.trim().toLowerCase(Locale.ROOT);
        for (CatalogEntry e : entries) {
            if (e.id().toLowerCase(Locale.ROOT).equals(r)) {
                return Optional.of(e);
            }
        }
        List<CatalogEntry> byName = entries.stream()
                .filter(e -> e.id().substring(e.id().indexOf('/') + 1).toLowerCase(Locale.ROOT).equals(r)).toList();
        return byName.size() == 1 ? Optional.of(byName.get(0)) : Optional.empty();
    }

    /**
     * The catalog model that differs from {@code ref} only by the words that name a variant trained from the same
     * architecture (Instruct, Chat, it, Base, pt: meta-llama/Llama-3.1-8B-Instruct → meta-llama/Llama-3.1-8B,
     * mistralai/Mistral-7B-Instruct-v0.3 → mistralai/Mistral-7B-v0.3, google/gemma-2-9b-it → google/gemma-2-9b,
     * meta-llama/Llama-2-7b-chat-hf → meta-llama/Llama-2-7b-hf), a release date (Qwen3-30B-A3B-Instruct-2507 →
     * Qwen3-30B-A3B) or the org of a re-upload (unsloth/Llama-3.2-3B-Instruct → meta-llama/Llama-3.2-3B); empty when
     * none or more than one architecture does.
     */
    public Optional<CatalogEntry> sameArchitectureAs(String ref) {
        String unquantized = REPUBLISHED_SUFFIX.matcher(QUANT_SUFFIX.matcher(ref.trim().toLowerCase(Locale.ROOT))
                .replaceAll("")).replaceAll("");
        if (!unquantized.equals(ref.trim().toLowerCase(Locale.ROOT))) {
            // a quantized checkpoint of a catalog model, often re-published under another org (unsloth, RedHatAI)
            Optional<CatalogEntry> exact = find(unquantized)
                    .or(() -> find(unquantized.substring(unquantized.indexOf('/') + 1)));
            if (exact.isPresent()) {
                return exact;
            }
            Optional<CatalogEntry> variant = sameArchitectureAs(unquantized);
            return variant.isPresent() || !unquantized.contains("/") ? variant
                    : sameArchitectureAs(unquantized.substring(unquantized.indexOf('/') + 1));
        }
        String r = withoutVariantWords(ref);
        boolean withOrg = ref.contains("/");
        List<CatalogEntry> hits = entries.stream().filter(e -> {
            String id = withOrg ? e.id() : e.id().substring(e.id().indexOf('/') + 1);
            return withoutVariantWords(id).equals(r);
        }).toList();
        // several hits are fine when they are one architecture (the same config file)
        if (hits.stream().map(CatalogEntry::file).distinct().count() == 1) {
            return Optional.of(hits.get(0));
        }
        if (hits.isEmpty() && withOrg && MIRRORS.contains(r.substring(0, r.indexOf('/')))) {
            // the same weights re-uploaded by an org that mirrors models (unsloth/Llama-3.2-3B-Instruct); another
            // org's model of the same name may be a different one, and is not assumed to be the same
            String name = ref.trim().substring(ref.trim().indexOf('/') + 1);
            Optional<CatalogEntry> byName = find(name).or(() -> sameArchitectureAs(name));
            if (byName.isPresent()) {
                return byName;
            }
        }
        // Llama 3.1's repositories were first named Meta-Llama-3.1-…, as GGUF re-publishers still name them
        String name = r.substring(r.indexOf('/') + 1);
        return hits.isEmpty() && name.startsWith("meta-llama-3.") ? sameArchitectureAs(name.substring(5))
                : Optional.empty();
    }

    /** Orgs that re-upload other orgs' models unchanged (ungated mirrors, quantized and GGUF re-publishers). */
    private static final java.util.Set<String> MIRRORS = java.util.Set.of("unsloth", "nousresearch", "redhatai",
            "neuralmagic", "thebloke", "bartowski", "lmstudio-community", "hugging-quants", "mlx-community",
            "quantfactory", "maziyarpanahi", "second-state", "modelcloud", "casperhansen", "ggml-org");

    /** Repositories that re-publish a model's weights in another container (GGUF files for llama.cpp). */
    private static final java.util.regex.Pattern REPUBLISHED_SUFFIX = java.util.regex.Pattern.compile("-gguf$");

    private static String withoutVariantWords(String id) {
        String s = id.trim().toLowerCase(Locale.ROOT);
        String before;
        do {
            before = s;
            // release dates name updates of the same architecture (Qwen3-30B-A3B-Instruct-2507, DeepSeek-V3-0324)
            s = s.replaceAll("-(instruct|chat|it|base|pt|\\d{4})(?=-|$)", "");
        } while (!s.equals(before));
        return s;
    }

    /**
     * Suffixes of quantized checkpoints published beside a model (Qwen/Qwen3-235B-A22B-FP8, -AWQ, -GPTQ-Int4,
     * RedHatAI's -FP8-dynamic, unsloth's -bnb-4bit): the same architecture, stored in that format.
     */
    private static final java.util.regex.Pattern QUANT_SUFFIX = java.util.regex.Pattern.compile(
            "-(fp8(-dynamic|-block)?|awq|gptq(-int4)?|int4|(unsloth-)?bnb-4bit)$");

    /**
     * The storage format a model id's quantized-checkpoint suffix names, in quantization_config's words (fp8, awq,
     * gptq, bnb-nf4); empty when the id names none.
     */
    public static Optional<String> quantizationOfId(String id) {
        java.util.regex.Matcher m = QUANT_SUFFIX.matcher(id.trim().toLowerCase(Locale.ROOT));
        if (!m.find()) {
            return Optional.empty();
        }
        String suffix = m.group(1);
        return Optional.of(suffix.startsWith("fp8") ? "fp8" : suffix.equals("awq") ? "awq"
                : suffix.endsWith("bnb-4bit") ? "bnb-nf4" : "gptq");
    }

    /** The config.json text of an entry. */
    public String config(CatalogEntry e) {
        return resource(e.file());
    }

    /** Up to three ids closest to a mistyped reference, for "did you mean". */
    public List<String> suggestions(String ref) {
        String r = ref.toLowerCase(Locale.ROOT);
        return entries.stream()
                .map(e -> new Object() {
                    final String id = e.id();
                    final int d = Math.min(distance(r, e.id().toLowerCase(Locale.ROOT)),
                            distance(r, e.id().substring(e.id().indexOf('/') + 1).toLowerCase(Locale.ROOT)));
                })
                .filter(o -> o.d <= Math.max(3, r.length() / 3))
                .sorted(Comparator.comparingInt(o -> o.d))
                .limit(3).map(o -> o.id).toList();
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private static String resource(String name) {
        try (InputStream in = ModelCatalog.class.getResourceAsStream(DIR + name)) {
            if (in == null) {
                throw new InvalidInputException("built-in catalog file missing: " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
