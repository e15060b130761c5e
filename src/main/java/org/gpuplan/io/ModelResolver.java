package org.gpuplan.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.gpuplan.model.InvalidInputException;

/**
 * Finds a model from what the user typed. Order: a local path (config.json, folder, .safetensors, .gguf,
 * index json) → the local HuggingFace cache → the Hub (only with {@code --online}) → the built-in catalog.
 */
public final class ModelResolver {

    private static final Pattern HF_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?");
    private static final int MAX_SHARDS = 10_000;

    private final ModelCatalog catalog;
    private final ResolveOptions options;

    public ModelResolver(ModelCatalog catalog, ResolveOptions options) {
        this.catalog = catalog;
        this.options = options;
    }

    /** A Hub page or file URL (https://huggingface.co/org/name[/tree/main|/blob/main/config.json], hf.co/...). */
    private static final Pattern HUB_URL = Pattern.compile(
            "(?i)(?:https?://)?(?:www\\.)?(?:huggingface\\.co|hf\\.co)/([^/?#]+/[^/?#]+)(?:[/?#].*)?");

    /** The repository id of a Hub URL as users paste it, or the reference unchanged. */
    static String repoIdOf(String ref) {
        java.util.regex.Matcher m = HUB_URL.matcher(ref.trim());
        return m.matches() ? m.group(1) : ref;
    }

    public LoadedModel resolve(String ref) {
        if (ref == null || ref.isBlank()) {
            throw new InvalidInputException("model: give a HuggingFace id (e.g. meta-llama/Llama-3.1-8B), a config.json, "
                    + "a model folder, a .safetensors or a .gguf file");
        }
        if (!Files.exists(Path.of(ref))) {
            ref = repoIdOf(ref);
        }
        Path path = Path.of(ref);
        if (Files.exists(path)) {
            return loadPath(path);
        }
        if (looksLikePath(ref)) {
            throw new InvalidInputException("model: no such file or folder: " + ref);
        }
        if (!HF_ID.matcher(ref).matches()) {
            throw new InvalidInputException("model: '" + SafetensorsReader.shorten(ref) + "' is neither an existing path "
                    + "nor a HuggingFace id of the form org/name");
        }
        return resolveId(ref);
    }

    /**
     * A HuggingFace id (or Hub URL) only, never a local path: the local cache, the Hub with {@code --online}, the
     * catalog. What a server resolves for remote clients, who must not name the server's files.
     */
    public LoadedModel resolveId(String ref) {
        if (ref == null || ref.isBlank()) {
            throw new InvalidInputException("model: give a HuggingFace id such as meta-llama/Llama-3.1-8B");
        }
        ref = repoIdOf(ref);
        if (!HF_ID.matcher(ref).matches()) {
            throw new InvalidInputException("model: '" + SafetensorsReader.shorten(ref) + "' is not a HuggingFace id of "
                    + "the form org/name");
        }
        if (ref.contains("/")) {
            Optional<Path> cached = cachedSnapshot(ref);
            if (cached.isPresent()) {
                LoadedModel m = loadFolder(cached.get(), ref);
                return new LoadedModel(ref, "HuggingFace cache (" + cached.get() + ")", Optional.empty(), m.config(),
                        m.tensors(), m.gguf(), m.warnings());
            }
            if (options.online()) {
                Path config = HubClient.downloadConfig(ref, options);
                LoadedModel m = loadFolder(config.getParent(), ref);
                return new LoadedModel(ref, "HuggingFace Hub (" + options.endpoint() + "), saved to "
                        + config.getParent(), Optional.empty(), m.config(), m.tensors(), m.gguf(), m.warnings());
            }
        }
        Optional<CatalogEntry> entry = catalog.find(ref);
        if (entry.isPresent()) {
            CatalogEntry e = entry.get();
            ParsedConfig parsed = HfConfigParser.parse(catalog.config(e), e.id(), e.id() + " (built-in catalog)");
            return new LoadedModel(e.id(), "built-in catalog", Optional.of(e.source()), Optional.of(parsed),
                    Optional.empty(), Optional.empty(), parsed.warnings());
        }
        Optional<CatalogEntry> variant = catalog.sameArchitectureAs(ref);
        if (variant.isPresent()) {
            // an instruction-tuned (or base) variant of a catalog model: the same architecture, other weights
            CatalogEntry e = variant.get();
            ParsedConfig parsed = HfConfigParser.parse(catalog.config(e), ref, e.id() + " (built-in catalog)");
            List<String> warnings = new java.util.ArrayList<>(parsed.warnings());
            warnings.add(ref + " is not in the built-in catalog: estimated with the architecture of " + e.id()
                    + " (its base, instruction-tuned or quantized variant; such variants share config.json's "
                    + "architecture keys)" + (options.online() ? "" : "; add --online to read its own config.json"));
            Optional<String> stored = ModelCatalog.quantizationOfId(ref);
            if (stored.isPresent() && parsed.quantization().isEmpty()) {
                // the suffix says how the checkpoint stores its weights, as its quantization_config would
                parsed = new ParsedConfig(parsed.spec(), parsed.checkpointDtype(), stored, parsed.warnings());
                warnings.add("the id names a " + stored.get() + " checkpoint: inference takes that format unless "
                        + "--quant says otherwise");
            }
            return new LoadedModel(ref, "built-in catalog (" + e.id() + ")", Optional.of(e.source()),
                    Optional.of(parsed), Optional.empty(), Optional.empty(), warnings);
        }
        List<String> suggestions = catalog.suggestions(ref);
        throw new InvalidInputException("model '" + ref + "' not found: not a local path, not in the HuggingFace cache ("
                + options.hubCache() + "), not in the built-in catalog"
                + (suggestions.isEmpty() ? "" : "; did you mean " + String.join(", ", suggestions) + "?")
                + (options.online() ? "" : "; add --online to download its config.json from the Hub")
                + " ('gpuplan models' lists the catalog)");
    }

    static String cacheFolderName(String id) {
        return "models--" + id.replace("/", "--");
    }

    private static boolean looksLikePath(String ref) {
        String r = ref.toLowerCase(Locale.ROOT);
        return r.startsWith(".") || r.startsWith("/") || r.startsWith("~") || r.contains("\\") || r.endsWith(".json")
                || r.endsWith(".gguf") || r.endsWith(".safetensors") || r.split("/").length > 2;
    }

    /** The snapshot of refs/main, else the most recently modified snapshot that has a config.json. */
    private Optional<Path> cachedSnapshot(String id) {
        Path repo = options.hubCache().resolve(cacheFolderName(id));
        Path snapshots = repo.resolve("snapshots");
        if (!Files.isDirectory(snapshots)) {
            return Optional.empty();
        }
        Optional<String> ref = HubClient.readRef(repo);
        if (ref.isPresent() && ref.get().matches("[A-Za-z0-9._-]+")) {
            Path s = snapshots.resolve(ref.get());
            if (Files.isRegularFile(s.resolve("config.json"))) {
                return Optional.of(s);
            }
        }
        try (Stream<Path> list = Files.list(snapshots)) {
            return list.filter(p -> Files.isRegularFile(p.resolve("config.json")))
                    .max(Comparator.comparing(ModelResolver::modified));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static FileTime modified(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }

    /** Loads whatever a local path is. */
    public LoadedModel loadPath(Path path) {
        String fileName = path.getFileName() == null ? path.toString() : path.getFileName().toString();
        if (Files.isDirectory(path)) {
            return loadFolder(path, fileName);
        }
        if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
            throw new InvalidInputException("model: cannot read " + path);
        }
        String lower = fileName.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".gguf") || hasGgufMagic(path)) {
            return loadGguf(path);
        }
        if (lower.endsWith(".safetensors")) {
            Path dir = parent(path);
            Optional<ParsedConfig> config = siblingConfig(dir);
            int layers = config.map(c -> c.spec().numLayers()).orElse(-1);
            TensorSummary t;
            try (ByteSource src = ByteSource.open(path)) {
                t = SafetensorsReader.read(src, fileName, layers);
            }
            List<String> warnings = new ArrayList<>(config.map(ParsedConfig::warnings).orElse(List.of()));
            if (config.isEmpty()) {
                warnings.add("no config.json beside the file: the architecture is unknown, parameters are the "
                        + "stored elements");
            }
            return new LoadedModel(stripExt(fileName), path.toString(), Optional.empty(), config, Optional.of(t),
                    Optional.empty(), warnings);
        }
        if (lower.endsWith(".index.json")) {
            return loadFolder(parent(path), stripExt(fileName));
        }
        if (lower.endsWith(".json")) {
            String name = parent(path).getFileName() != null && lower.equals("config.json")
                    ? parent(path).getFileName().toString() : stripExt(fileName);
            ParsedConfig parsed = HfConfigParser.parse(readText(path), name, fileName);
            return new LoadedModel(name, path.toString(), Optional.empty(), Optional.of(parsed), Optional.empty(),
                    Optional.empty(), parsed.warnings());
        }
        throw new InvalidInputException("model: " + fileName + " is not a config.json, .safetensors, "
                + ".safetensors.index.json or .gguf file");
    }

    private LoadedModel loadFolder(Path dir, String name) {
        Optional<ParsedConfig> config = siblingConfig(dir);
        List<Path> safetensors = list(dir, ".safetensors");
        List<Path> ggufs = list(dir, ".gguf");
        if (config.isEmpty() && safetensors.isEmpty() && !ggufs.isEmpty()) {
            return loadGguf(ggufs.get(0));
        }
        List<String> warnings = new ArrayList<>(config.map(ParsedConfig::warnings).orElse(List.of()));
        int layers = config.map(c -> c.spec().numLayers()).orElse(-1);
        Optional<TensorSummary> tensors = Optional.empty();
        Path index = dir.resolve("model.safetensors.index.json");
        if (!safetensors.isEmpty()) {
            TensorSummary.Builder b = new TensorSummary.Builder("safetensors", layers);
            if (safetensors.size() > MAX_SHARDS) {
                throw new InvalidInputException(dir + ": more than " + MAX_SHARDS + " safetensors files");
            }
            for (Path p : safetensors) {
                try (ByteSource src = ByteSource.open(p)) {
                    SafetensorsReader.readInto(src, p.getFileName().toString(), b);
                }
            }
            Set<String> missing = Files.isRegularFile(index) ? missingShards(index, safetensors) : Set.of();
            if (!missing.isEmpty()) {
                warnings.add("the index lists " + missing.size() + " shard(s) that are not in the folder (e.g. "
                        + missing.iterator().next() + "); file totals cover the shards present only");
            }
            tensors = Optional.of(b.build(Optional.empty()));
        } else if (Files.isRegularFile(index)) {
            long total = indexTotalSize(index);
            tensors = Optional.of(new TensorSummary("safetensors index", 0, 0, 0, total, java.util.Map.of(),
                    java.util.Map.of(), 0, 0, Optional.of(total)));
        }
        if (config.isEmpty() && tensors.isEmpty()) {
            throw new InvalidInputException("model: folder " + dir + " has no config.json, *.safetensors or *.gguf");
        }
        if (config.isEmpty()) {
            warnings.add("no config.json in the folder: the architecture is unknown, parameters are the stored "
                    + "elements");
        }
        return new LoadedModel(name, dir.toString(), Optional.empty(), config, tensors, Optional.empty(), warnings);
    }

    private LoadedModel loadGguf(Path path) {
        GgufFile f;
        String fileName = path.getFileName().toString();
        try (ByteSource src = ByteSource.open(path)) {
            f = GgufReader.read(src, fileName);
        }
        List<String> warnings = new ArrayList<>();
        Optional<ParsedConfig> config = GgufSpec.derive(f, stripExt(fileName), warnings);
        String name = f.string("general.name").orElse(stripExt(fileName));
        return new LoadedModel(name, path.toString(), Optional.empty(), config, Optional.of(f.tensors()),
                Optional.of(f), warnings);
    }

    private static Optional<ParsedConfig> siblingConfig(Path dir) {
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            return Optional.empty();
        }
        String name = dir.getFileName() == null ? "model" : dir.getFileName().toString();
        return Optional.of(HfConfigParser.parse(readText(config), name, "config.json"));
    }

    private static List<Path> list(Path dir, String suffix) {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                if (p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(suffix) && Files.isRegularFile(p)) {
                    out.add(p);
                    if (out.size() > MAX_SHARDS) {
                        break;
                    }
                }
            }
        } catch (IOException e) {
            throw new InvalidInputException("model: cannot list " + dir + ": " + e.getMessage());
        }
        out.sort(Comparator.comparing(p -> p.getFileName().toString()));
        return out;
    }

    private static Set<String> missingShards(Path index, List<Path> present) {
        JsonNode root = readIndex(index);
        Set<String> names = new LinkedHashSet<>();
        root.path("weight_map").forEach(v -> names.add(v.asText()));
        present.forEach(p -> names.remove(p.getFileName().toString()));
        return names;
    }

    private static long indexTotalSize(Path index) {
        JsonNode total = readIndex(index).path("metadata").path("total_size");
        if (!total.canConvertToLong() || total.asLong() < 0) {
            throw new InvalidInputException(index.getFileName() + ": metadata.total_size must be a non-negative integer");
        }
        return total.asLong();
    }

    private static JsonNode readIndex(Path index) {
        try {
            JsonNode root = HfConfigParser.JSON.readTree(readText(index));
            if (root == null || !root.isObject()) {
                throw new InvalidInputException(index.getFileName() + ": expected a JSON object");
            }
            return root;
        } catch (IOException e) {
            throw new InvalidInputException(index.getFileName() + ": not valid JSON ("
                    + HfConfigParser.firstLine(e.getMessage()) + ")");
        }
    }

    static String readText(Path p) {
        try {
            long size = Files.size(p);
            if (size > HfConfigParser.MAX_CONFIG_BYTES) {
                throw new InvalidInputException(p.getFileName() + ": " + size + " bytes is too large for a JSON "
                        + "config (at most " + HfConfigParser.MAX_CONFIG_BYTES + ")");
            }
            byte[] bytes = Files.readAllBytes(p);
            return new String(bytes, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidInputException("cannot read " + p + ": " + e.getMessage());
        }
    }

    private static boolean hasGgufMagic(Path p) {
        try (var in = Files.newInputStream(p)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F';
        } catch (IOException e) {
            return false;
        }
    }

    private static Path parent(Path p) {
        Path parent = p.toAbsolutePath().getParent();
        return parent == null ? Path.of(".") : parent;
    }

    private static String stripExt(String name) {
        String n = name;
        for (String ext : new String[] {".safetensors.index.json", ".safetensors", ".gguf", ".json"}) {
            if (n.toLowerCase(Locale.ROOT).endsWith(ext)) {
                return n.substring(0, n.length() - ext.length());
            }
        }
        return n;
    }
}
