package org.gpuplan.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.gpuplan.model.Family;
import org.gpuplan.model.GgmlType;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterCounter;
import org.junit.jupiter.api.Test;

/**
 * GLM-4.5 GGUFs (llama.cpp arch glm4moe): the metadata keys of GLM-4.5-Air as llama.cpp b6168 printed them
 * (ik_llama.cpp PR #689, public code copy (index id) 39212517001); block_count 47 includes the MTP layer. Llama 4
 * GGUFs (arch llama4): convert_hf_to_gguf.py writes intermediate_size_mlp as feed_forward_length and the experts'
 * intermediate_size as expert_feed_forward_length.
 */
class GgufNewFamiliesTest {

    @Test
    void aLlama4GgufIsTheScoutLanguageModel() {
        TestFiles.Gguf g = new TestFiles.Gguf().kv("general.architecture", "llama4").kv("general.file_type", 15)
                .kv("llama4.block_count", 48).kv("llama4.context_length", 10485760)
                .kv("llama4.embedding_length", 5120).kv("llama4.feed_forward_length", 16384)
                .kv("llama4.attention.head_count", 40).kv("llama4.attention.head_count_kv", 8)
                .kv("llama4.expert_count", 16).kv("llama4.expert_used_count", 1)
                .kv("llama4.expert_feed_forward_length", 8192).kv("llama4.interleave_moe_layer_step", 1)
                .kv("llama4.attention.key_length", 128).kv("llama4.vocab_size", 202048)
                .tensor("output.weight", GgmlType.F32, 8);
        GgufFile f = GgufReader.read(ByteSource.of(g.build()), "scout.gguf");
        ModelSpec spec = GgufSpec.derive(f, "scout", new ArrayList<>()).orElseThrow().spec();
        assertThat(spec.family()).isEqualTo(Family.LLAMA4);
        // llama.cpp's "model params = 107.77 B": the language model without the vision tower (in the mmproj file)
        assertThat(ParameterCounter.count(spec).totalCount()).isEqualTo(107_769_861_120L);
    }

    @Test
    void theArchitectureMatchesTheHubConfigAndTheMtpBlockIsCountedApart() {
        TestFiles.Gguf g = new TestFiles.Gguf().kv("general.architecture", "glm4moe").kv("general.file_type", 24)
                .kv("glm4moe.block_count", 47).kv("glm4moe.context_length", 131072)
                .kv("glm4moe.embedding_length", 4096).kv("glm4moe.feed_forward_length", 10944)
                .kv("glm4moe.attention.head_count", 96).kv("glm4moe.attention.head_count_kv", 8)
                .kv("glm4moe.expert_used_count", 8).kv("glm4moe.attention.key_length", 128)
                .kv("glm4moe.attention.value_length", 128).kv("glm4moe.rope.dimension_count", 64)
                .kv("glm4moe.expert_count", 128).kv("glm4moe.expert_feed_forward_length", 1408)
                .kv("glm4moe.expert_shared_count", 1).kv("glm4moe.leading_dense_block_count", 1)
                .kv("glm4moe.nextn_predict_layers", 1).kv("glm4moe.vocab_size", 151552)
                .tensor("output.weight", GgmlType.F32, 8);
        GgufFile f = GgufReader.read(ByteSource.of(g.build()), "air.gguf");
        List<String> warnings = new ArrayList<>();
        Optional<ParsedConfig> config = GgufSpec.derive(f, "air", warnings);
        ModelSpec spec = config.orElseThrow().spec();
        assertThat(spec.family()).isEqualTo(Family.GLM4_MOE);
        assertThat(spec.numLayers()).isEqualTo(46);
        assertThat(spec.mtpLayers()).isEqualTo(1);
        // the same 106,852,251,264 as the Hub config (llama.cpp's "model params = 110.47 B" adds the MTP layer and
        // its own embedding and head)
        assertThat(ParameterCounter.count(spec).totalCount()).isEqualTo(106_852_251_264L);
    }

    @Test
    void aQwen35MoeGgufIsTheHybridModelWithItsMtpBlockApart() {
        // the metadata of a Qwen3.5/3.6-35B-A3B GGUF as tabulated in public code copy (index id) 60841649015
        TestFiles.Gguf g = new TestFiles.Gguf().kv("general.architecture", "qwen35moe").kv("general.file_type", 15)
                .kv("qwen35moe.block_count", 41).kv("qwen35moe.context_length", 262144)
                .kv("qwen35moe.embedding_length", 2048).kv("qwen35moe.attention.head_count", 16)
                .kv("qwen35moe.attention.head_count_kv", 2).kv("qwen35moe.attention.key_length", 256)
                .kv("qwen35moe.expert_count", 256).kv("qwen35moe.expert_used_count", 8)
                .kv("qwen35moe.expert_feed_forward_length", 512)
                .kv("qwen35moe.expert_shared_feed_forward_length", 512).kv("qwen35moe.ssm.conv_kernel", 4)
                .kv("qwen35moe.ssm.state_size", 128).kv("qwen35moe.ssm.group_count", 16)
                .kv("qwen35moe.ssm.time_step_rank", 32).kv("qwen35moe.ssm.inner_size", 4096)
                .kv("qwen35moe.full_attention_interval", 4).kv("qwen35moe.nextn_predict_layers", 1)
                .kv("qwen35moe.vocab_size", 248320).tensor("output.weight", GgmlType.F32, 8);
        GgufFile f = GgufReader.read(ByteSource.of(g.build()), "q35.gguf");
        ModelSpec spec = GgufSpec.derive(f, "q35", new ArrayList<>()).orElseThrow().spec();
        assertThat(spec.family()).isEqualTo(Family.QWEN3_5_MOE);
        assertThat(spec.numLayers()).isEqualTo(40);
        assertThat(spec.linearLayerCount()).isEqualTo(30);
        var b = ParameterCounter.count(spec);
        // 35,951,822,704 (the GGUF's general.parameter_count with the ViT, ollama PR #16031) less the ViT's
        // 446,571,248 (its own mmproj file in llama.cpp)
        assertThat(b.totalCount() + b.mtp().value()).isEqualTo(35_951_822_704L - 446_571_248L);
    }
}
