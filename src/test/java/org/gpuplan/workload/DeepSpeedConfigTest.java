package org.gpuplan.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.gpuplan.cli.CliTest;
import org.gpuplan.model.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A ds_config.json read as workload keys: the fields DeepSpeed sizes memory by, "auto" left to the workload. */
class DeepSpeedConfigTest {

    @TempDir
    Path tmp;

    // the ZeRO-3 offload example of transformers' DeepSpeed guide, with a comment as users leave them
    static final String ZERO3_OFFLOAD = """
            {
              // transformers fills the "auto" values from its arguments
              "bf16": {"enabled": "auto"},
              "fp16": {"enabled": false},
              "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": "auto"}},
              "zero_optimization": {
                "stage": 3,
                "offload_optimizer": {"device": "cpu", "pin_memory": true},
                "offload_param": {"device": "cpu", "pin_memory": true},
                "overlap_comm": true,
                "stage3_max_live_parameters": 1e9
              },
              "gradient_accumulation_steps": "auto",
              "train_micro_batch_size_per_gpu": 2,
              "train_batch_size": "auto"
            }
            """;

    private Path write(String name, String text) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    @Test
    void readsTheFieldsThatSizeMemoryAndLeavesAutoToTheWorkload() throws Exception {
        Map<String, String> keys = DeepSpeedConfig.keys(DeepSpeedConfig.read(write("ds.json", ZERO3_OFFLOAD)));
        assertThat(keys).containsExactlyInAnyOrderEntriesOf(Map.of("framework", "deepspeed", "zero", "3",
                "offload_optimizer", "cpu", "offload_params", "cpu", "batch_size", "2", "optimizer", "adamw"));
        Map<String, String> bf16 = DeepSpeedConfig.keys(new ObjectMapper().readTree(
                "{\"bf16\": {\"enabled\": true}, \"zero_optimization\": {\"stage\": 2}, \"train_batch_size\": 64,"
                        + " \"gradient_accumulation_steps\": 4}"));
        assertThat(bf16).containsEntry("precision", "bf16-mixed").containsEntry("zero", "2")
                .containsEntry("global_batch_size", "64").containsEntry("grad_accum", "4");
    }

    @Test
    void theWorkloadsOwnKeysMustAgreeWithTheConfig() {
        Map<String, String> config = Map.of("framework", "deepspeed", "zero", "3", "precision", "bf16-mixed");
        Map<String, String> workload = new HashMap<>(Map.of("model", "m", "zero", "3", "precision", "bf16"));
        assertThat(DeepSpeedConfig.merge(config, workload)).containsEntry("zero", "3").containsEntry("model", "m")
                .containsEntry("precision", "bf16"); // DeepSpeed keeps fp32 masters either way
        workload.put("zero", "2");
        assertThatThrownBy(() -> DeepSpeedConfig.merge(config, workload)).isInstanceOf(InvalidInputException.class)
                .hasMessage("zero: the DeepSpeed config gives '3' and the workload '2'; give one (\"auto\" in the "
                        + "config defers to the workload)");
        assertThatThrownBy(() -> DeepSpeedConfig.merge(config, Map.of("framework", "fsdp")))
                .hasMessageStartingWith("framework: the DeepSpeed config gives 'deepspeed'");
    }

    @Test
    void malformedOrUnmodelledConfigsAreOneLineErrors() throws Exception {
        assertThatThrownBy(() -> DeepSpeedConfig.read(write("a.json", "{\"zero_optimization\": {\"stage\": 3")))
                .isInstanceOf(InvalidInputException.class).hasMessageStartingWith("deepspeed: a.json is not valid JSON");
        assertThatThrownBy(() -> DeepSpeedConfig.read(write("b.json", "[1, 2]")))
                .hasMessageStartingWith("deepspeed: b.json must be a JSON object");
        assertThatThrownBy(() -> DeepSpeedConfig.read(tmp.resolve("missing.json")))
                .hasMessageStartingWith("deepspeed: cannot read").hasMessageEndingWith(": no such file");
        assertThatThrownBy(() -> DeepSpeedConfig.read(write("big.json", "{\"x\": \"" + "a".repeat(1_100_000) + "\"}")))
                .hasMessage("deepspeed: big.json is larger than 1 MB");
        ObjectMapper json = new ObjectMapper();
        assertThatThrownBy(() -> DeepSpeedConfig.keys(json.readTree("{\"optimizer\": {\"type\": \"OneBitLamb\"}}")))
                .hasMessageContaining("optimizer.type 'OneBitLamb' is not modelled").hasMessageContaining("AdamW");
        assertThatThrownBy(() -> DeepSpeedConfig.keys(json.readTree(
                "{\"bf16\": {\"enabled\": true}, \"fp16\": {\"enabled\": true}}"))).hasMessageContaining("both true");
        assertThatThrownBy(() -> DeepSpeedConfig.keys(json.readTree("{\"bf16\": {\"enabled\": \"yes\"}}")))
                .hasMessage("deepspeed: bf16.enabled must be true, false or \"auto\"");
        assertThatThrownBy(() -> DeepSpeedConfig.keys(json.readTree("{\"zero_optimization\": {\"stage\": [3]}}")))
                .hasMessage("deepspeed: zero_optimization.stage must be a single value");
        // a value of the wrong kind reaches the workload parser, which names the key and what it accepts
        Map<String, String> keys = DeepSpeedConfig.keys(json.readTree("{\"zero_optimization\": {\"stage\": 7}}"));
        keys.put("model", "m");
        keys.put("gpus", "8");
        keys.put("task", "train");
        assertThatThrownBy(() -> WorkloadParser.parse(keys)).isInstanceOf(InvalidInputException.class)
                .hasMessageStartingWith("zero");
    }

    @Test
    void theCommandLineAWorkloadFileAndTheHttpBodyReadTheSameConfig() throws Exception {
        Path ds = write("ds_config.json", ZERO3_OFFLOAD);
        CliTest.Result flags = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--gpus", "4",
                "--framework", "deepspeed", "--zero", "3", "--offload-optimizer", "cpu", "--offload-params", "cpu",
                "--batch-size", "2", "--precision", "bf16-mixed", "--json");
        CliTest.Result config = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--gpus", "4",
                "--precision", "bf16-mixed", "--deepspeed", ds.toString(), "--json");
        assertThat(flags.code()).as(flags.err()).isZero();
        assertThat(config.code()).as(config.err()).isZero();
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(config.out()).get("memory")).isEqualTo(json.readTree(flags.out()).get("memory"));
        assertThat(json.readTree(config.out()).get("workload").get("zero").asInt()).isEqualTo(3);
        assertThat(json.readTree(config.out()).get("workload").get("offload_optimizer").asText()).isEqualTo("cpu");
        // transformers' `deepspeed` argument in a workload file: a path relative to the file
        Files.createDirectories(tmp.resolve("jobs"));
        Files.move(ds, tmp.resolve("jobs/ds_config.json"));
        Path job = write("jobs/job.yaml", "model: meta-llama/Llama-3.1-8B\ntask: train\ngpus: 4\nprecision: bf16-mixed\n"
                + "deepspeed: ds_config.json\n");
        CliTest.Result file = CliTest.run("estimate", "--workload", job.toString(), "--json");
        assertThat(file.code()).as(file.err()).isZero();
        assertThat(json.readTree(file.out()).get("memory")).isEqualTo(json.readTree(flags.out()).get("memory"));
        // inline, as the HTTP API takes it
        Map<String, String> inline = WorkloadParser.keysOf(json.readTree("{\"model\": \"m\", \"deepspeed\": "
                + "{\"zero_optimization\": {\"stage\": 2}}}"));
        assertThat(inline).containsEntry("zero", "2").containsEntry("framework", "deepspeed");
        assertThatThrownBy(() -> WorkloadParser.keysOf(json.readTree("{\"deepspeed\": \"/etc/ds.json\"}")))
                .hasMessageStartingWith("deepspeed: give the DeepSpeed config as an object");
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--gpus",
                "4", "--zero", "2", "--deepspeed", tmp.resolve("jobs/ds_config.json").toString()), "zero: the "
                + "DeepSpeed config gives '3'");
    }
}
