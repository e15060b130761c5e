package org.gpuplan.io;

import java.util.List;
import java.util.Optional;
import org.gpuplan.model.ModelSpec;

/**
 * A config.json read into an architecture, with what the file says about its stored weights.
 *
 * @param checkpointDtype the config's {@code torch_dtype}/{@code dtype}, if any
 * @param quantization    a one-line description of {@code quantization_config}, if any
 * @param warnings        things the user should know (e.g. read as a generic decoder)
 */
public record ParsedConfig(ModelSpec spec, Optional<String> checkpointDtype, Optional<String> quantization,
                           List<String> warnings) {
    public ParsedConfig {
        warnings = List.copyOf(warnings);
    }
}
