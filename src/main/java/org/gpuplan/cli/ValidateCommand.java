package org.gpuplan.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.gpuplan.report.ValidationReport;
import org.gpuplan.validate.ValidationCase;
import org.gpuplan.validate.ValidationResult;
import org.gpuplan.validate.Validator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuplan validate}: predictions against published measurements. */
@Command(name = "validate", mixinStandardHelpOptions = true,
        description = "Compares predictions with published GPU measurements: case, measured, predicted, error.")
final class ValidateCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Option(names = "--measured", paramLabel = "FILE", description = "JSON-lines file of measured cases (default: "
            + "the built-in validation set).")
    Path measured;

    @Override
    public Integer call() throws Exception {
        List<ValidationCase> cases = measured == null ? Validator.builtIn() : Validator.read(measured);
        ModelResolver resolver = new ModelResolver(ModelCatalog.builtIn(),
                ResolveOptions.fromEnvironment(System.getenv(), false));
        List<ValidationResult> results = new Validator(resolver, GpuCatalog.builtIn()).run(cases);
        ValidationReport report = ValidationReport.of(results);
        String text = common.json ? InspectCommand.JSON.writeValueAsString(report.toJson()) + "\n" : report.toText();
        return CommonOptions.print(spec, text);
    }
}
