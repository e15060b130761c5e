package org.gpuplan.io;

import java.util.List;
import java.util.Optional;
import org.gpuplan.model.ModelSpec;

/**
 * A model as found: its architecture (when a config or GGUF metadata gave one), what its weight files store (when
 * there were any), where it came from, and warnings for the user.
 *
 * @param origin where it was resolved ("built-in catalog", a path, the HuggingFace cache, the Hub)
 * @param source the citation of a catalog entry, empty otherwise
 */
public record LoadedModel(String name, String origin, Optional<String> source, Optional<ParsedConfig> config,
                          Optional<TensorSummary> tensors, Optional<GgufFile> gguf, List<String> warnings) {

    public LoadedModel {
        warnings = List.copyOf(warnings);
    }

    public Optional<ModelSpec> spec() {
        return config.map(ParsedConfig::spec);
    }
}
