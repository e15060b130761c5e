package org.gpuplan.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.gpuplan.model.Attention;
import org.gpuplan.model.AttentionVariant;
import org.gpuplan.model.Family;
import org.gpuplan.model.Head;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterCounter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HfConfigParserTest {

    static ModelSpec spec(String json) {
        return HfConfigParser.parse(json, "test", "config.json").spec();
    }

    static long total(String json) {
        return ParameterCounter.count(spec(json)).totalCount();
    }

    static final String LLAMA_TINY = """
            {"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
             "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":100}""";

    @Test
    void llamaCountFollowsTheFormulaTermByTerm() {
        // h=64, a·d=64, kv·d=32: attention 64·64 + 2·64·32 + 64·64 = 12288; MLP 3·64·128 = 24576; norms 2·64
        long perLayer = 12288 + 24576 + 128;
        assertThat(total(LLAMA_TINY)).isEqualTo(2 * perLayer + 64 + 2L * 100 * 64);
    }

    @Test
    void kimiK2IsDeepSeekV3UnderItsOwnModelType() {
        // Kimi K2's architecture values (moonshotai/Kimi-K2-Instruct; the same keys appear in public code copies
        // (index ids) 57867928304, 55771080898) with model_type kimi_k2 and class DeepseekV3ForCausalLM
        String kimi = """
                {"architectures":["DeepseekV3ForCausalLM"],"model_type":"kimi_k2","num_hidden_layers":61,
                 "hidden_size":7168,"intermediate_size":18432,"num_attention_heads":64,"num_key_value_heads":64,
                 "q_lora_rank":1536,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,
                 "v_head_dim":128,"n_routed_experts":384,"num_experts_per_tok":8,"n_shared_experts":1,
                 "moe_intermediate_size":2048,"first_k_dense_replace":1,"max_position_embeddings":131072,
                 "vocab_size":163840,"num_nextn_predict_layers":0,"tie_word_embeddings":false,
                 "topk_method":"noaux_tc"}""";
        ParsedConfig pc = HfConfigParser.parse(kimi, "kimi", "kimi");
        assertThat(pc.spec().family()).isEqualTo(Family.DEEPSEEK_V3);
        assertThat(pc.warnings()).isEmpty();
        // the Hub's total for the block-FP8 checkpoint, 1,026,470,731,056 (public code copy (index id) 62646561874),
        // also counts one fp32 weight_scale_inv entry per 128×128 block of every Linear but the router
        long scales = org.gpuplan.memory.LinearModules.of(pc.spec()).stream().filter(lm -> !lm.name().equals("gate"))
                .mapToLong(lm -> lm.count() * ((lm.out() + 127) / 128) * ((lm.in() + 127) / 128)).sum();
        assertThat((double) total(kimi) + scales).isCloseTo(1_026_470_731_056.0,
                org.assertj.core.api.Assertions.withinPercentage(0.001));
    }

    @Test
    void anUnknownMultimodalWrapperIsReadByItsLanguageModelWithAWarning() {
        // Kimi K2.5's shape: model_type kimi_k25 around a kimi_k2 text_config (public code copy (index id)
        // 55771080898)
        ParsedConfig pc = HfConfigParser.parse("{\"model_type\":\"kimi_k25\",\"vision_config\":{},\"text_config\":"
                + LLAMA_TINY + "}", "x", "x");
        assertThat(pc.spec().family()).isEqualTo(Family.LLAMA);
        assertThat(ParameterCounter.count(pc.spec()).totalCount()).isEqualTo(total(LLAMA_TINY));
        assertThat(pc.warnings()).singleElement().asString().contains("kimi_k25").contains("not counted");
    }

    @Test
    void aDerivativeUnderAnUnknownModelTypeIsReadByItsClass() {
        ParsedConfig pc = HfConfigParser.parse(LLAMA_TINY.replace("\"model_type\":\"llama\"",
                "\"model_type\":\"my_llama\",\"architectures\":[\"LlamaForCausalLM\"]"), "x", "x");
        assertThat(pc.spec().family()).isEqualTo(Family.LLAMA);
        assertThat(pc.warnings()).singleElement().asString().contains("my_llama").contains("LlamaForCausalLM");
        assertThat(ParameterCounter.count(pc.spec()).totalCount()).isEqualTo(total(LLAMA_TINY));
    }

    @Test
    void attentionVariantFollowsKvHeads() {
        assertThat(spec(LLAMA_TINY).attention().variant()).isEqualTo(AttentionVariant.GQA);
        assertThat(spec(LLAMA_TINY.replace("\"num_key_value_heads\":2", "\"num_key_value_heads\":4"))
                .attention().variant()).isEqualTo(AttentionVariant.MHA);
        assertThat(spec(LLAMA_TINY.replace("\"num_key_value_heads\":2", "\"num_key_value_heads\":1"))
                .attention().variant()).isEqualTo(AttentionVariant.MQA);
    }

    @Test
    void explicitHeadDimWinsOverHiddenDividedByHeads() {
        ModelSpec s = spec(LLAMA_TINY.replace("\"vocab_size\":100", "\"vocab_size\":100,\"head_dim\":32"));
        assertThat(((Attention.Standard) s.attention()).headDim()).isEqualTo(32);
        // q: 64·128, k/v: 64·64 each, o: 128·64
        assertThat(ParameterCounter.attentionPerLayer(s.attention(), 64)).isEqualTo(64 * 128 * 2 + 2 * 64 * 64);
    }

    @Test
    void gpt2SpellingsAreReadAsHiddenSizeAndLayers() {
        String gpt2 = """
                {"model_type":"gpt2","n_embd":768,"n_layer":12,"n_head":12,"vocab_size":50257,"n_positions":1024,
                 "architectures":["GPT2LMHeadModel"]}""";
        ModelSpec s = spec(gpt2);
        assertThat(s.hiddenSize()).isEqualTo(768);
        assertThat(s.numLayers()).isEqualTo(12);
        assertThat(s.mlp().intermediateSize()).isEqualTo(3072); // n_inner absent → 4·n_embd
        assertThat(total(gpt2)).isEqualTo(124_439_808L);
    }

    @Test
    void gemmaTiesEmbeddingsByDefaultAndOthersDoNot() {
        String gemma = """
                {"model_type":"gemma","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,
                 "num_attention_heads":2,"num_key_value_heads":1,"head_dim":32,"vocab_size":1000}""";
        assertThat(spec(gemma).embeddings().tied()).isTrue();
        assertThat(spec(gemma.replace("gemma", "llama")).embeddings().tied()).isFalse();
        assertThat(total(gemma.replace("gemma", "llama")) - total(gemma)).isEqualTo(1000L * 64);
    }

    @Test
    void gemmaNormsScaleInFp32AndGemma2CapsScoresAndLogitsByDefault() {
        String gemma2 = """
                {"model_type":"gemma2","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
                 "num_attention_heads":2,"num_key_value_heads":1,"head_dim":32,"vocab_size":1000}""";
        ModelSpec s = spec(gemma2);
        assertThat(s.norms().fp32Scale()).isTrue();
        assertThat(((Attention.Standard) s.attention()).logitSoftcap()).isTrue(); // Gemma2Config: 50.0
        assertThat(((Head.CausalLm) s.head()).logitSoftcap()).isTrue(); // Gemma2Config: 30.0
        String capsOff = gemma2.replace("\"vocab_size\":1000", "\"vocab_size\":1000,"
                + "\"attn_logit_softcapping\":null,\"final_logit_softcapping\":0");
        ModelSpec off = spec(capsOff);
        assertThat(((Attention.Standard) off.attention()).logitSoftcap()).isFalse();
        assertThat(((Head.CausalLm) off.head()).logitSoftcap()).isFalse();
        assertThat(total(capsOff)).isEqualTo(total(gemma2));
        assertThatThrownBy(() -> spec(gemma2.replace("\"vocab_size\":1000", "\"vocab_size\":1000,"
                + "\"final_logit_softcapping\":\"thirty\"")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("final_logit_softcapping")
                .hasMessageContaining("positive number or null");
        ModelSpec gemma3 = spec(gemma2.replace("gemma2", "gemma3_text"));
        assertThat(((Head.CausalLm) gemma3.head()).logitSoftcap()).isFalse(); // Gemma3TextConfig: None
        assertThat(gemma3.norms().fp32Scale()).isTrue();
        assertThat(spec(gemma2.replace("gemma2", "llama")).norms().fp32Scale()).isFalse();
    }

    @Test
    void mixtralExpertKeySpellingsAreEquivalent() {
        String a = """
                {"model_type":"mixtral","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
                 "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":100,"num_local_experts":8,
                 "num_experts_per_tok":2}""";
        assertThat(total(a)).isEqualTo(total(a.replace("num_local_experts", "n_routed_experts")));
        var b = ParameterCounter.count(spec(a));
        // active drops 6 of the 8 experts (3·64·128 each) in both layers
        assertThat(b.totalCount() - b.activeCount()).isEqualTo(2L * 6 * 3 * 64 * 128);
    }

    @Test
    void slidingWindowLayersFollowEachFamilyRule() {
        String gemma2 = """
                {"model_type":"gemma2","hidden_size":64,"intermediate_size":128,"num_hidden_layers":6,
                 "num_attention_heads":2,"num_key_value_heads":1,"head_dim":32,"vocab_size":100,
                 "sliding_window":4096}""";
        assertThat(spec(gemma2).slidingLayerCount()).isEqualTo(3);
        assertThat(spec(gemma2.replace("gemma2", "gemma3_text")).slidingLayerCount()).isEqualTo(5);
        String mistral = LLAMA_TINY.replace("llama", "mistral");
        assertThat(spec(mistral).slidingWindow()).isEqualTo(4096); // MistralConfig default
        assertThat(spec(mistral.replace("\"vocab_size\":100", "\"vocab_size\":100,\"sliding_window\":null"))
                .slidingWindow()).isZero();
        String typed = LLAMA_TINY.replace("llama", "qwen2").replace("\"vocab_size\":100",
                "\"vocab_size\":100,\"use_sliding_window\":true,\"sliding_window\":512,"
                        + "\"layer_types\":[\"sliding_attention\",\"full_attention\"]");
        assertThat(spec(typed).layers().get(0).slidingWindow()).isTrue();
        assertThat(spec(typed).layers().get(1).slidingWindow()).isFalse();
    }

    @Test
    void encoderHeadsFollowArchitectures() {
        String bert = """
                {"model_type":"bert","hidden_size":768,"intermediate_size":3072,"num_hidden_layers":12,
                 "num_attention_heads":12,"vocab_size":30522,"max_position_embeddings":512,"type_vocab_size":2,
                 "architectures":["%s"]%s}""";
        long base = total(bert.formatted("BertModel", ""));
        assertThat(base).isEqualTo(109_482_240L);
        long pooler = 768L * 768 + 768;
        assertThat(total(bert.formatted("BertForMaskedLM", ""))).isEqualTo(base - pooler + pooler + 2 * 768 + 30522);
        assertThat(total(bert.formatted("BertForSequenceClassification", ",\"id2label\":{\"0\":\"a\",\"1\":\"b\",\"2\":\"c\"}")))
                .isEqualTo(base + 768 * 3 + 3);
        assertThat(total(bert.formatted("BertForQuestionAnswering", ""))).isEqualTo(base - pooler + 768 * 2 + 2);
        assertThat(spec(bert.formatted("BertForTokenClassification", "")).head())
                .isEqualTo(new Head.Encoder(Head.EncoderTask.TOKEN_CLASSIFICATION, 2));
        assertThatThrownBy(() -> spec(bert.formatted("BertForSomethingElse", "")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("ForMaskedLM");
    }

    @Test
    void robertaBaseMatchesThePublishedCount() {
        // RobertaModel roberta-base: 124,645,632 (public code copies (index ids) 62064254422, 53337771845)
        String roberta = """
                {"model_type":"roberta","hidden_size":768,"intermediate_size":3072,"num_hidden_layers":12,
                 "num_attention_heads":12,"vocab_size":50265,"max_position_embeddings":514,"type_vocab_size":1,
                 "architectures":["RobertaModel"]}""";
        assertThat(total(roberta)).isEqualTo(124_645_632L);
    }

    @Test
    void pythiaMatchesThePublishedCounts() {
        // Pythia model card: pythia-1b 1,011,781,632 total; pythia-6.9b 6,857,302,016 (public code copy (index id) 68284732094)
        String neox = """
                {"model_type":"gpt_neox","hidden_size":%d,"intermediate_size":%d,"num_hidden_layers":%d,
                 "num_attention_heads":%d,"vocab_size":%d,"max_position_embeddings":2048,
                 "tie_word_embeddings":false}""";
        // vocab sizes are padded per model: 50304 for pythia-1b, 50432 for pythia-6.9b
        assertThat(total(neox.formatted(2048, 8192, 16, 8, 50304))).isEqualTo(1_011_781_632L);
        assertThat(total(neox.formatted(4096, 16384, 32, 32, 50432))).isEqualTo(6_857_302_016L);
    }

    @Test
    void gpt2LargeAndXlMatchThePublishedCounts() {
        // model-provenance paper Table 4 (public code copy (index id) 53219948649): 774,030,080 and 1,557,611,200
        String gpt2 = """
                {"model_type":"gpt2","n_embd":%d,"n_layer":%d,"n_head":%d,"vocab_size":50257,"n_positions":1024}""";
        assertThat(total(gpt2.formatted(1280, 36, 20))).isEqualTo(774_030_080L);
        assertThat(total(gpt2.formatted(1600, 48, 25))).isEqualTo(1_557_611_200L);
    }

    @Test
    void unknownModelTypeWithDecoderFieldsIsAGenericDecoderWithAWarning() {
        ParsedConfig pc = HfConfigParser.parse(LLAMA_TINY.replace("llama", "my_new_arch"), "x", "config.json");
        assertThat(pc.spec().family()).isEqualTo(Family.GENERIC_DECODER);
        assertThat(pc.warnings()).singleElement().asString().contains("my_new_arch", "generic");
        assertThat(ParameterCounter.count(pc.spec()).totalCount()).isEqualTo(total(LLAMA_TINY));
    }

    @Test
    void unknownModelTypeWithoutDecoderFieldsNamesWhatIsMissing() {
        assertThatThrownBy(() -> spec("{\"model_type\":\"whisper\",\"d_model\":512}"))
                .isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("whisper").hasMessageContaining("num_hidden_layers")
                .hasMessageContaining("vocab_size").hasMessageContaining("supported: llama");
    }

    @Test
    void missingFieldIsNamed() {
        assertThatThrownBy(() -> spec(LLAMA_TINY.replace("\"hidden_size\":64,", "")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("missing 'hidden_size'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-4"})
    void nonPositiveDimensionsAreRejected(String value) {
        assertThatThrownBy(() -> spec(LLAMA_TINY.replace("\"num_hidden_layers\":2", "\"num_hidden_layers\":" + value)))
                .isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("'num_hidden_layers' must be a positive integer");
    }

    @Test
    void headsThatDoNotDivideHiddenAreRejectedWithoutHeadDim() {
        assertThatThrownBy(() -> spec(LLAMA_TINY.replace("\"num_attention_heads\":4", "\"num_attention_heads\":6")
                .replace("\"num_key_value_heads\":2", "\"num_key_value_heads\":3")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("not divisible");
    }

    @Test
    void kvHeadsMustDivideHeads() {
        assertThatThrownBy(() -> spec(LLAMA_TINY.replace("\"num_key_value_heads\":2", "\"num_key_value_heads\":3")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("multiple of num_key_value_heads");
    }

    @Test
    void wrongTypesAndInvalidJsonAreClearErrors() {
        assertThatThrownBy(() -> spec(LLAMA_TINY.replace("\"hidden_size\":64", "\"hidden_size\":\"big\"")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("'hidden_size' must be an integer");
        assertThatThrownBy(() -> spec("{\"model_type\": \"llama\","))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> spec("[1,2]"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("JSON object");
        assertThatThrownBy(() -> spec(LLAMA_TINY.replace("\"hidden_size\":64", "\"hidden_size\":1e300")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("out of range");
    }

    @Test
    void hugeDimensionsCannotOverflowTheCount() {
        String huge = """
                {"model_type":"llama","hidden_size":16000000,"intermediate_size":16000000,"num_hidden_layers":100000,
                 "num_attention_heads":1,"vocab_size":99999999}""";
        assertThatThrownBy(() -> total(huge)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("overflow");
    }

    @Test
    void deepseekMtpIsReportedApartFromTheTotal() {
        var entry = ModelCatalog.builtIn().find("deepseek-ai/DeepSeek-V3").orElseThrow();
        var b = ParameterCounter.count(HfConfigParser.parse(ModelCatalog.builtIn().config(entry), "d", "d").spec());
        assertThat(b.mtp().value()).isPositive();
        long sum = b.terms().stream().mapToLong(t -> t.value()).sum();
        assertThat(sum).isEqualTo(b.totalCount());
    }

    @Test
    void deepseekV2LiteMatchesItsModelCard() {
        // deepseek-ai/DeepSeek-V2-Lite model card: "15.7B total parameters, 2.4B activated"
        String v2 = """
                {"model_type":"deepseek_v2","hidden_size":2048,"num_hidden_layers":27,"num_attention_heads":16,
                 "q_lora_rank":null,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,"v_head_dim":128,
                 "n_routed_experts":64,"n_shared_experts":2,"num_experts_per_tok":6,"moe_intermediate_size":1408,
                 "intermediate_size":10944,"first_k_dense_replace":1,"moe_layer_freq":1,"vocab_size":102400,
                 "topk_method":"greedy"}""";
        var b = ParameterCounter.count(spec(v2));
        assertThat(b.totalCount()).isBetween(15_650_000_000L, 15_750_000_000L);
        assertThat(b.activeNonEmbedding().value()).isBetween(2_350_000_000L, 2_450_000_000L * 101 / 100);
        assertThat(b.count("router")).isEqualTo(26L * 64 * 2048); // greedy routing: no score-correction bias
    }

    @Test
    void dropoutIsReadFromTheConfigWithEachFamilysDefault() {
        String gpt2 = """
                {"model_type":"gpt2","n_embd":768,"n_layer":12,"n_head":12,"vocab_size":50257,"n_positions":1024%s}""";
        assertThat(spec(gpt2.formatted("")).dropout()).isEqualTo(0.1); // GPT2Config's defaults
        assertThat(spec(gpt2.formatted(", \"resid_pdrop\": 0, \"embd_pdrop\": 0, \"attn_pdrop\": 0")).dropout())
                .isEqualTo(0.0);
        assertThat(spec(gpt2.formatted(", \"resid_pdrop\": 0, \"embd_pdrop\": 0, \"attn_pdrop\": 0.2")).dropout())
                .isEqualTo(0.2);
        assertThatThrownBy(() -> spec(gpt2.formatted(", \"resid_pdrop\": 1.5")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("'resid_pdrop' must be a probability");
        String bert = """
                {"model_type":"bert","hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,
                 "intermediate_size":3072,"vocab_size":30522%s}""";
        assertThat(spec(bert.formatted("")).dropout()).isEqualTo(0.1);
        assertThat(spec(bert.formatted(", \"hidden_dropout_prob\": 0.0, \"attention_probs_dropout_prob\": 0.0"))
                .dropout()).isEqualTo(0.0);
        // Llama-style decoders train without dropout
        assertThat(spec(LLAMA_TINY).dropout()).isEqualTo(0.0);
    }
}
