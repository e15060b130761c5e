package org.gpuplan.cli;

import java.util.Optional;
import java.util.concurrent.Callable;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.report.ModelsReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuplan models}: the built-in catalog. */
@Command(name = "models", mixinStandardHelpOptions = true,
        description = "Lists the built-in model catalog with parameter counts computed from each config.json.")
final class ModelsCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Option(names = "--family", paramLabel = "TYPE", description = "Only this model_type (llama, qwen3, gemma2, ...).")
    String family;

    @Option(names = "--min-params", paramLabel = "N", description = "Only models with at least N parameters (7B, 500M, 7e9).")
    String minParams;

    @Option(names = "--max-params", paramLabel = "N", description = "Only models with at most N parameters.")
    String maxParams;

    @Override
    public Integer call() throws Exception {
        ModelsReport report = ModelsReport.of(ModelCatalog.builtIn(), Optional.ofNullable(family),
                Optional.ofNullable(minParams).map(s -> ModelsReport.parseCount(s, "--min-params")),
                Optional.ofNullable(maxParams).map(s -> ModelsReport.parseCount(s, "--max-params")));
        String text = common.json ? InspectCommand.JSON.writeValueAsString(report.toJson()) + "\n" : report.toText();
        return CommonOptions.print(spec, text);
    }
}
