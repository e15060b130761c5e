package org.gpuplan.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.gpuplan.cli.CliTest;
import org.gpuplan.model.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** accelerate's config YAML read as workload keys (the files `accelerate config` writes). */
class AccelerateConfigTest {

    @TempDir
    Path tmp;

    static final String FSDP2 = """
            compute_environment: LOCAL_MACHINE
            distributed_type: FSDP
            downcast_bf16: 'no'
            fsdp_config:
              fsdp_activation_checkpointing: true
              fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP
              fsdp_offload_params: false
              fsdp_reshard_after_forward: true
              fsdp_state_dict_type: SHARDED_STATE_DICT
              fsdp_version: 2
            machine_rank: 0
            mixed_precision: bf16
            num_machines: 2
            num_processes: 16
            use_cpu: false
            """;

    private static Map<String, String> keys(String yaml) throws Exception {
        return AccelerateConfig.keys(new ObjectMapper(new YAMLFactory()).readTree(yaml));
    }

    @Test
    void fsdpPluginFieldsBecomeTheLayout() throws Exception {
        assertThat(keys(FSDP2)).containsExactlyInAnyOrderEntriesOf(Map.of("framework", "fsdp", "fsdp", "full_shard",
                "checkpointing", "full", "gpus", "16", "nodes", "2", "precision", "bf16-mixed"));
        // FSDP1 names the strategy (or torch's enum number); CPU offload moves parameters, gradients and the step
        Map<String, String> v1 = keys("distributed_type: FSDP\nnum_processes: 4\nfsdp_config:\n"
                + "  fsdp_sharding_strategy: 2\n  fsdp_offload_params: false\n");
        assertThat(v1).containsEntry("fsdp", "shard_grad_op").doesNotContainKey("offload_params");
        assertThat(keys("distributed_type: FSDP\nfsdp_config:\n  fsdp_sharding_strategy: FULL_SHARD\n"
                + "  fsdp_offload_params: true\n")).containsEntry("offload_params", "cpu")
                .containsEntry("offload_optimizer", "cpu");
        assertThat(keys("distributed_type: FSDP\nfsdp_config:\n  fsdp_reshard_after_forward: false\n"))
                .containsEntry("fsdp", "shard_grad_op");
        assertThat(keys("distributed_type: MULTI_GPU\nnum_processes: 2\nmixed_precision: fp16\n"))
                .containsExactlyInAnyOrderEntriesOf(Map.of("framework", "hf", "gpus", "2", "precision", "fp16-mixed"));
        assertThat(keys("distributed_type: 'NO'\nnum_processes: 1\n")).isEmpty();
    }

    @Test
    void deepSpeedPluginReadsItsFieldsOrTheFileItNames() throws Exception {
        assertThat(keys("distributed_type: DEEPSPEED\nnum_processes: 8\ndeepspeed_config:\n  zero_stage: 2\n"
                + "  offload_optimizer_device: cpu\n  offload_param_device: none\n  gradient_accumulation_steps: 4\n"))
                .containsExactlyInAnyOrderEntriesOf(Map.of("framework", "deepspeed", "zero", "2", "offload_optimizer",
                        "cpu", "offload_params", "none", "grad_accum", "4", "gpus", "8"));
        Files.writeString(tmp.resolve("ds.json"), DeepSpeedConfigTest.ZERO3_OFFLOAD);
        Path acc = tmp.resolve("acc.yaml");
        Files.writeString(acc, "distributed_type: DEEPSPEED\nnum_processes: 4\nmixed_precision: bf16\n"
                + "deepspeed_config:\n  deepspeed_config_file: ds.json\n");
        Map<String, String> k = AccelerateConfig.keys(AccelerateConfig.read(acc));
        assertThat(k).containsEntry("zero", "3").containsEntry("offload_params", "cpu").containsEntry("gpus", "4")
                .containsEntry("precision", "bf16-mixed");
    }

    @Test
    void theCommandLineGivesTheSameEstimateAsTheFlags() throws Exception {
        Path acc = tmp.resolve("fsdp.yaml");
        Files.writeString(acc, FSDP2.replace("num_machines: 2", "num_machines: 1").replace("num_processes: 16", "num_processes: 8"));
        CliTest.Result file = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--accelerate-config", acc.toString(), "--json");
        CliTest.Result flags = CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train", "--framework",
                "fsdp", "--gpus", "8", "--fsdp", "full_shard", "--checkpointing", "full", "--precision", "bf16-mixed",
                "--json");
        assertThat(file.code()).as(file.err()).isZero();
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(file.out()).get("memory")).isEqualTo(json.readTree(flags.out()).get("memory"));
        CliTest.assertOneLineError(CliTest.run("estimate", "meta-llama/Llama-3.1-8B", "--task", "train",
                "--accelerate-config", acc.toString(), "--gpus", "4"), "gpus: the accelerate config gives '8'");
    }

    @Test
    void malformedConfigsAreOneLineErrors() throws Exception {
        assertThatThrownBy(() -> keys("distributed_type: TPU\n")).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("distributed_type 'TPU' is not modelled").hasMessageContaining("FSDP");
        assertThatThrownBy(() -> keys("distributed_type: FSDP\nnum_processes: -3\n"))
                .hasMessageContaining("num_processes must be a whole number");
        assertThatThrownBy(() -> keys("distributed_type: FSDP\nfsdp_config:\n  fsdp_sharding_strategy: HYBRID_SHARD_ZERO2\n"))
                .hasMessageContaining("is not modelled");
        assertThatThrownBy(() -> keys("mixed_precision: int4\n")).hasMessageContaining("mixed_precision 'int4'");
        assertThatThrownBy(() -> keys("distributed_type: FSDP\nfsdp_config:\n  fsdp_offload_params: maybe\n"))
                .hasMessageContaining("fsdp_offload_params must be true or false");
        assertThatThrownBy(() -> keys("distributed_type: [FSDP]\n")).hasMessageContaining("must be a single value");
        Path bad = tmp.resolve("bad.yaml");
        Files.writeString(bad, "distributed_type: FSDP\n  - : :\n");
        assertThatThrownBy(() -> AccelerateConfig.read(bad)).hasMessageStartingWith("accelerate_config: bad.yaml is "
                + "not valid YAML");
        Files.writeString(bad, "just text");
        assertThatThrownBy(() -> AccelerateConfig.read(bad)).hasMessageContaining("must be a mapping");
    }
}
