package org.gpuplan.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.IntPredicate;
import org.gpuplan.model.Attention;
import org.gpuplan.model.Embeddings;
import org.gpuplan.model.Family;
import org.gpuplan.model.GatedDeltaNet;
import org.gpuplan.model.Head;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.Layer;
import org.gpuplan.model.Mlp;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.Moe;
import org.gpuplan.model.NormKind;
import org.gpuplan.model.Norms;
import org.gpuplan.model.VisionEncoder;

/**
 * Reads a HuggingFace {@code config.json} into a {@link ModelSpec}. Each family has exactly one method here that
 * knows its key spellings and the defaults of its transformers configuration class.
 */
public final class HfConfigParser {

    /** config.json files are a few KB; anything larger than this is not a config. */
    static final int MAX_CONFIG_BYTES = 16 * 1024 * 1024;

    static final ObjectMapper JSON = JsonMapper.builder()
            .build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(64).maxStringLength(MAX_CONFIG_BYTES).maxNumberLength(64).build());
    }

    private HfConfigParser() {
    }

    /** Parses config.json text; {@code where} names the file in error messages, {@code name} is the display name. */
    public static ParsedConfig parse(String json, String name, String where) {
        if (json.length() > MAX_CONFIG_BYTES) {
            throw new InvalidInputException(where + ": too large for a config.json (" + json.length() + " characters)");
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new InvalidInputException(where + ": not valid JSON (" + firstLine(e.getOriginalMessage()) + ")");
        }
        if (root == null || !root.isObject()) {
            throw new InvalidInputException(where + ": expected a JSON object at the top level");
        }
        return parse(new ConfigFields(root, where), name);
    }

    static ParsedConfig parse(ConfigFields c, String name) {
        List<String> warnings = new ArrayList<>();
        String modelType = c.text("model_type").orElse("");
        List<String> architectures = c.strings("architectures");
        Optional<Family> family = Family.byModelType(modelType);
        if (family.isEmpty() && modelType.isEmpty()) {
            family = familyFromArchitectures(architectures);
        } else if (family.isEmpty() && !List.of("gemma3", "llama4", "qwen3_5", "qwen3_5_moe").contains(modelType)) {
            // a derivative under its own model_type that keeps a known transformers class
            Optional<Family> byClass = architectures.stream().map(Family::byArchitecture).flatMap(Optional::stream)
                    .findFirst();
            byClass.ifPresent(f -> warnings.add("model_type '" + modelType + "' is not a known family; read as "
                    + f.modelType() + " because its architectures name " + f.defaultArchitecture()));
            family = byClass;
        }
        ModelSpec spec;
        if (modelType.equals("gemma3")) {
            // Gemma 3 4B+ (Gemma3ForConditionalGeneration): the language model lives in text_config.
            ModelSpec lm = gemma3(textConfig(c, "gemma3"), name, architectures);
            ConfigFields v = visionConfig(c);
            // SiglipVisionConfig defaults as used by Gemma 3 (so400m/14 at 896 px)
            spec = lm.withVision(new VisionEncoder.Siglip(v.positiveOr(1152, "hidden_size"),
                    v.positiveOr(27, "num_hidden_layers"), v.positiveOr(4304, "intermediate_size"),
                    v.positiveOr(14, "patch_size"), v.positiveOr(896, "image_size"), v.positiveOr(3, "num_channels"),
                    lm.hiddenSize()));
        } else if (modelType.equals("llama4")) {
            spec = llama4(c, name, architectures);
        } else if (modelType.equals("qwen3_5") || modelType.equals("qwen3_5_moe")) {
            // Qwen3_5(Moe)ForConditionalGeneration: the language model in text_config, a Qwen3-VL-style ViT
            ModelSpec lm = qwenHybrid(textConfig(c, modelType), name, architectures,
                    modelType.equals("qwen3_5") ? Family.QWEN3_5 : Family.QWEN3_5_MOE);
            ConfigFields v = visionConfig(c);
            spec = lm.withVision(new VisionEncoder.QwenVl(v.positiveOr(1152, "hidden_size"),
                    v.positiveOr(27, "depth", "num_hidden_layers"), v.positiveOr(4304, "intermediate_size"),
                    v.positiveOr(16, "patch_size"), v.positiveOr(2, "temporal_patch_size"),
                    v.positiveOr(3, "in_channels", "num_channels"), v.positiveOr(2304, "num_position_embeddings"),
                    v.positiveOr(2, "spatial_merge_size"), v.ints("deepstack_visual_indexes").size(),
                    v.positiveOr(lm.hiddenSize(), "out_hidden_size")));
        } else if (family.isPresent()) {
            spec = byFamily(family.get(), c, name, architectures);
        } else if (c.object("text_config").flatMap(t -> Family.byModelType(t.text("model_type").orElse(null)))
                .isPresent()) {
            // a multimodal wrapper gpuplan does not know (Kimi K2.5's kimi_k25) around a language model it does
            ConfigFields text = c.object("text_config").orElseThrow();
            Family lm = Family.byModelType(text.text("model_type").orElseThrow()).orElseThrow();
            spec = byFamily(lm, text, name, architectures);
            if (c.object("vision_config").isPresent()) {
                warnings.add("model_type '" + modelType + "': the language model in text_config is read as "
                        + lm.modelType() + "; its vision tower (vision_config) is not counted");
            }
        } else {
            spec = generic(c, name, architectures, modelType);
            warnings.add("model_type '" + modelType + "' is not a known family (known: "
                    + String.join(", ", Family.modelTypes()) + "); read as a generic Llama-style decoder "
                    + "(gated MLP, RMSNorm, rotary positions), so counts may be off");
        }
        return new ParsedConfig(spec, c.text("torch_dtype", "dtype"), quantization(c), warnings);
    }

    private static ModelSpec byFamily(Family family, ConfigFields c, String name, List<String> arch) {
        return switch (family) {
            case LLAMA, MISTRAL, GRANITE -> llama(c, name, arch, family);
            case OLMO2 -> olmo2(c, name, arch);
            case MIXTRAL -> mixtral(c, name, arch);
            case QWEN2 -> qwen2(c, name, arch);
            case QWEN2_MOE -> qwen2Moe(c, name, arch);
            case QWEN3 -> qwen3(c, name, arch);
            case QWEN3_MOE -> qwen3Moe(c, name, arch);
            case GEMMA -> gemma(c, name, arch);
            case GEMMA2 -> gemma2(c, name, arch);
            case GEMMA3 -> gemma3(c, name, arch);
            case PHI3 -> phi3(c, name, arch);
            case GPT2 -> gpt2(c, name, arch);
            case GPT_BIGCODE -> gptBigCode(c, name, arch);
            case GPT_NEOX -> gptNeox(c, name, arch);
            case BERT, ROBERTA -> encoder(c, name, arch, family);
            case DEEPSEEK_V2, DEEPSEEK_V3, DEEPSEEK_V32 -> deepseek(c, name, arch, family);
            case GPT_OSS -> gptOss(c, name, arch);
            case GLM4_MOE -> glm4Moe(c, name, arch);
            case LLAMA4 -> llama4Text(c, name, arch);
            case QWEN3_NEXT, QWEN3_5, QWEN3_5_MOE -> qwenHybrid(c, name, arch, family);
            case GENERIC_DECODER -> generic(c, name, arch, "generic");
        };
    }

    private static Optional<Family> familyFromArchitectures(List<String> architectures) {
        for (String a : architectures) {
            String prefix = a.replaceAll("(For.*|LMHeadModel|Model)$", "").toLowerCase(Locale.ROOT);
            for (Family f : Family.values()) {
                if (f != Family.GENERIC_DECODER
                        && f.defaultArchitecture().toLowerCase(Locale.ROOT).startsWith(prefix) && !prefix.isEmpty()) {
                    return Optional.of(f);
                }
            }
        }
        return Optional.empty();
    }

    // ---- shared pieces -------------------------------------------------------------------------------------------

    /** The fields every decoder has, read with the usual spellings. */
    private record Core(int hidden, int layers, int heads, int kvHeads, int headDim, int vocab, long maxContext) {
    }

    private static Core core(ConfigFields c, Integer defaultHeadDim) {
        int hidden = c.positive("hidden_size", "n_embd", "d_model");
        int layers = c.positive("num_hidden_layers", "n_layer", "num_layers");
        if (layers > ModelSpec.MAX_LAYERS) {
            throw new InvalidInputException(c.where() + ": 'num_hidden_layers' = " + layers + " is out of range (at most "
                    + ModelSpec.MAX_LAYERS + ")");
        }
        int heads = c.positive("num_attention_heads", "n_head", "num_heads");
        int kvHeads = c.positiveOr(heads, "num_key_value_heads", "num_kv_heads");
        int headDim;
        if (c.has("head_dim")) {
            headDim = c.positive("head_dim");
        } else if (defaultHeadDim != null) {
            headDim = defaultHeadDim;
        } else {
            if (hidden % heads != 0) {
                throw new InvalidInputException(c.where() + ": hidden_size (" + hidden
                        + ") is not divisible by num_attention_heads (" + heads + ") and no head_dim is given");
            }
            headDim = hidden / heads;
        }
        if (heads % kvHeads != 0) {
            throw new InvalidInputException(c.where() + ": num_attention_heads (" + heads
                    + ") must be a multiple of num_key_value_heads (" + kvHeads + ")");
        }
        int vocab = c.positive("vocab_size", "n_vocab");
        long maxContext = c.optLong("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
                .orElse(0);
        if (maxContext < 0) {
            throw new InvalidInputException(c.where() + ": 'max_position_embeddings' must not be negative");
        }
        return new Core(hidden, layers, heads, kvHeads, headDim, vocab, maxContext);
    }

    private static Attention.Standard standard(Core k, boolean qkvBias, boolean outBias, boolean qkNorm,
                                               boolean fused, boolean sinks) {
        return new Attention.Standard(k.heads(), k.kvHeads(), k.headDim(), qkvBias, outBias, qkNorm, fused, sinks);
    }

    private static Norms preNorm(int perLayer) {
        return new Norms(NormKind.RMS_NORM, perLayer, true, false);
    }

    /** Gemma-style RMSNorms: x̂ · (1 + w) computed in fp32, then cast (GemmaRMSNorm, Qwen3NextRMSNorm). */
    private static Norms unitOffsetNorm(int perLayer) {
        return new Norms(NormKind.RMS_NORM, perLayer, true, false, true);
    }

    private static String act(ConfigFields c, String fallback) {
        return c.text("hidden_act", "hidden_activation", "activation_function").orElse(fallback);
    }

    /**
     * Which layers use a sliding window: the config's {@code layer_types} when present, otherwise the family rule.
     * Returns the window (0 = none) and the layer list.
     */
    private record Pattern(int window, List<Layer> layers) {
    }

    private static Pattern pattern(ConfigFields c, int layers, int window, IntPredicate sliding, IntPredicate moe) {
        List<String> types = c.strings("layer_types");
        if (!types.isEmpty() && types.size() != layers) {
            throw new InvalidInputException(c.where() + ": 'layer_types' has " + types.size() + " entries but there are "
                    + layers + " layers");
        }
        List<Layer> out = new ArrayList<>(layers);
        boolean any = false;
        for (int i = 0; i < layers; i++) {
            boolean s = window > 0 && (types.isEmpty() ? sliding.test(i) : types.get(i).contains("sliding")
                    || types.get(i).contains("chunked"));
            any |= s;
            out.add(new Layer(s, moe.test(i)));
        }
        return new Pattern(any ? window : 0, out);
    }

    private static int window(ConfigFields c, int fallback) {
        if (c.present("sliding_window") && !c.has("sliding_window")) {
            return 0; // explicit null: no sliding window
        }
        return c.nonNegativeOr(fallback, "sliding_window");
    }

    private static ModelSpec decoder(String name, Family family, List<String> arch, Core k, Attention attention,
                                     Mlp mlp, Moe moe, Norms norms, Pattern p, boolean tied) {
        return decoder(name, family, arch, k, attention, mlp, moe, norms, p, tied, new Head.CausalLm());
    }

    private static ModelSpec decoder(String name, Family family, List<String> arch, Core k, Attention attention,
                                     Mlp mlp, Moe moe, Norms norms, Pattern p, boolean tied, Head head) {
        return new ModelSpec(name, family, arch, k.hidden(), k.vocab(), k.maxContext(), new Embeddings(tied, 0, 0),
                attention, mlp, moe, norms, p.layers(), p.window(), head, 0, null);
    }

    /** Attention with Gemma 2's optional score cap (attn_logit_softcapping; on by default in Gemma2Config). */
    private static Attention.Standard gemmaAttention(ConfigFields c, Core k, boolean qkNorm, boolean capByDefault) {
        boolean bias = c.bool(false, "attention_bias");
        return new Attention.Standard(k.heads(), k.kvHeads(), k.headDim(), bias, bias, qkNorm, false, false, false,
                false, c.capOn(capByDefault, "attn_logit_softcapping"));
    }

    private static Mlp gated(ConfigFields c, String act, boolean bias) {
        return new Mlp(c.positive("intermediate_size", "n_inner", "ffn_dim"), true, bias, false, act);
    }

    // ---- one method per family -----------------------------------------------------------------------------------

    // LlamaConfig / MistralConfig: attention_bias, mlp_bias default false; Mistral's sliding_window defaults to 4096.
    // GraniteConfig has the same modules; its multipliers scale activations without adding parameters.
    private static ModelSpec llama(ConfigFields c, String name, List<String> arch, Family family) {
        Core k = core(c, null);
        boolean attnBias = c.bool(false, "attention_bias");
        int window = family == Family.MISTRAL ? window(c, 4096) : 0;
        Pattern p = pattern(c, k.layers(), window, i -> true, i -> false);
        return decoder(name, family, arch, k, standard(k, attnBias, attnBias, false, false, false),
                gated(c, act(c, "silu"), c.bool(false, "mlp_bias")), null, preNorm(2), p,
                c.bool(false, "tie_word_embeddings"));
    }

    // Olmo2Config: the Llama modules with post_attention_layernorm and post_feedforward_layernorm applied to each
    // block's output (two h-wide norms per layer, as Llama's two pre-norms) and q_norm / k_norm RMSNorms over the whole
    // q (a·d) and k (kv·d) projections; attention_bias default false.
    private static ModelSpec olmo2(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, null);
        boolean bias = c.bool(false, "attention_bias");
        Pattern p = pattern(c, k.layers(), 0, i -> true, i -> false);
        Attention.Standard attention = new Attention.Standard(k.heads(), k.kvHeads(), k.headDim(), bias, bias, true,
                false, false, false, true);
        return decoder(name, Family.OLMO2, arch, k, attention, gated(c, act(c, "silu"), false), null, preNorm(2), p,
                c.bool(false, "tie_word_embeddings"));
    }

    // MixtralConfig: num_local_experts 8, num_experts_per_tok 2; router Linear(h, E) without bias.
    private static ModelSpec mixtral(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, null);
        int experts = c.positiveOr(8, "num_local_experts", "num_experts", "n_routed_experts");
        Moe moe = new Moe(experts, topK(c, 2, experts), c.positive("intermediate_size"), 0, false, false, false,
                false);
        Pattern p = pattern(c, k.layers(), window(c, 0), i -> true, i -> true);
        return decoder(name, Family.MIXTRAL, arch, k, standard(k, false, false, false, false, false), null, moe,
                preNorm(2), p, c.bool(false, "tie_word_embeddings"));
    }

    private static int topK(ConfigFields c, int fallback, int experts) {
        int k = c.positiveOr(fallback, "num_experts_per_tok", "experts_per_token", "num_experts_per_token");
        if (k > experts) {
            throw new InvalidInputException(c.where() + ": 'num_experts_per_tok' (" + k
                    + ") exceeds the number of experts (" + experts + ")");
        }
        return k;
    }

    // Qwen2: q/k/v biases always, no o bias; sliding window only when use_sliding_window, from max_window_layers on.
    private static ModelSpec qwen2(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, null);
        Pattern p = qwenPattern(c, k.layers(), i -> false);
        return decoder(name, Family.QWEN2, arch, k, standard(k, true, false, false, false, false),
                gated(c, act(c, "silu"), false), null, preNorm(2), p, c.bool(false, "tie_word_embeddings"));
    }

    private static Pattern qwenPattern(ConfigFields c, int layers, IntPredicate moe) {
        boolean use = c.bool(false, "use_sliding_window");
        int maxWindowLayers = c.nonNegativeOr(layers, "max_window_layers");
        int window = use ? window(c, 4096) : 0;
        return pattern(c, layers, window, i -> i >= maxWindowLayers, moe);
    }

    // Qwen2MoeConfig: num_experts 60, top-4, shared expert with sigmoid gate; MoE where (i+1) % decoder_sparse_step == 0
    // and i is not in mlp_only_layers.
    private static ModelSpec qwen2Moe(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, null);
        int experts = c.positiveOr(60, "num_experts");
        Moe moe = new Moe(experts, topK(c, 4, experts), c.positiveOr(1408, "moe_intermediate_size"),
                c.nonNegativeOr(5632, "shared_expert_intermediate_size"), true, false, false, false);
        IntPredicate isMoe = qwenMoeLayers(c);
        Pattern p = qwenPattern(c, k.layers(), isMoe);
        Mlp dense = c.has("intermediate_size") ? gated(c, act(c, "silu"), false) : null;
        return decoder(name, Family.QWEN2_MOE, arch, k, standard(k, true, false, false, false, false), dense, moe,
                preNorm(2), p, c.bool(false, "tie_word_embeddings"));
    }

    private static IntPredicate qwenMoeLayers(ConfigFields c) {
        int step = c.positiveOr(1, "decoder_sparse_step");
        List<Integer> mlpOnly = c.ints("mlp_only_layers");
        return i -> !mlpOnly.contains(i) && (i + 1) % step == 0;
    }

    // Qwen3: q/k RMSNorm over head_dim; attention_bias default false; head_dim defaults to 128 in Qwen3Config.
    private static ModelSpec qwen3(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, 128);
        boolean bias = c.bool(false, "attention_bias");
        Pattern p = qwenPattern(c, k.layers(), i -> false);
        return decoder(name, Family.QWEN3, arch, k, standard(k, bias, bias, true, false, false),
                gated(c, act(c, "silu"), false), null, preNorm(2), p, c.bool(false, "tie_word_embeddings"));
    }

    // Qwen3MoeConfig: 128 experts, top-8, no shared expert, q/k norms.
    private static ModelSpec qwen3Moe(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, 128);
        boolean bias = c.bool(false, "attention_bias");
        int experts = c.positiveOr(128, "num_experts");
        Moe moe = new Moe(experts, topK(c, 8, experts), c.positiveOr(768, "moe_intermediate_size"), 0, false, false,
                false, false);
        IntPredicate isMoe = qwenMoeLayers(c);
        Pattern p = qwenPattern(c, k.layers(), isMoe);
        Mlp dense = c.has("intermediate_size") ? gated(c, act(c, "silu"), false) : null;
        return decoder(name, Family.QWEN3_MOE, arch, k, standard(k, bias, bias, true, false, false), dense, moe,
                preNorm(2), p, c.bool(false, "tie_word_embeddings"));
    }

    // GemmaConfig: head_dim 256, tied embeddings by default, GeGLU.
    private static ModelSpec gemma(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, 256);
        Pattern p = pattern(c, k.layers(), 0, i -> false, i -> false);
        return decoder(name, Family.GEMMA, arch, k, gemmaAttention(c, k, false, false),
                gated(c, act(c, "gelu_pytorch_tanh"), false), null, unitOffsetNorm(2), p,
                c.bool(true, "tie_word_embeddings"));
    }

    // Gemma2Config: four norms per block (pre/post attention, pre/post feed-forward); even layers slide (window 4096);
    // attention scores capped at 50 and logits at 30 by default (attn_/final_logit_softcapping).
    private static ModelSpec gemma2(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, 256);
        Pattern p = pattern(c, k.layers(), window(c, 4096), i -> i % 2 == 0, i -> false);
        return decoder(name, Family.GEMMA2, arch, k, gemmaAttention(c, k, false, true),
                gated(c, act(c, "gelu_pytorch_tanh"), false), null, unitOffsetNorm(4), p,
                c.bool(true, "tie_word_embeddings"), new Head.CausalLm(c.capOn(true, "final_logit_softcapping")));
    }

    // Gemma3TextConfig: Gemma 2 blocks plus q/k norms; 5 sliding layers then 1 global (sliding_window_pattern 6).
    // Multimodal configs omit text_config fields that equal these class defaults (Gemma 3 4B), so they apply here.
    private static ModelSpec gemma3(ConfigFields given, String name, List<String> arch) {
        ObjectNode merged = JSON.createObjectNode();
        merged.put("vocab_size", 262208).put("hidden_size", 2304).put("intermediate_size", 9216)
                .put("num_hidden_layers", 26).put("num_attention_heads", 8).put("num_key_value_heads", 4)
                .put("head_dim", 256).put("max_position_embeddings", 131072).put("sliding_window", 4096);
        merged.setAll((ObjectNode) given.node());
        ConfigFields c = new ConfigFields(merged, given.where());
        Core k = core(c, 256);
        int every = c.positiveOr(6, "sliding_window_pattern");
        Pattern p = pattern(c, k.layers(), window(c, 4096), i -> (i + 1) % every != 0, i -> false);
        return decoder(name, Family.GEMMA3, arch, k, gemmaAttention(c, k, true, false),
                gated(c, act(c, "gelu_pytorch_tanh"), false), null, unitOffsetNorm(4), p,
                c.bool(true, "tie_word_embeddings"), new Head.CausalLm(c.capOn(false, "final_logit_softcapping")));
    }

    // Phi3: fused qkv_proj and gate_up_proj; untied; sliding_window applies to every layer when set.
    private static ModelSpec phi3(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, null);
        boolean bias = c.bool(false, "attention_bias");
        Pattern p = pattern(c, k.layers(), window(c, 0), i -> true, i -> false);
        Mlp mlp = new Mlp(c.positive("intermediate_size"), true, false, true, act(c, "silu"));
        return decoder(name, Family.PHI3, arch, k, standard(k, bias, bias, false, true, false), mlp, null,
                preNorm(2), p, c.bool(false, "tie_word_embeddings"));
    }

    // GPT2Config: LayerNorm, learned positions (n_positions), biases everywhere, n_inner defaults to 4·n_embd, tied head.
    private static ModelSpec gpt2(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, null);
        int inner = c.positiveOr(4 * k.hidden(), "n_inner");
        Mlp mlp = new Mlp(inner, false, true, false, act(c, "gelu_new"));
        int positions = (int) Math.min(Integer.MAX_VALUE, c.positiveOr(1024, "n_positions", "max_position_embeddings"));
        Pattern p = pattern(c, k.layers(), 0, i -> false, i -> false);
        Core withContext = new Core(k.hidden(), k.layers(), k.heads(), k.kvHeads(), k.headDim(), k.vocab(), positions);
        return new ModelSpec(name, Family.GPT2, arch, k.hidden(), k.vocab(), positions,
                new Embeddings(c.bool(true, "tie_word_embeddings"), positions, 0),
                standard(withContext, true, true, false, true, false), mlp, null,
                new Norms(NormKind.LAYER_NORM, 2, true, false), p.layers(), 0, new Head.CausalLm(), 0, null,
                c.maxProbability(0.1, "resid_pdrop", "embd_pdrop", "attn_pdrop"));
    }

    // GPTBigCodeConfig (StarCoder, SantaCoder): GPT-2 blocks with multi-query attention (one K/V head) when
    // multi_query, learned positions, biases everywhere, tied head.
    private static ModelSpec gptBigCode(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, null);
        boolean mqa = c.bool(true, "multi_query");
        int inner = c.positiveOr(4 * k.hidden(), "n_inner");
        Mlp mlp = new Mlp(inner, false, true, false, act(c, "gelu_pytorch_tanh"));
        int positions = c.positiveOr(2048, "n_positions", "max_position_embeddings");
        Pattern p = pattern(c, k.layers(), 0, i -> false, i -> false);
        Attention.Standard attention = new Attention.Standard(k.heads(), mqa ? 1 : k.heads(), k.headDim(), true, true,
                false, true, false);
        return new ModelSpec(name, Family.GPT_BIGCODE, arch, k.hidden(), k.vocab(), positions,
                new Embeddings(c.bool(true, "tie_word_embeddings"), positions, 0), attention, mlp, null,
                new Norms(NormKind.LAYER_NORM, 2, true, false), p.layers(), 0, new Head.CausalLm(), 0, null,
                c.maxProbability(0.1, "resid_pdrop", "embd_pdrop", "attn_pdrop"));
    }

    // GPTNeoXConfig: fused query_key_value with biases, LayerNorm, untied embed_out by default.
    private static ModelSpec gptNeox(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, null);
        boolean bias = c.bool(true, "attention_bias");
        Mlp mlp = new Mlp(c.positive("intermediate_size"), false, true, false, act(c, "gelu"));
        Pattern p = pattern(c, k.layers(), 0, i -> false, i -> false);
        return decoder(name, Family.GPT_NEOX, arch, k, standard(k, bias, bias, false, true, false), mlp, null,
                new Norms(NormKind.LAYER_NORM, 2, true, false), p, c.bool(false, "tie_word_embeddings"));
    }

    // BertConfig / RobertaConfig: post-norm encoder, learned positions and token types, task head from architectures.
    private static ModelSpec encoder(ConfigFields c, String name, List<String> arch, Family family) {
        Core k = core(c, null);
        int positions = c.positiveOr(family == Family.ROBERTA ? 514 : 512, "max_position_embeddings");
        int tokenTypes = c.nonNegativeOr(family == Family.ROBERTA ? 1 : 2, "type_vocab_size");
        Mlp mlp = new Mlp(c.positive("intermediate_size"), false, true, false, act(c, "gelu"));
        Pattern p = pattern(c, k.layers(), 0, i -> false, i -> false);
        int labels = c.size("id2label") > 0 ? c.size("id2label") : c.positiveOr(2, "num_labels");
        Head head = new Head.Encoder(encoderTask(c, arch, family), labels);
        return new ModelSpec(name, family, arch, k.hidden(), k.vocab(), positions,
                new Embeddings(c.bool(true, "tie_word_embeddings"), positions, tokenTypes),
                standard(k, true, true, false, false, false), mlp, null,
                new Norms(NormKind.LAYER_NORM, 2, false, true), p.layers(), 0, head, 0, null,
                c.maxProbability(0.1, "hidden_dropout_prob", "attention_probs_dropout_prob"));
    }

    private static Head.EncoderTask encoderTask(ConfigFields c, List<String> arch, Family family) {
        if (arch.isEmpty()) {
            return Head.EncoderTask.BASE;
        }
        String a = arch.get(0);
        if (a.endsWith("LMHeadModel")) {
            return Head.EncoderTask.CAUSAL_LM;
        }
        for (Head.EncoderTask t : Head.EncoderTask.values()) {
            if (a.endsWith(t.suffix()) && !(t == Head.EncoderTask.BASE && a.contains("For"))) {
                return t;
            }
        }
        throw new InvalidInputException(c.where() + ": architectures '" + a + "' is not a known " + family.modelType()
                + " head (accepted suffixes: " + String.join(", ", Head.EncoderTask.suffixes()) + ")");
    }

    // DeepseekV3Config: MLA, first_k_dense_replace dense layers, then MoE every moe_layer_freq layers with
    // n_shared_experts always-on experts; noaux_tc routing keeps an e_score_correction_bias per expert.
    // DeepSeek-V2 has the same blocks; its greedy/group_limited_greedy routing keeps no score-correction bias.
    private static ModelSpec deepseek(ConfigFields c, String name, List<String> arch, Family family) {
        int hidden = c.positive("hidden_size");
        int layers = c.positive("num_hidden_layers");
        if (layers > ModelSpec.MAX_LAYERS) {
            throw new InvalidInputException(c.where() + ": 'num_hidden_layers' = " + layers + " is out of range");
        }
        int heads = c.positive("num_attention_heads");
        Attention.Latent mla = new Attention.Latent(heads, c.nonNegativeOr(0, "q_lora_rank"),
                c.positive("kv_lora_rank"), c.nonNegativeOr(128, "qk_nope_head_dim"),
                c.nonNegativeOr(64, "qk_rope_head_dim"), c.positive("v_head_dim"),
                family == Family.DEEPSEEK_V32 ? c.positiveOr(64, "index_n_heads") : 0,
                family == Family.DEEPSEEK_V32 ? c.positiveOr(128, "index_head_dim") : 0);
        int experts = c.nonNegativeOr(0, "n_routed_experts", "num_experts");
        int firstDense = c.nonNegativeOr(0, "first_k_dense_replace");
        int freq = c.positiveOr(1, "moe_layer_freq");
        Moe moe = null;
        if (experts > 0) {
            int shared = c.nonNegativeOr(0, "n_shared_experts");
            int fe = c.positive("moe_intermediate_size");
            boolean scoreBias = c.text("topk_method").map("noaux_tc"::equals)
                    .orElse(family == Family.DEEPSEEK_V3 || family == Family.DEEPSEEK_V32);
            moe = new Moe(experts, topK(c, 8, experts), fe, Math.multiplyExact(shared, fe), false, false, scoreBias,
                    false);
        }
        boolean hasMoe = moe != null;
        Pattern p = pattern(c, layers, 0, i -> false, i -> hasMoe && i >= firstDense && i % freq == 0);
        Mlp dense = c.has("intermediate_size") ? gated(c, act(c, "silu"), false) : null;
        long maxContext = c.optLong("max_position_embeddings").orElse(0);
        return new ModelSpec(name, family, arch, hidden, c.positive("vocab_size"), maxContext,
                new Embeddings(c.bool(false, "tie_word_embeddings"), 0, 0), mla, dense, moe, preNorm(2), p.layers(),
                0, new Head.CausalLm(), c.nonNegativeOr(0, "num_nextn_predict_layers"), null);
    }

    // GptOssConfig: every layer MoE (experts with biases, router with bias), attention with biases and per-head sinks,
    // alternating sliding (128) / full attention via layer_types.
    private static ModelSpec gptOss(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, 64);
        int experts = c.positiveOr(128, "num_local_experts", "num_experts");
        Moe moe = new Moe(experts, topK(c, 4, experts), c.positive("intermediate_size"), 0, false, true, false, true);
        Pattern p = pattern(c, k.layers(), window(c, 128), i -> i % 2 == 0, i -> true);
        boolean bias = c.bool(true, "attention_bias");
        return decoder(name, Family.GPT_OSS, arch, k, standard(k, bias, bias, false, false, true), null, moe,
                preNorm(2), p, c.bool(false, "tie_word_embeddings"));
    }

    // Glm4MoeConfig (GLM-4.5/4.6): grouped-query attention whose q/k/v carry biases when attention_bias (o_proj never
    // does) and optional q/k RMSNorms over head_dim (use_qk_norm); partial rotary adds no parameters. The first
    // first_k_dense_replace layers are dense, the rest DeepSeek-V3-style MoE: a sigmoid router with a per-expert
    // score-correction bias, top-k routed experts and n_shared_experts × moe_intermediate_size always-on experts;
    // num_nextn_predict_layers MTP layers are stored after the decoder (counted apart, as for DeepSeek-V3).
    private static ModelSpec glm4Moe(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, 128);
        boolean bias = c.bool(false, "attention_bias");
        int experts = c.positiveOr(128, "n_routed_experts");
        int fe = c.positiveOr(1408, "moe_intermediate_size");
        int shared = c.nonNegativeOr(1, "n_shared_experts");
        Moe moe = new Moe(experts, topK(c, 8, experts), fe, Math.multiplyExact(shared, fe), false, false, true,
                false);
        int firstDense = c.nonNegativeOr(1, "first_k_dense_replace");
        Pattern p = pattern(c, k.layers(), 0, i -> false, i -> i >= firstDense);
        Mlp dense = firstDense > 0 ? gated(c, act(c, "silu"), false) : null;
        return new ModelSpec(name, Family.GLM4_MOE, arch, k.hidden(), k.vocab(), k.maxContext(),
                new Embeddings(c.bool(false, "tie_word_embeddings"), 0, 0),
                standard(k, bias, false, c.bool(false, "use_qk_norm"), false, false), dense, moe, preNorm(2),
                p.layers(), 0, new Head.CausalLm(), c.nonNegativeOr(0, "num_nextn_predict_layers"), null);
    }

    // Llama4ForConditionalGeneration: the language model in text_config, Llama 4's ViT in vision_config.
    private static ModelSpec llama4(ConfigFields c, String name, List<String> arch) {
        ModelSpec lm = llama4Text(textConfig(c, "llama4"), name, arch);
        ConfigFields v = visionConfig(c);
        // Llama4VisionConfig defaults (the released Scout and Maverick values)
        return lm.withVision(new VisionEncoder.Llama4(v.positiveOr(1408, "hidden_size"),
                v.positiveOr(34, "num_hidden_layers"), v.positiveOr(5632, "intermediate_size"),
                v.positiveOr(14, "patch_size"), v.positiveOr(336, "image_size"), v.positiveOr(3, "num_channels"),
                v.positiveOr(4096, "projector_input_dim"), v.positiveOr(4096, "projector_output_dim"),
                v.positiveOr(4096, "vision_output_dim"), lm.hiddenSize()));
    }

    private static ConfigFields textConfig(ConfigFields c, String modelType) {
        return c.object("text_config").orElseThrow(() -> new InvalidInputException(
                c.where() + ": model_type '" + modelType + "' needs a 'text_config' object"));
    }

    private static ConfigFields visionConfig(ConfigFields c) {
        return c.object("vision_config").orElse(new ConfigFields(JSON.createObjectNode(), c.where() + " vision_config"));
    }

    // Llama4TextConfig: grouped-query attention without biases; the q/k L2 norm has no weights. Layers with RoPE
    // attend within chunks of attention_chunk_size tokens (held like a sliding window); every
    // no_rope_layer_interval-th layer (default 4) is a NoPE layer with global attention (no_rope_layers: 1 = RoPE).
    // MoE layers are range(step - 1, L, step) for interleave_moe_layer_step (or the explicit moe_layers): a
    // bias-free router Linear(h, E), top-k routed experts and one always-on shared expert, both of intermediate_size;
    // the other layers are dense with intermediate_size_mlp.
    private static ModelSpec llama4Text(ConfigFields c, String name, List<String> arch) {
        Core k = core(c, null);
        boolean bias = c.bool(false, "attention_bias");
        int experts = c.positiveOr(16, "num_local_experts");
        int fe = c.positiveOr(8192, "intermediate_size");
        Moe moe = new Moe(experts, topK(c, 1, experts), fe, fe, false, false, false, false);
        int step = c.positiveOr(1, "interleave_moe_layer_step");
        List<Integer> moeLayers = c.ints("moe_layers");
        IntPredicate isMoe = moeLayers.isEmpty() ? i -> i % step == step - 1 : moeLayers::contains;
        int chunk = c.present("attention_chunk_size") && !c.has("attention_chunk_size") ? 0
                : c.nonNegativeOr(8192, "attention_chunk_size");
        List<Integer> rope = c.ints("no_rope_layers");
        if (!rope.isEmpty() && rope.size() != k.layers()) {
            throw new InvalidInputException(c.where() + ": 'no_rope_layers' has " + rope.size()
                    + " entries but there are " + k.layers() + " layers");
        }
        int interval = c.positiveOr(4, "no_rope_layer_interval");
        IntPredicate chunked = rope.isEmpty() ? i -> (i + 1) % interval != 0 : i -> rope.get(i) != 0;
        Pattern p = pattern(c, k.layers(), chunk, chunked, isMoe);
        boolean anyDense = java.util.stream.IntStream.range(0, k.layers()).anyMatch(i -> !isMoe.test(i));
        Mlp dense = anyDense ? new Mlp(c.positiveOr(16384, "intermediate_size_mlp"), true, false, false,
                act(c, "silu")) : null;
        return decoder(name, Family.LLAMA4, arch, k, standard(k, bias, bias, false, false, false), dense, moe,
                preNorm(2), p, c.bool(false, "tie_word_embeddings"));
    }

    // Qwen3-Next / Qwen3.5: layer_types (or every full_attention_interval-th layer) names the softmax-attention layers,
    // whose query projection also yields a sigmoid output gate (attn_output_gate; always in Qwen3-Next) and which have
    // q/k RMSNorms over head_dim and no biases; the other layers are Gated DeltaNet. The MoE variants route as
    // Qwen3-MoE and add a shared expert with a sigmoid gate. MTP layers (mtp_num_hidden_layers) are stored apart
    // (mtp.*); Qwen3-Next's config has no key for its one MTP layer, which its checkpoints hold (81,324,862,720
    // parameters counted from the shards against 79.67 B without it).
    private static ModelSpec qwenHybrid(ConfigFields c, String name, List<String> arch, Family family) {
        Core k = core(c, 256);
        int interval = c.positiveOr(4, "full_attention_interval");
        List<String> types = c.strings("layer_types");
        if (!types.isEmpty() && types.size() != k.layers()) {
            throw new InvalidInputException(c.where() + ": 'layer_types' has " + types.size()
                    + " entries but there are " + k.layers() + " layers");
        }
        IntPredicate linear = types.isEmpty() ? i -> (i + 1) % interval != 0 : i -> types.get(i).startsWith("linear");
        GatedDeltaNet g = new GatedDeltaNet(c.positiveOr(16, "linear_num_key_heads"),
                c.positiveOr(32, "linear_num_value_heads"), c.positiveOr(128, "linear_key_head_dim"),
                c.positiveOr(128, "linear_value_head_dim"), c.positiveOr(4, "linear_conv_kernel_dim"),
                family == Family.QWEN3_NEXT, c.text("mamba_ssm_dtype").map("float32"::equals).orElse(false));
        Moe moe = null;
        IntPredicate isMoe = i -> false;
        if (family != Family.QWEN3_5) {
            int experts = c.positiveOr(512, "num_experts");
            moe = new Moe(experts, topK(c, 10, experts), c.positiveOr(512, "moe_intermediate_size"),
                    c.nonNegativeOr(512, "shared_expert_intermediate_size"), true, false, false, false);
            isMoe = qwenMoeLayers(c);
        }
        List<Layer> layers = new ArrayList<>(k.layers());
        for (int i = 0; i < k.layers(); i++) {
            layers.add(new Layer(false, isMoe.test(i), linear.test(i)));
        }
        boolean anyDense = layers.stream().anyMatch(l -> !l.moe());
        Mlp dense = anyDense ? gated(c, act(c, "silu"), false) : null;
        boolean bias = c.bool(false, "attention_bias");
        Attention.Standard attention = new Attention.Standard(k.heads(), k.kvHeads(), k.headDim(), bias, bias, true,
                false, false, c.bool(true, "attn_output_gate"));
        int mtp = c.nonNegativeOr(family == Family.QWEN3_NEXT ? 1 : 0, "mtp_num_hidden_layers",
                "num_nextn_predict_layers");
        return new ModelSpec(name, family, arch, k.hidden(), k.vocab(), k.maxContext(),
                new Embeddings(c.bool(false, "tie_word_embeddings"), 0, 0), attention, dense, moe, unitOffsetNorm(2),
                layers, 0, new Head.CausalLm(), mtp, null, 0.0, g);
    }

    // Unknown model_type with the standard decoder fields: read as a Llama-style decoder.
    private static ModelSpec generic(ConfigFields c, String name, List<String> arch, String modelType) {
        List<String> missing = new ArrayList<>();
        for (String[] field : new String[][] {{"hidden_size", "n_embd", "d_model"},
                {"num_hidden_layers", "n_layer", "num_layers"}, {"num_attention_heads", "n_head", "num_heads"},
                {"intermediate_size", "n_inner", "ffn_dim"}, {"vocab_size", "n_vocab"}}) {
            if (c.optLong(field).isEmpty()) {
                missing.add(field[0]);
            }
        }
        if (!missing.isEmpty()) {
            throw new InvalidInputException(c.where() + ": model_type '" + (modelType.isEmpty() ? "(none)" : modelType)
                    + "' is not supported (supported: " + String.join(", ", Family.modelTypes())
                    + ") and the config lacks the generic decoder fields: " + String.join(", ", missing));
        }
        Core k = core(c, null);
        boolean bias = c.bool(false, "attention_bias");
        Pattern p = pattern(c, k.layers(), window(c, 0), i -> true, i -> false);
        return decoder(name, Family.GENERIC_DECODER, arch, k, standard(k, bias, bias, false, false, false),
                gated(c, act(c, "silu"), c.bool(false, "mlp_bias")), null, preNorm(2), p,
                c.bool(false, "tie_word_embeddings"));
    }

    private static Optional<String> quantization(ConfigFields c) {
        Optional<ConfigFields> q = c.object("quantization_config");
        if (q.isEmpty()) {
            return Optional.empty();
        }
        ConfigFields qc = q.get();
        StringBuilder s = new StringBuilder(qc.text("quant_method").orElse("unknown method"));
        qc.optInt("bits", "w_bit").ifPresent(b -> s.append(", ").append(b).append("-bit"));
        qc.text("fmt").ifPresent(f -> s.append(", ").append(f));
        qc.optInt("group_size", "q_group_size").ifPresent(g -> s.append(", group size ").append(g));
        List<Integer> block = qc.ints("weight_block_size");
        if (!block.isEmpty()) {
            s.append(", block ").append(block.stream().map(String::valueOf).reduce((a, b) -> a + "×" + b).orElse(""));
        }
        if (qc.bool(false, "load_in_4bit")) {
            s.append(", 4-bit ").append(qc.text("bnb_4bit_quant_type").orElse("fp4"));
        }
        if (qc.bool(false, "load_in_8bit")) {
            s.append(", 8-bit");
        }
        return Optional.of(s.toString());
    }

    /**
     * The same model with another {@code architectures} class, e.g. an encoder with a classification head instead of
     * its checkpoint's masked-LM head (the workload key {@code architecture}).
     */
    public static ModelSpec withArchitecture(ModelSpec m, String architecture) {
        Head head = m.head();
        if (m.head() instanceof Head.Encoder enc) {
            ConfigFields none = new ConfigFields(JSON.createObjectNode(), "architecture");
            head = new Head.Encoder(encoderTask(none, List.of(architecture), m.family()), enc.numLabels());
        }
        return new ModelSpec(m.name(), m.family(), List.of(architecture), m.hiddenSize(), m.vocabSize(),
                m.maxContext(), m.embeddings(), m.attention(), m.mlp(), m.moe(), m.norms(), m.layers(),
                m.slidingWindow(), head, m.mtpLayers(), m.vision(), m.dropout(), m.linearAttention());
    }

    static String firstLine(String s) {
        if (s == null) {
            return "parse error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
