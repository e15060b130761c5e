package org.gpuplan.cli;

import picocli.CommandLine.Option;

/** Options every command takes. */
final class CommonOptions {
    @Option(names = "--json", description = "Print JSON instead of text.")
    boolean json;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    boolean debug;
}
