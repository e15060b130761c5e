package org.gpuplan.cli;

import picocli.CommandLine.Option;

/** Options every command takes. */
final class CommonOptions {
    @Option(names = "--json", description = "Print JSON instead of text.")
    boolean json;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    boolean debug;

    /** Writes a command's whole output at once and reports success. */
    /** Warnings about the model (its config, a stand-in architecture) on stderr, where --json output is not. */
    static void warn(picocli.CommandLine.Model.CommandSpec spec, java.util.List<String> warnings) {
        warnings.forEach(w -> spec.commandLine().getErr().println("gpuplan: warning: " + w));
        spec.commandLine().getErr().flush();
    }

    static int print(picocli.CommandLine.Model.CommandSpec spec, String text) {
        spec.commandLine().getOut().print(text);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
