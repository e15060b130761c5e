package org.gpuplan.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.hardware.PriceCatalog;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.gpuplan.server.ApiServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuplan server}: the HTTP API on a local port until stopped. */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = {"Serves the HTTP API: GET /v1/health, /v1/models, /v1/gpus; POST /v1/estimate, /v1/fit and "
                + "/v1/plan with a workload object (the keys of a workload file; \"config\" may carry a config.json, "
                + "\"max\" the fit target, \"plan\" the constraints). Answers are what --json prints.",
            "Models are named by id (built-in catalog, local HuggingFace cache, the Hub with --online), never by a "
                + "path on this machine."})
final class ServerCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--host", description = "Address to listen on (default 127.0.0.1: this machine only)")
    String host = "127.0.0.1";
    @Option(names = "--port", description = "Port (default 8080; 0 picks a free one)") int port = 8080;
    @Option(names = "--online", description = "Allow downloading config.json files from the HuggingFace Hub.")
    boolean online;
    @Option(names = "--gpu-file", paramLabel = "CSV", description = "Add or override GPUs") Path gpuFile;
    @Option(names = "--prices", paramLabel = "CSV", description = "Add or override offers") Path pricesFile;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65_535) {
            throw new org.gpuplan.model.InvalidInputException("port: expected 0 to 65535, got " + port);
        }
        GpuCatalog gpus = gpuFile == null ? GpuCatalog.builtIn() : GpuCatalog.withUserFile(gpuFile);
        PriceCatalog prices = pricesFile == null ? PriceCatalog.builtIn() : PriceCatalog.withUserFile(pricesFile);
        ModelResolver resolver = new ModelResolver(ModelCatalog.builtIn(),
                ResolveOptions.fromEnvironment(System.getenv(), online));
        ApiServer server;
        try {
            server = ApiServer.start(host, port, resolver, gpus, prices);
        } catch (java.io.IOException | IllegalArgumentException e) {
            throw new org.gpuplan.model.InvalidInputException("port: cannot listen on " + host + ":" + port + " ("
                    + e.getMessage() + ")");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }));
        spec.commandLine().getErr().println("gpuplan: serving the API on http://" + host + ":" + server.port()
                + "/v1 (Ctrl-C stops it)");
        spec.commandLine().getErr().flush();
        stopped.await();
        return 0;
    }
}
