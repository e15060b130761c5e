package org.gpuplan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

public class CliTest {

    public record Result(int code, String out, String err) {
    }

    public static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    public static void assertOneLineError(Result r, String... fragments) {
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.out()).isEmpty();
        assertThat(r.err().strip()).doesNotContain("\n").doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(r.err()).startsWith("gpuplan: ").contains(fragments);
    }

    @TempDir
    Path tmp;

    @Test
    void versionAndHelp() {
        Result v = run("--version");
        assertThat(v.code()).isZero();
        assertThat(v.out()).startsWith("gpuplan ");
        Result h = run("inspect", "--help");
        assertThat(h.code()).isZero();
        assertThat(h.out()).contains("--json", "--explain", "--online");
    }

    @Test
    void inspectPrintsTheBreakdownAndSizes() {
        Result r = run("inspect", "meta-llama/Llama-3.1-8B");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("GQA: 32 query heads, 8 KV heads, head_dim 128", "8,030,261,248",
                "16.06 GB (14.96 GiB)", "131,072 tokens");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void explainShowsEveryFormula() {
        Result r = run("inspect", "mistralai/Mixtral-8x7B-v0.1", "--explain");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("= V·h = 32000·4096", "total − MoE layers × (E − k) × expert",
                "ceil(parameters × bits / 8)");
    }

    @Test
    void jsonHasIntegerTotalAndActive() throws Exception {
        Result r = run("inspect", "Qwen/Qwen3-30B-A3B", "--json");
        assertThat(r.code()).isZero();
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertThat(json.at("/parameters/total").isIntegralNumber()).isTrue();
        assertThat(json.at("/parameters/total").asLong()).isEqualTo(30_532_122_624L);
        assertThat(json.at("/parameters/active").isIntegralNumber()).isTrue();
        assertThat(json.at("/parameters/active").asLong()).isLessThan(json.at("/parameters/total").asLong());
        assertThat(json.at("/architecture/moe/experts").asInt()).isEqualTo(128);
        assertThat(json.at("/weights_bytes/bf16").asLong()).isEqualTo(2 * 30_532_122_624L);
        assertThat(json.at("/parameters/terms").size()).isGreaterThan(5);
    }

    @Test
    void inspectsLocalFiles() throws Exception {
        Path cfg = tmp.resolve("config.json");
        Files.writeString(cfg, """
                {"model_type":"qwen2","hidden_size":896,"intermediate_size":4864,"num_hidden_layers":24,
                 "num_attention_heads":14,"num_key_value_heads":2,"vocab_size":151936,"tie_word_embeddings":true}""");
        Result r = run("inspect", cfg.toString(), "--json");
        assertThat(r.code()).isZero();
        assertThat(new ObjectMapper().readTree(r.out()).at("/parameters/total").asLong()).isEqualTo(494_032_768L);
    }

    @Test
    void badInputIsOneLineWithExitCode2() throws Exception {
        assertOneLineError(run("inspect", "./missing/config.json"), "no such file");
        assertOneLineError(run("inspect", "nobody/no-such-model"), "not found", "gpuplan models");
        Path bad = tmp.resolve("config.json");
        Files.writeString(bad, "{\"model_type\":\"llama\",\"hidden_size\":0}");
        assertOneLineError(run("inspect", bad.toString()), "'hidden_size' must be a positive integer");
        Files.writeString(bad, "{not json");
        assertOneLineError(run("inspect", bad.toString()), "not valid JSON");
        Path gguf = tmp.resolve("broken.gguf");
        Files.write(gguf, new byte[] {'G', 'G', 'U', 'F', 3, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, 127,
            0, 0, 0, 0, 0, 0, 0, 0});
        assertOneLineError(run("inspect", gguf.toString()), "tensor count");
        assertOneLineError(run("inspect", "meta-llama/Llama-3.1-8B", "--bogus"), "--bogus");
        assertOneLineError(run("inspect"), "MODEL");
        assertOneLineError(run("models", "--family", "nope"), "accepted: llama");
        assertOneLineError(run("models", "--min-params", "lots"), "--min-params");
    }

    @Test
    void debugAddsTheStackTrace() {
        Result r = run("inspect", "./missing/config.json", "--debug");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("InvalidInputException").contains("\tat ");
    }

    @Test
    void modelsListsAndFiltersTheCatalog() throws Exception {
        Result all = run("models");
        assertThat(all.code()).isZero();
        assertThat(all.out().lines().count()).isGreaterThanOrEqualTo(52);
        Result qwen3 = run("models", "--family", "qwen3_moe", "--json");
        JsonNode rows = new ObjectMapper().readTree(qwen3.out());
        // Qwen3-30B-A3B, Qwen3-235B-A22B and the two Qwen3-Coder MoE models
        assertThat(rows.size()).isEqualTo(4);
        rows.forEach(row -> assertThat(row.get("family").asText()).isEqualTo("qwen3_moe"));
        Result big = run("models", "--min-params", "100B", "--json");
        new ObjectMapper().readTree(big.out())
                .forEach(row -> assertThat(row.get("parameters_total").asLong()).isGreaterThanOrEqualTo(100_000_000_000L));
    }

    @Test
    void bashCompletionCoversTheCommandsAndTheirFlags() {
        Result r = run("generate-completion");
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("#!/usr/bin/env bash").contains("complete -F _complete_gpuplan")
                .contains("estimate", "plan", "fit", "--max-model-len", "--tensor-parallel-size", "--seq-len");
    }
}
