package org.gpuplan.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Optional;
import org.gpuplan.cli.CliTest;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.hardware.PriceCatalog;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP API answers what the command line's --json prints, and refuses bad requests with one-line errors. */
class ApiServerTest {

    @TempDir
    Path tmp;

    ApiServer server;
    final HttpClient client = HttpClient.newHttpClient();
    final ObjectMapper json = new ObjectMapper();

    @BeforeEach
    void start() throws Exception {
        ModelResolver offline = new ModelResolver(ModelCatalog.builtIn(), new ResolveOptions(false, tmp.resolve("hub"),
                URI.create("http://127.0.0.1:9"), Optional.empty()));
        server = ApiServer.start("127.0.0.1", 0, offline, GpuCatalog.builtIn(), PriceCatalog.builtIn());
    }

    @AfterEach
    void stop() {
        server.close();
    }

    HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).GET()
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String body) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void estimateAnswersWhatTheCommandLinePrints() throws Exception {
        HttpResponse<String> r = post("/v1/estimate", "{\"model\": \"meta-llama/Llama-3.1-8B\", \"task\": \"train\", "
                + "\"method\": \"qlora\", \"gpu\": \"RTX-4090\", \"batch_size\": 2, \"seq_len\": 2048}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json; charset=utf-8");
        CliTest.Result cli = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--method",
                "qlora", "--gpu", "RTX-4090", "--batch-size", "2", "--seq-len", "2048", "--json");
        assertThat(json.readTree(r.body())).isEqualTo(json.readTree(cli.out()));
    }

    @Test
    void anInlineConfigIsCountedLikeTheSameCatalogModel() throws Exception {
        String config = "{\"model_type\": \"llama\", \"hidden_size\": 4096, \"intermediate_size\": 14336, "
                + "\"num_hidden_layers\": 32, \"num_attention_heads\": 32, \"num_key_value_heads\": 8, "
                + "\"vocab_size\": 128256, \"rope_theta\": 500000, \"tie_word_embeddings\": false}";
        HttpResponse<String> r = post("/v1/estimate", "{\"model\": \"my-llama\", \"config\": " + config
                + ", \"task\": \"infer\", \"gpu\": \"L4\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = json.readTree(r.body());
        assertThat(body.get("model").asText()).isEqualTo("my-llama");
        assertThat(body.get("parameters_total").asLong()).isEqualTo(8_030_261_248L); // Llama-3.1-8B
    }

    @Test
    void fitPlanAndCatalogsFollowTheirJsonContracts() throws Exception {
        HttpResponse<String> fit = post("/v1/fit", "{\"model\": \"meta-llama/Llama-3.1-8B\", \"task\": \"train\", "
                + "\"method\": \"qlora\", \"gpu\": \"RTX-4090\", \"max\": \"seq-len\"}");
        assertThat(fit.statusCode()).as(fit.body()).isEqualTo(200);
        assertThat(json.readTree(fit.body()).get("seq_len").asInt()).isPositive();
        HttpResponse<String> plan = post("/v1/plan", "{\"model\": \"meta-llama/Llama-3.1-8B\", \"task\": \"train\", "
                + "\"tokens\": \"1e9\", \"plan\": {\"deadline\": \"24h\", \"region\": \"eu\"}}");
        assertThat(plan.statusCode()).as(plan.body()).isEqualTo(200);
        JsonNode first = json.readTree(plan.body()).get("plans").get(0);
        for (String key : new String[] {"workload", "memory", "perf", "cost_usd", "hourly_usd", "provider", "region",
            "instance"}) {
            assertThat(first.has(key)).as(key).isTrue();
        }
        CliTest.Result cli = CliTest.run("plan", "meta-llama/Llama-3.1-8B", "--task", "train", "--tokens", "1e9",
                "--deadline", "24h", "--region", "eu", "--json");
        assertThat(first.get("cost_usd")).isEqualTo(json.readTree(cli.out()).get("plans").get(0).get("cost_usd"));
        assertThat(get("/v1/gpus").body()).contains("H100-SXM-80GB");
        assertThat(json.readTree(get("/v1/models").body()).size()).isGreaterThan(50);
        assertThat(json.readTree(get("/v1/health").body()).get("status").asText()).isEqualTo("ok");
    }

    @Test
    void badRequestsGetAStatusAndOneLineError() throws Exception {
        String[][] cases = {
            {"/v1/estimate", "{bad", "400", "request: not valid JSON"},
            {"/v1/estimate", "[1, 2]", "400", "request: expected a JSON object"},
            {"/v1/estimate", "{\"model\": \"meta-llama/Llama-3.1-8B\", \"batchsize\": 4}", "400", "workload: unknown key"},
            {"/v1/estimate", "{\"model\": \"/etc/passwd\"}", "400", "model: '/etc/passwd' is not a HuggingFace id"},
            {"/v1/estimate", "{\"model\": \"../../secret/config.json\"}", "400", "is not a HuggingFace id"},
            {"/v1/estimate", "{\"model\": \"meta-llama/Llama-3.1-8B\", \"seq_len\": \"8m\"}", "400", "seq_len:"},
            {"/v1/estimate", "{\"model\": \"x\", \"config\": \"not an object\"}", "400", "config: expected"},
            {"/v1/estimate", "{\"model\": \"x\", \"config\": {\"model_type\": \"llama\", \"hidden_size\": -1}}", "400",
                ""},
            {"/v1/fit", "{\"model\": \"meta-llama/Llama-3.1-8B\"}", "400", "gpu: fit needs a gpu"},
            {"/v1/plan", "{\"model\": \"meta-llama/Llama-3.1-8B\", \"plan\": {\"deadlne\": \"2h\"}}", "400",
                "plan: unknown constraint 'deadlne'"},
            {"/v1/plan", "{\"model\": \"meta-llama/Llama-3.1-8B\", \"plan\": \"cheap\"}", "400", "plan: expected"},
            {"/v1/nowhere", "{}", "404", "no such route"},
        };
        for (String[] c : cases) {
            HttpResponse<String> r = post(c[0], c[1]);
            assertThat(r.statusCode()).as(c[1] + " → " + r.body()).isEqualTo(Integer.parseInt(c[2]));
            String error = json.readTree(r.body()).get("error").asText();
            assertThat(error).as(c[1]).contains(c[3]).doesNotContain("\n").doesNotContain("Exception");
        }
        HttpResponse<String> wrongMethod = get("/v1/estimate");
        assertThat(wrongMethod.statusCode()).isEqualTo(405);
        assertThat(wrongMethod.headers().firstValue("Allow")).hasValue("POST");
        HttpResponse<String> huge = post("/v1/estimate", "{\"model\": \"" + "a".repeat(ApiServer.MAX_BODY) + "\"}");
        assertThat(huge.statusCode()).isEqualTo(413);
        // the server is still answering
        assertThat(get("/v1/health").statusCode()).isEqualTo(200);
    }

    @Test
    void randomRequestsGetAnAnswerOrAOneLineErrorNeverAnInternalError() throws Exception {
        java.util.Random r = new java.util.Random(3);
        java.util.List<String> keys = new java.util.ArrayList<>(org.gpuplan.workload.WorkloadParser.KEYS);
        keys.addAll(org.gpuplan.workload.WorkloadParser.PARALLEL_KEYS);
        keys.addAll(org.gpuplan.workload.WorkloadParser.KEY_ALIASES.keySet());
        String[] values = {"0", "-1", "1", "2", "8", "8k", "1e9", "1e308", "NaN", "true", "false", "max", "", "x",
            "H100-SXM-80GB", "RTX-4090", "vllm", "llama.cpp", "megatron", "fsdp", "qlora", "lora", "bf16", "fp8",
            "full_shard", "q4_k_m", "infer", "train", "99999999999999999999", "[1, 2]", "null", "{\"a\": 1}"};
        String[] models = {"meta-llama/Llama-3.1-8B", "mistralai/Mixtral-8x7B-v0.1", "deepseek-ai/DeepSeek-V3",
            "openai-community/gpt2", "nope/nope"};
        for (int i = 0; i < 300; i++) {
            StringBuilder body = new StringBuilder("{\"model\": \"" + models[r.nextInt(models.length)] + "\"");
            for (int k = r.nextInt(6); k > 0; k--) {
                String v = values[r.nextInt(values.length)];
                boolean raw = v.startsWith("[") || v.startsWith("{") || v.equals("null") || v.equals("true");
                body.append(", \"").append(keys.get(r.nextInt(keys.size()))).append("\": ")
                        .append(raw ? v : "\"" + v + "\"");
            }
            body.append('}');
            String route = r.nextInt(4) == 0 ? "/v1/fit" : "/v1/estimate";
            HttpResponse<String> resp = post(route, route.equals("/v1/fit") ? body.substring(0, body.length() - 1)
                    + ", \"max\": \"batch-size\"}" : body.toString());
            assertThat(resp.statusCode()).as(body + " → " + resp.body()).isIn(200, 400);
            JsonNode answer = json.readTree(resp.body());
            if (resp.statusCode() == 400) {
                assertThat(answer.get("error").asText()).as(body.toString()).doesNotContain("\n").isNotBlank();
            }
        }
    }
}
