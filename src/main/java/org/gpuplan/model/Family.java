package org.gpuplan.model;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Model families gpuplan understands, keyed by HuggingFace {@code model_type}. The family decides how a config.json is
 * read (one place per family, see {@code org.gpuplan.io.HfConfigParser}); the counting itself only looks at the
 * architecture records, so families differ only in what they declare.
 */
public enum Family {
    LLAMA("llama", "LlamaForCausalLM"),
    MISTRAL("mistral", "MistralForCausalLM"),
    /** IBM Granite 3.x: the Llama layout with scalar multipliers (embedding, attention, residual, logits). */
    GRANITE("granite", "GraniteForCausalLM"),
    /** AI2's OLMo 2: Llama modules, norms after attention and MLP (not before), q/k norms over whole projections. */
    OLMO2("olmo2", "Olmo2ForCausalLM"),
    MIXTRAL("mixtral", "MixtralForCausalLM"),
    QWEN2("qwen2", "Qwen2ForCausalLM"),
    QWEN2_MOE("qwen2_moe", "Qwen2MoeForCausalLM"),
    QWEN3("qwen3", "Qwen3ForCausalLM"),
    QWEN3_MOE("qwen3_moe", "Qwen3MoeForCausalLM"),
    GEMMA("gemma", "GemmaForCausalLM"),
    GEMMA2("gemma2", "Gemma2ForCausalLM"),
    GEMMA3("gemma3_text", "Gemma3ForCausalLM"),
    PHI3("phi3", "Phi3ForCausalLM"),
    GPT2("gpt2", "GPT2LMHeadModel"),
    GPT_NEOX("gpt_neox", "GPTNeoXForCausalLM"),
    GPT_BIGCODE("gpt_bigcode", "GPTBigCodeForCausalLM"),
    BERT("bert", "BertForMaskedLM"),
    ROBERTA("roberta", "RobertaForMaskedLM"),
    DEEPSEEK_V2("deepseek_v2", "DeepseekV2ForCausalLM"),
    DEEPSEEK_V3("deepseek_v3", "DeepseekV3ForCausalLM"),
    /** DeepSeek-V3.2: DeepSeek-V3 with a lightning indexer for sparse attention in every layer. */
    DEEPSEEK_V32("deepseek_v32", "DeepseekV32ForCausalLM"),
    GPT_OSS("gpt_oss", "GptOssForCausalLM"),
    GLM4_MOE("glm4_moe", "Glm4MoeForCausalLM"),
    /** Qwen3-Next: Gated DeltaNet linear attention in three of four layers, gated softmax attention in the rest. */
    QWEN3_NEXT("qwen3_next", "Qwen3NextForCausalLM"),
    /** Qwen3.5 dense language model (multimodal checkpoints, model_type qwen3_5, nest it in text_config). */
    QWEN3_5("qwen3_5_text", "Qwen3_5ForCausalLM"),
    /** Qwen3.5 MoE language model (multimodal checkpoints, model_type qwen3_5_moe, nest it in text_config). */
    QWEN3_5_MOE("qwen3_5_moe_text", "Qwen3_5MoeForCausalLM"),
    /** Llama 4's language model; multimodal checkpoints (model_type llama4) nest it in text_config. */
    LLAMA4("llama4_text", "Llama4ForCausalLM"),
    /** An unknown {@code model_type} that has the standard Llama-style decoder fields. */
    GENERIC_DECODER("generic", "unknown");

    private final String modelType;
    private final String defaultArchitecture;

    Family(String modelType, String defaultArchitecture) {
        this.modelType = modelType;
        this.defaultArchitecture = defaultArchitecture;
    }

    /** The HuggingFace {@code model_type} value. */
    public String modelType() {
        return modelType;
    }

    /** The class name transformers uses when a config lists no {@code architectures}. */
    public String defaultArchitecture() {
        return defaultArchitecture;
    }

    public boolean isEncoder() {
        return this == BERT || this == ROBERTA;
    }

    public static Optional<Family> byModelType(String modelType) {
        if (modelType == null) {
            return Optional.empty();
        }
        String key = modelType.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        if (key.equals("kimi_k2")) {
            // Moonshot's Kimi K2 is DeepseekV3ForCausalLM under its own model_type (its deployment guide: "Kimi-K2
            // reuses the DeepSeekV3CausalLM architecture ... change model_type to deepseek_v3")
            return Optional.of(DEEPSEEK_V3);
        }
        return Arrays.stream(values()).filter(f -> f != GENERIC_DECODER && f.modelType.equals(key)).findFirst();
    }

    /** The family whose transformers class is exactly {@code architecture}, if any. */
    public static Optional<Family> byArchitecture(String architecture) {
        return Arrays.stream(values()).filter(f -> f != GENERIC_DECODER && f.defaultArchitecture.equals(architecture))
                .findFirst();
    }

    /** Accepted {@code model_type} values, for error messages and {@code models --family}. */
    public static List<String> modelTypes() {
        return Arrays.stream(values()).filter(f -> f != GENERIC_DECODER).map(Family::modelType).toList();
    }
}
