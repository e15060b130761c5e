package org.gpuplan.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.concurrent.Callable;
import org.gpuplan.io.LoadedModel;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.gpuplan.report.InspectReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code gpuplan inspect MODEL}: architecture, exact parameter counts and weight sizes. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Shows a model's architecture and exact parameter breakdown.",
            "MODEL is a HuggingFace id (org/name), a config.json, a model folder, a .safetensors file "
                + "(header only), a .safetensors.index.json or a .gguf file.",
            "Ids resolve from the local HuggingFace cache ($HF_HOME), then the built-in catalog; "
                + "--online downloads the config.json from the Hub ($HF_ENDPOINT, $HF_TOKEN)."})
final class InspectCommand implements Callable<Integer> {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Model id, config.json, folder, .safetensors or .gguf.")
    String model;

    @Option(names = "--explain", description = "Show the formula and inputs behind every figure.")
    boolean explain;

    @Option(names = "--online", description = "Allow downloading config.json from the HuggingFace Hub.")
    boolean online;

    @Override
    public Integer call() throws Exception {
        ModelResolver resolver = new ModelResolver(ModelCatalog.builtIn(),
                ResolveOptions.fromEnvironment(System.getenv(), online));
        LoadedModel loaded = resolver.resolve(model);
        InspectReport report = InspectReport.of(loaded);
        String text = common.json ? JSON.writeValueAsString(report.toJson()) + "\n" : report.toText(explain);
        return CommonOptions.print(spec, text);
    }
}
