package org.gpuplan.cli;

import java.io.PrintWriter;
import org.gpuplan.model.InvalidInputException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code gpuplan} command line. Front end only: every figure comes from the core packages. */
@Command(name = "gpuplan", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Plans GPU jobs for Transformer models: memory, time, cost and hardware, before launch.",
        subcommands = {InspectCommand.class, ModelsCommand.class, EstimateCommand.class, GpusCommand.class,
            ValidateCommand.class, PlanCommand.class, FitCommand.class, ServerCommand.class,
            CommandLine.HelpCommand.class,
            picocli.AutoComplete.GenerateCompletion.class})
public final class Main implements Runnable {

    static final int EXIT_USAGE = 2;

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams and returns the exit code (used by tests too). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        CommandLine cmd = new CommandLine(new Main());
        cmd.setOut(out);
        cmd.setErr(err);
        cmd.setParameterExceptionHandler((ex, a) -> {
            err.println("gpuplan: " + firstLine(ex.getMessage()) + " (see 'gpuplan "
                    + ex.getCommandLine().getCommandName().replace("gpuplan", "").trim() + " --help')");
            if (debug) {
                ex.printStackTrace(err);
            }
            err.flush();
            return EXIT_USAGE;
        });
        cmd.setExecutionExceptionHandler((ex, c, parsed) -> {
            if (ex instanceof InvalidInputException) {
                err.println("gpuplan: " + firstLine(ex.getMessage()));
                if (debug) {
                    ex.printStackTrace(err);
                }
                err.flush();
                return EXIT_USAGE;
            }
            err.println("gpuplan: internal error: " + firstLine(String.valueOf(ex))
                    + (debug ? "" : " (run with --debug for the stack trace)"));
            if (debug) {
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        int code = cmd.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    static String firstLine(String s) {
        if (s == null) {
            return "error";
        }
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).trim();
    }

    /** Version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"gpuplan " + (v == null ? "dev" : v)};
        }
    }
}
