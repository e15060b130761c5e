package org.gpuplan.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.gpuplan.estimate.Job;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.hardware.PriceCatalog;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.LoadedModel;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ParsedConfig;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.plan.Changes;
import org.gpuplan.plan.FitSearch;
import org.gpuplan.plan.PlanRequest;
import org.gpuplan.plan.Planner;
import org.gpuplan.report.EstimateReport;
import org.gpuplan.report.GpusReport;
import org.gpuplan.report.ModelsReport;
import org.gpuplan.report.PlanReport;
import org.gpuplan.workload.WorkloadParser;

/**
 * The HTTP API: the same core as the command line, as JSON over HTTP. A front end only — each route parses the
 * request, calls the core ({@link Job}, {@link Planner}, {@link FitSearch}) and returns what the command's
 * {@code --json} prints.
 *
 * <ul>
 * <li>{@code GET /v1/health}, {@code GET /v1/models}, {@code GET /v1/gpus}</li>
 * <li>{@code POST /v1/estimate}: a workload object (the keys of a workload file); {@code "config"} may carry a
 * config.json object instead of a catalog or cache id</li>
 * <li>{@code POST /v1/fit}: the same plus {@code "max"}: seq-len | batch-size | concurrency</li>
 * <li>{@code POST /v1/plan}: the same plus {@code "plan"}: an object of constraints (deadline, budget, region, …)</li>
 * </ul>
 * Errors are {@code {"error": "one line"}} with 400 (bad input), 404, 405, 413 (body over 1 MB) or 500. Models are
 * named by id only: a client never names the server's files.
 */
public final class ApiServer implements AutoCloseable {

    /** The largest request body: a workload, or a config.json, is a few kilobytes. */
    static final int MAX_BODY = 1_000_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer http;
    private final ExecutorService pool;
    private final ModelResolver resolver;
    private final GpuCatalog gpus;
    private final PriceCatalog prices;

    private ApiServer(HttpServer http, ExecutorService pool, ModelResolver resolver, GpuCatalog gpus,
                      PriceCatalog prices) {
        this.http = http;
        this.pool = pool;
        this.resolver = resolver;
        this.gpus = gpus;
        this.prices = prices;
    }

    /** Starts serving on host:port (port 0 picks a free one); {@link #close} stops it. */
    public static ApiServer start(String host, int port, ModelResolver resolver, GpuCatalog gpus, PriceCatalog prices)
            throws IOException {
        // answer small requests at once: without TCP_NODELAY a client that sends headers and body in two writes
        // waits for the server's delayed ACK (about 40 ms per request)
        System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 64);
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(2, Runtime.getRuntime().availableProcessors()));
        ApiServer server = new ApiServer(http, pool, resolver, gpus, prices);
        http.createContext("/", server::handle);
        http.setExecutor(pool);
        http.start();
        return server;
    }

    public int port() {
        return http.getAddress().getPort();
    }

    @Override
    public void close() {
        http.stop(0);
        pool.shutdownNow();
    }

    /** A client error with its HTTP status. */
    private static final class HttpError extends RuntimeException {
        final int status;

        HttpError(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            int status = 200;
            JsonNode body;
            try {
                body = route(ex);
            } catch (HttpError e) {
                status = e.status;
                body = error(e.getMessage());
            } catch (InvalidInputException e) {
                status = 400;
                body = error(firstLine(e.getMessage()));
            } catch (RuntimeException e) {
                status = 500;
                body = error("internal error: " + e.getClass().getSimpleName());
            }
            byte[] out = (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(body) + "\n")
                    .getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
            ex.sendResponseHeaders(status, out.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(out);
            }
        }
    }

    private JsonNode route(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        switch (path) {
            case "/v1/health" -> {
                require(ex, "GET");
                ObjectNode o = JSON.createObjectNode().put("status", "ok");
                String v = ApiServer.class.getPackage().getImplementationVersion();
                return o.put("version", v == null ? "dev" : v);
            }
            case "/v1/models" -> {
                require(ex, "GET");
                return ModelsReport.of(ModelCatalog.builtIn(), Optional.empty(), Optional.empty(), Optional.empty())
                        .toJson();
            }
            case "/v1/gpus" -> {
                require(ex, "GET");
                return GpusReport.json(gpus);
            }
            case "/v1/estimate" -> {
                require(ex, "POST");
                Request r = request(ex);
                return EstimateReport.of(r.job().estimate()).toJson(Changes.whenNotFitting(r.job()));
            }
            case "/v1/fit" -> {
                require(ex, "POST");
                Request r = request(ex);
                Job j = r.job();
                if (j.gpu().isEmpty()) {
                    throw new InvalidInputException("gpu: fit needs a gpu (e.g. RTX-4090, H100-SXM-80GB)");
                }
                String max = r.extra().path("max").asText("");
                return PlanReport.fitJson(FitSearch.largest(j.loaded().name(), j.spec(), j.keys(), j.gpu().get(),
                        FitSearch.key(max)));
            }
            case "/v1/plan" -> {
                require(ex, "POST");
                Request r = request(ex);
                Job j = r.job();
                JsonNode constraints = r.extra().path("plan");
                if (!constraints.isMissingNode() && !constraints.isObject()) {
                    throw new InvalidInputException("plan: expected an object of constraints (accepted: "
                            + String.join(", ", PlanRequest.CONSTRAINT_KEYS) + ")");
                }
                Map<String, String> c = constraints.isObject() ? WorkloadParser.textEntries(constraints)
                        : Map.of();
                PlanRequest req = PlanRequest.of(j.loaded().name(), j.spec(), j.keys(), c);
                Planner.Result result = Planner.plan(req, gpus, prices, p -> { });
                return PlanReport.json(result, Changes.whenNotFitting(j));
            }
            default -> throw new HttpError(404, "no such route: " + shorten(path) + " (routes: /v1/health, "
                    + "/v1/models, /v1/gpus, /v1/estimate, /v1/fit, /v1/plan)");
        }
    }

    private static void require(HttpExchange ex, String method) {
        if (!ex.getRequestMethod().equals(method)) {
            ex.getResponseHeaders().set("Allow", method);
            throw new HttpError(405, ex.getRequestURI().getPath() + " takes " + method);
        }
    }

    /** A request's job, and the keys beside the workload (max, plan). */
    private record Request(Job job, ObjectNode extra) {
    }

    private Request request(HttpExchange ex) throws IOException {
        byte[] bytes;
        try (InputStream in = ex.getRequestBody()) {
            bytes = in.readNBytes(MAX_BODY + 1);
        }
        if (bytes.length > MAX_BODY) {
            throw new HttpError(413, "request: the body is larger than 1 MB");
        }
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            String msg = e.getOriginalMessage() == null ? "parse error" : firstLine(e.getOriginalMessage());
            throw new InvalidInputException("request: not valid JSON (" + msg + ")");
        }
        if (root == null || !root.isObject()) {
            throw new InvalidInputException("request: expected a JSON object of workload keys, e.g. {\"model\": "
                    + "\"meta-llama/Llama-3.1-8B\", \"task\": \"train\", \"gpu\": \"H100-SXM-80GB\"}");
        }
        ObjectNode workload = ((ObjectNode) root).deepCopy();
        ObjectNode extra = JSON.createObjectNode();
        for (String k : List.of("config", "max", "plan")) {
            JsonNode v = workload.remove(k);
            if (v != null) {
                extra.set(k, v);
            }
        }
        Map<String, String> keys = new LinkedHashMap<>(WorkloadParser.keysOf(workload));
        JsonNode config = extra.get("config");
        LoadedModel loaded;
        if (config != null) {
            if (!config.isObject()) {
                throw new InvalidInputException("config: expected a config.json object");
            }
            String name = keys.getOrDefault("model", "");
            if (name.isBlank()) {
                name = config.path("_name_or_path").asText("custom");
                name = name.isBlank() ? "custom" : name;
                keys.put("model", name);
            }
            ParsedConfig parsed = HfConfigParser.parse(JSON.writeValueAsString(config), name, "request body");
            loaded = new LoadedModel(name, "request body", Optional.empty(), Optional.of(parsed), Optional.empty(),
                    Optional.empty(), parsed.warnings());
        } else {
            loaded = resolver.resolveId(keys.get("model"));
        }
        return new Request(Job.of(WorkloadParser.normalized(keys), loaded, gpus), extra);
    }

    private static ObjectNode error(String message) {
        return JSON.createObjectNode().put("error", message);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "error";
        }
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).trim();
    }

    private static String shorten(String s) {
        return s.length() > 80 ? s.substring(0, 80) + "…" : s;
    }
}
