package org.gpuplan.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.gpuplan.cli.CliTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEFT's adapter_config.json read as workload keys: what a saved LoRA/DoRA adapter says about its training. */
class PeftConfigTest {

    @TempDir
    Path tmp;

    // the peft_config of PEFT's MetaMathQA run lora--llama-3.2-3B-rank32-dora.json (keys as save_pretrained writes
    // them), the run the validation case peft-mmqa-dora-r32-qv measures
    static final String DORA_R32 = """
            {
              "task_type": "CAUSAL_LM", "peft_type": "LORA", "auto_mapping": null,
              "base_model_name_or_path": "meta-llama/Llama-3.2-3B", "revision": null, "inference_mode": false,
              "r": 32, "target_modules": ["v_proj", "q_proj"], "exclude_modules": null, "lora_alpha": 64,
              "lora_dropout": 0.0, "fan_in_fan_out": false, "bias": "none", "use_rslora": false,
              "modules_to_save": null, "init_lora_weights": true, "layers_to_transform": null,
              "layers_pattern": null, "rank_pattern": {}, "alpha_pattern": {}, "use_dora": true
            }
            """;

    @Test
    void anAdapterConfigGivesTheLoraKeysAndTheBaseModel() throws Exception {
        Map<String, String> keys = PeftConfig.keys(new ObjectMapper().readTree(DORA_R32));
        assertThat(keys).containsEntry("lora_rank", "32").containsEntry("lora_alpha", "64")
                .containsEntry("lora_targets", "v_proj,q_proj").containsEntry("use_dora", "true")
                .containsEntry("lora_dropout", "0.0").containsEntry("model", "meta-llama/Llama-3.2-3B")
                .containsEntry("task", "train").doesNotContainKey("modules_to_save");
        Map<String, String> merged = PeftConfig.merge(keys, new HashMap<>(Map.of("gpu", "L40S")));
        Workload w = WorkloadParser.parse(merged);
        assertThat(w.method()).isEqualTo(Method.LORA);
        assertThat(w.useDora()).isTrue();
        assertThat(w.loraRank()).isEqualTo(32);
        // the same adapter on a 4-bit base, and on another checkpoint: the workload's method and model win
        Map<String, String> qlora = PeftConfig.merge(keys, new HashMap<>(Map.of("method", "qlora", "model",
                "meta-llama/Llama-3.2-1B-Instruct")));
        assertThat(qlora).containsEntry("method", "qlora").containsEntry("model", "meta-llama/Llama-3.2-1B-Instruct");
        // other keys must agree
        assertThatThrownBy(() -> PeftConfig.merge(keys, Map.of("lora_rank", "16")))
                .hasMessage("lora_rank: the PEFT config gives '32' and the workload '16'; give one");
    }

    @Test
    void whatIsNotModelledIsRefusedByName() throws Exception {
        ObjectMapper json = new ObjectMapper();
        assertThatThrownBy(() -> PeftConfig.keys(json.readTree("{\"peft_type\": \"IA3\"}")))
                .hasMessageStartingWith("peft_config: peft_type 'IA3' is not modelled");
        assertThatThrownBy(() -> PeftConfig.keys(json.readTree("{\"r\": 8, \"rank_pattern\": {\"q_proj\": 4}}")))
                .hasMessageStartingWith("peft_config: rank_pattern");
        assertThatThrownBy(() -> PeftConfig.keys(json.readTree("{\"target_modules\": \".*(q|v)_proj\"}")))
                .hasMessageContaining("is a regular expression");
        // "all-linear" and full module paths are names
        assertThat(PeftConfig.keys(json.readTree("{\"target_modules\": \"all-linear\"}")))
                .containsEntry("lora_targets", "all-linear");
        assertThat(PeftConfig.keys(json.readTree("{\"target_modules\": [\"self_attn.q_proj\"]}")))
                .containsEntry("lora_targets", "q_proj");
    }

    @Test
    void theCommandLineAWorkloadFileAndTheHttpBodyReadTheSameConfig() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("adapter"));
        Files.writeString(dir.resolve("adapter_config.json"), DORA_R32);
        String[] common = {"--gpu", "L40S", "--batch-size", "4", "--seq-len", "768", "--precision", "bf16", "--json"};
        CliTest.Result flags = CliTest.run(concat(new String[] {"estimate", "meta-llama/Llama-3.2-3B", "--task",
            "train", "--method", "dora", "--lora-rank", "32", "--lora-alpha", "64", "--lora-targets", "v_proj,q_proj"},
                common));
        CliTest.Result config = CliTest.run(concat(new String[] {"estimate", "--peft-config",
            dir.resolve("adapter_config.json").toString()}, common));
        assertThat(flags.code()).as(flags.err()).isZero();
        assertThat(config.code()).as(config.err()).isZero();
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(config.out()).get("memory")).isEqualTo(json.readTree(flags.out()).get("memory"));
        Path job = tmp.resolve("job.yaml");
        Files.writeString(job, "peft_config: adapter/adapter_config.json\ngpu: L40S\nbatch_size: 4\nseq_len: 768\n"
                + "precision: bf16\n");
        CliTest.Result file = CliTest.run("estimate", "--workload", job.toString(), "--json");
        assertThat(file.code()).as(file.err()).isZero();
        assertThat(json.readTree(file.out()).get("memory")).isEqualTo(json.readTree(flags.out()).get("memory"));
        Map<String, String> inline = WorkloadParser.keysOf(json.readTree("{\"peft_config\": " + DORA_R32 + "}"));
        assertThat(inline).containsEntry("lora_rank", "32").containsEntry("method", "lora");
        assertThatThrownBy(() -> WorkloadParser.keysOf(json.readTree("{\"peft_config\": \"/x/adapter_config.json\"}")))
                .hasMessageStartingWith("peft_config: give the PEFT config");
        CliTest.assertOneLineError(CliTest.run("estimate", "--peft-config", dir.resolve("adapter_config.json")
                .toString(), "--task", "infer"), "task: the PEFT config gives 'train'");
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
