package org.gpuplan.io;

import org.gpuplan.model.GgmlType;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.gpuplan.io.TestFiles.Tensor;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ParameterCounter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelResolverTest {

    @TempDir
    Path tmp;

    HttpServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    ModelResolver resolver(boolean online, URI endpoint, Optional<String> token) {
        return new ModelResolver(ModelCatalog.builtIn(), new ResolveOptions(online, tmp.resolve("hub"), endpoint,
                token));
    }

    ModelResolver offline() {
        return resolver(false, URI.create("http://127.0.0.1:9"), Optional.empty());
    }

    static final String TINY = HfConfigParserTest.LLAMA_TINY;

    @Test
    void builtInCatalogIsTheFallback() {
        LoadedModel m = offline().resolve("Qwen/Qwen2.5-7B");
        assertThat(m.origin()).isEqualTo("built-in catalog");
        assertThat(m.source()).isPresent();
        assertThat(ParameterCounter.count(m.spec().orElseThrow()).totalCount()).isEqualTo(7_615_616_512L);
    }

    @Test
    void readsAConfigFileAndAFolder() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("my-model"));
        Files.writeString(dir.resolve("config.json"), TINY);
        LoadedModel file = offline().resolve(dir.resolve("config.json").toString());
        LoadedModel folder = offline().resolve(dir.toString());
        assertThat(file.name()).isEqualTo("my-model");
        assertThat(folder.spec()).isEqualTo(file.spec());
        assertThat(folder.tensors()).isEmpty();
    }

    @Test
    void folderWithShardsSumsEveryShardHeader() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("sharded"));
        Files.writeString(dir.resolve("config.json"), TINY);
        Files.write(dir.resolve("model-00001-of-00002.safetensors"), TestFiles.safetensors(List.of(
                new Tensor("model.embed_tokens.weight", "BF16", 100, 64))));
        Files.write(dir.resolve("model-00002-of-00002.safetensors"), TestFiles.safetensors(List.of(
                new Tensor("lm_head.weight", "BF16", 100, 64),
                new Tensor("model.layers.1.mlp.up_proj.weight", "F32", 128, 64))));
        Files.writeString(dir.resolve("model.safetensors.index.json"), """
                {"metadata":{"total_size":42},"weight_map":{"model.embed_tokens.weight":"model-00001-of-00002.safetensors",
                 "lm_head.weight":"model-00002-of-00002.safetensors","x":"model-00003-of-00003.safetensors"}}""");
        LoadedModel m = offline().resolve(dir.toString());
        TensorSummary t = m.tensors().orElseThrow();
        assertThat(t.files()).isEqualTo(2);
        assertThat(t.totalElements()).isEqualTo(6400 + 6400 + 8192);
        assertThat(t.byDtype()).containsKeys("BF16", "F32");
        assertThat(m.warnings()).anyMatch(w -> w.contains("model-00003-of-00003.safetensors"));
    }

    @Test
    void indexWithoutShardsReportsItsTotalSize() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("index-only"));
        Files.writeString(dir.resolve("config.json"), TINY);
        Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"metadata\":{\"total_size\":16060522496},\"weight_map\":{}}");
        LoadedModel m = offline().resolve(dir.resolve("model.safetensors.index.json").toString());
        assertThat(m.tensors().orElseThrow().declaredTotalSize()).contains(16_060_522_496L);
    }

    @Test
    void loneSafetensorsAndGgufFilesAreRead() throws IOException {
        Path st = tmp.resolve("model.safetensors");
        Files.write(st, TestFiles.safetensors(List.of(new Tensor("w", "F16", 10, 10))));
        LoadedModel a = offline().resolve(st.toString());
        assertThat(a.spec()).isEmpty();
        assertThat(a.tensors().orElseThrow().totalElements()).isEqualTo(100);
        assertThat(a.warnings()).anyMatch(w -> w.contains("no config.json"));
        Path gg = tmp.resolve("tiny-Q4_K_M.gguf");
        Files.write(gg, GgufReaderTest.tinyLlama(GgmlType.Q4_K).build());
        LoadedModel g = offline().resolve(gg.toString());
        assertThat(g.name()).isEqualTo("tiny");
        assertThat(g.spec()).isPresent();
        assertThat(g.gguf().orElseThrow().fileType()).contains("Q4_K_M");
    }

    @Test
    void localCacheWinsOverTheCatalogAndFollowsRefsMain() throws IOException {
        Path repo = tmp.resolve("hub").resolve("models--Qwen--Qwen2.5-7B");
        Files.createDirectories(repo.resolve("snapshots/aaa111"));
        Files.createDirectories(repo.resolve("snapshots/bbb222"));
        Files.writeString(repo.resolve("snapshots/aaa111/config.json"), TINY);
        Files.writeString(repo.resolve("snapshots/bbb222/config.json"), TINY.replace("\"num_hidden_layers\":2",
                "\"num_hidden_layers\":3"));
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), "aaa111");
        LoadedModel m = offline().resolve("Qwen/Qwen2.5-7B");
        assertThat(m.origin()).contains("HuggingFace cache").contains("aaa111");
        assertThat(m.spec().orElseThrow().numLayers()).isEqualTo(2);
    }

    @Test
    void environmentDecidesTheCacheFolderLikeHuggingfaceHub() {
        assertThat(ResolveOptions.fromEnvironment(Map.of("HF_HOME", "/x"), false).hubCache())
                .isEqualTo(Path.of("/x", "hub"));
        assertThat(ResolveOptions.fromEnvironment(Map.of("HF_HOME", "/x", "HF_HUB_CACHE", "/y"), false).hubCache())
                .isEqualTo(Path.of("/y"));
        assertThat(ResolveOptions.fromEnvironment(Map.of(), false).endpoint().toString())
                .isEqualTo("https://huggingface.co");
        assertThatThrownBy(() -> ResolveOptions.fromEnvironment(Map.of("HF_ENDPOINT", "ftp://x"), false))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("HF_ENDPOINT");
    }

    @Test
    void unknownIdSuggestsCloseNamesAndOnline() {
        assertThatThrownBy(() -> offline().resolve("meta-llama/Llama-3.1-8C"))
                .isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("not found").hasMessageContaining("meta-llama/Llama-3.1-8B")
                .hasMessageContaining("--online");
        assertThatThrownBy(() -> offline().resolve("./nope/config.json"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("no such file");
        assertThatThrownBy(() -> offline().resolve("bad id with spaces"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("org/name");
    }

    @Test
    void onlineDownloadUsesTheHubLayoutSendsTheTokenAndFillsTheCache() throws IOException {
        AtomicReference<String> auth = new AtomicReference<>();
        AtomicInteger requests = new AtomicInteger();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            requests.incrementAndGet();
            auth.set(exchange.getRequestHeaders().getFirst("Authorization"));
            String path = exchange.getRequestURI().getPath();
            byte[] body;
            int status;
            if (path.equals("/acme/tiny-llm/resolve/main/config.json")) {
                status = 200;
                body = TINY.getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().add("X-Repo-Commit", "0123abcd");
            } else if (path.startsWith("/acme/gated/")) {
                status = 401;
                body = "{\"error\":\"gated\"}".getBytes(StandardCharsets.UTF_8);
            } else {
                status = 404;
                body = "not found".getBytes(StandardCharsets.UTF_8);
            }
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        URI endpoint = URI.create("http://127.0.0.1:" + server.getAddress().getPort());

        assertThatThrownBy(() -> resolver(false, endpoint, Optional.empty()).resolve("acme/tiny-llm"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("--online");
        assertThat(requests).hasValue(0);

        LoadedModel m = resolver(true, endpoint, Optional.of("hf_secret")).resolve("acme/tiny-llm");
        assertThat(auth).hasValue("Bearer hf_secret");
        assertThat(m.origin()).contains("Hub");
        Path cached = tmp.resolve("hub/models--acme--tiny-llm/snapshots/0123abcd/config.json");
        assertThat(cached).exists();
        assertThat(Files.readString(tmp.resolve("hub/models--acme--tiny-llm/refs/main"))).isEqualTo("0123abcd");

        LoadedModel again = resolver(false, endpoint, Optional.empty()).resolve("acme/tiny-llm");
        assertThat(again.origin()).contains("HuggingFace cache");
        assertThat(requests).hasValue(1);

        assertThatThrownBy(() -> resolver(true, endpoint, Optional.empty()).resolve("acme/gated"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("HF_TOKEN");
        assertThatThrownBy(() -> resolver(true, endpoint, Optional.empty()).resolve("acme/missing"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("404");
        assertThat(tmp.resolve("hub/models--acme--gated")).doesNotExist();
    }

    @Test
    void hubUrlsAsUsersPasteThemNameTheRepository() {
        assertThat(ModelResolver.repoIdOf("https://huggingface.co/meta-llama/Llama-3.1-8B")).isEqualTo(
                "meta-llama/Llama-3.1-8B");
        assertThat(ModelResolver.repoIdOf("https://huggingface.co/Qwen/Qwen2.5-7B/blob/main/config.json"))
                .isEqualTo("Qwen/Qwen2.5-7B");
        assertThat(ModelResolver.repoIdOf("hf.co/google/gemma-2-9b?library=transformers")).isEqualTo(
                "google/gemma-2-9b");
        assertThat(ModelResolver.repoIdOf("meta-llama/Llama-3.1-8B")).isEqualTo("meta-llama/Llama-3.1-8B");
        assertThat(offline().resolve("https://huggingface.co/meta-llama/Llama-3.1-8B/tree/main").name())
                .isEqualTo("meta-llama/Llama-3.1-8B");
    }

    @Test
    void anInstructOrBaseVariantOfACatalogModelUsesItsArchitectureWithAWarning() {
        for (String[] pair : new String[][] {{"meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B"},
                {"mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mistral-7B-v0.3"},
                {"google/gemma-2-9b-it", "google/gemma-2-9b"}, {"meta-llama/Llama-2-7b-chat-hf", "meta-llama/Llama-2-7b-hf"},
                {"Qwen/Qwen3-8B-Base", "Qwen/Qwen3-8B"}, {"Qwen/Qwen2.5-72B", "Qwen/Qwen2.5-72B-Instruct"}}) {
            LoadedModel m = offline().resolve(pair[0]);
            LoadedModel base = offline().resolve(pair[1]);
            assertThat(m.name()).isEqualTo(pair[0]);
            assertThat(ParameterCounter.count(m.spec().orElseThrow()).totalCount())
                    .isEqualTo(ParameterCounter.count(base.spec().orElseThrow()).totalCount());
            assertThat(m.warnings()).anySatisfy(w -> assertThat(w).contains("not in the built-in catalog")
                    .contains(pair[1]));
        }
        // another organization's model of the same name is not assumed to be the same, unless the org mirrors models
        assertThatThrownBy(() -> offline().resolve("someone/Llama-3.1-8B-Instruct"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("not found");
        String[][] mirrors = {{"unsloth/Llama-3.2-3B-Instruct", "meta-llama/Llama-3.2-3B"},
                {"unsloth/Qwen2.5-7B", "Qwen/Qwen2.5-7B"},
                // release-dated updates of the same architecture
                {"Qwen/Qwen3-30B-A3B-Instruct-2507", "Qwen/Qwen3-30B-A3B"},
                {"deepseek-ai/DeepSeek-V3-0324", "deepseek-ai/DeepSeek-V3"}};
        for (String[] pair : mirrors) {
            assertThat(offline().resolve(pair[0]).warnings()).anySatisfy(w -> assertThat(w).contains(pair[1]));
        }
        // a dated release of another architecture stays unknown (Mistral Small 3.1 is multimodal, 3 was not)
        assertThatThrownBy(() -> offline().resolve("mistralai/Mistral-Small-3.1-24B-Instruct-2503"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("not found");
    }
    @Test
    void aQuantizedCheckpointOfACatalogModelTakesItsArchitectureAndNamesItsStorageFormat() {
        String[][] cases = {{"Qwen/Qwen3.5-35B-A3B-FP8", "Qwen/Qwen3.5-35B-A3B", "fp8"},
                {"Qwen/Qwen2.5-7B-Instruct-AWQ", "Qwen/Qwen2.5-7B-Instruct", "awq"},
                {"Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", "Qwen/Qwen2.5-7B-Instruct", "gptq"},
                // re-published under another organization: the suffix says it is the same model, quantized
                {"RedHatAI/Llama-3.1-8B-Instruct-FP8-dynamic", "meta-llama/Llama-3.1-8B", "fp8"},
                {"unsloth/Llama-3.1-8B-Instruct-bnb-4bit", "meta-llama/Llama-3.1-8B", "bnb-nf4"}};
        for (String[] c : cases) {
            LoadedModel m = offline().resolve(c[0]);
            LoadedModel base = offline().resolve(c[1]);
            assertThat(ParameterCounter.count(m.spec().orElseThrow()).totalCount())
                    .isEqualTo(ParameterCounter.count(base.spec().orElseThrow()).totalCount());
            assertThat(m.config().orElseThrow().quantization()).contains(c[2]);
            assertThat(m.warnings()).anySatisfy(w -> assertThat(w).contains(c[2] + " checkpoint"));
        }
        assertThat(ModelCatalog.quantizationOfId("Qwen/Qwen3-8B")).isEmpty();
        // a format gpuplan has no weights model for is not stripped: the id stays unknown
        assertThatThrownBy(() -> offline().resolve("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int8"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("not found");
    }

    @Test
    void aGgufRepositoryOfACatalogModelTakesItsArchitectureWithoutNamingAFormat() {
        // GGUF repositories hold many quantization types; the workload's quant names the file's
        String[][] cases = {{"bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "meta-llama/Llama-3.1-8B"},
                {"unsloth/Qwen3-30B-A3B-GGUF", "Qwen/Qwen3-30B-A3B"},
                {"ggml-org/gpt-oss-20b-GGUF", "openai/gpt-oss-20b"},
                // Llama 3.1's first repository names
                {"meta-llama/Meta-Llama-3.1-70B-Instruct", "meta-llama/Llama-3.1-70B"}};
        for (String[] c : cases) {
            LoadedModel m = offline().resolve(c[0]);
            LoadedModel base = offline().resolve(c[1]);
            assertThat(ParameterCounter.count(m.spec().orElseThrow()).totalCount()).as(c[0])
                    .isEqualTo(ParameterCounter.count(base.spec().orElseThrow()).totalCount());
            assertThat(m.warnings()).as(c[0]).anySatisfy(w -> assertThat(w).contains("architecture of"));
        }
        assertThat(ModelCatalog.quantizationOfId("unsloth/Qwen3-30B-A3B-GGUF")).isEmpty();
    }
}
