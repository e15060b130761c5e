package org.gpuplan.memory;

import java.util.List;
import java.util.Optional;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.model.GgmlType;
import org.gpuplan.model.Layer;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.Term;
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.Method;
import org.gpuplan.workload.QuantFormat;
import org.gpuplan.workload.Workload;

/**
 * Bytes of the model's weights on the GPU, by precision and quantization format, with the modules each library leaves
 * unquantized (embeddings, norms and the LM head are not nn.Linear, or are skipped on purpose).
 */
public final class WeightMemory {

    /** bitsandbytes 4-bit: 0.5 B + fp32 absmax per 64 weights (functional.quantize_4bit, blocksize 64). */
    static final double BNB4_BYTES = 0.5 + 4.0 / 64;
    /** With double quantization: uint8 absmax per 64 + fp32 scale per 256 blocks. */
    static final double BNB4_DQ_BYTES = 0.5 + 1.0 / 64 + 4.0 / (64 * 256);
    /** GPTQ/AWQ 4-bit, group 128: packed int4 + fp16 scale + packed 4-bit zero per group. */
    static final double GPTQ4_BYTES = 0.5 + 2.0 / 128 + 0.5 / 128;

    private WeightMemory() {
    }

    /**
     * vLLM pads MXFP4 expert matrices to the alignment of the MoE kernel it runs them with (vllm
     * model_executor/layers/quantization/mxfp4.py, create_weights): Marlin, the weight-only path of GPUs without native
     * FP4 (before Hopper, or VLLM_MXFP4_USE_MARLIN), pads the intermediate size per partition to 128 and the hidden
     * size to 256 (gpt-oss: 2,880 × 2,880 → 2,944 × 3,072, 9 % more expert bytes); FlashInfer (Blackwell) both to
     * 256; triton_kernels (Hopper) the intermediate size to 64. The factor by which routed-expert bytes grow.
     */
    public static double vllmMxfp4ExpertPadding(ModelSpec m, Workload w, Optional<Gpu> gpu) {
        if (w.framework() != Framework.VLLM || w.quant() != QuantFormat.MXFP4 || m.moe() == null || gpu.isEmpty()
                || !"NVIDIA".equalsIgnoreCase(gpu.get().vendor())) {
            return 1;
        }
        org.gpuplan.workload.Mxfp4Backend backend = w.mxfp4Backend().resolve(gpu.get().computeMajor());
        org.gpuplan.workload.Parallelism par = w.parallelism();
        // expert parallelism keeps whole experts on a rank; tensor parallelism splits each expert's intermediate size
        long inter = m.moe().expertIntermediateSize();
        long perPartition = par.ep() > 1 ? inter : (inter + par.tp() - 1) / par.tp();
        long h = m.hiddenSize();
        return (double) roundUp(perPartition, backend.intermediateMultiple()) * roundUp(h, backend.hiddenMultiple())
                / ((double) perPartition * h);
    }

    private static long roundUp(long x, long multiple) {
        return (x + multiple - 1) / multiple * multiple;
    }

    /** Bytes of the routed experts in MXFP4 (4.25 bits per weight), 0 for other formats. */
    public static long mxfp4ExpertBytes(ModelSpec m) {
        long experts = LinearModules.of(m).stream().filter(LinearModule::expert).mapToLong(LinearModule::parameters)
                .sum();
        return Bytes.ceil(experts * GgmlType.MXFP4.bitsPerWeight() / 8);
    }

    /** The weights term: quantized Linear part plus everything left in its storage dtype. */
    public static Term weights(ModelSpec m, ParameterBreakdown p, Workload w) {
        long total = p.totalCount();
        long linear = LinearModules.linearParameters(m);
        int store = w.precision().weightBytes();
        QuantFormat q = w.quant();
        if (q == QuantFormat.NONE && w.framework() == Framework.LLAMA_CPP) {
            long embed = p.count("embeddings");
            long norms = p.count("norms");
            // a tied model's token embeddings also serve as the output matrix, which is offloaded
            long onGpu = m.embeddings().tied() ? total - norms : total - embed - norms;
            long value = Math.multiplyExact(onGpu, (long) store) + norms * 4;
            return new Term("weights", "weights", value,
                    () -> "(P − " + (m.embeddings().tied() ? "" : "token embeddings − ") + "norms) × " + store
                    + " B + norms × 4 B (F32) = " + onGpu + " × " + store + " + " + norms + " × 4; "
                    + (m.embeddings().tied() ? "llama.cpp keeps the token embeddings in host memory and loads their "
                    + "copy as the output matrix on the GPU (tied)" : "llama.cpp keeps the token-embedding matrix in "
                    + "host memory"));
        }
        if (q == QuantFormat.NONE) {
            return new Term("weights", "weights", Math.multiplyExact(total, (long) store),
                    () -> "P × " + store + " B = " + total + " × " + store + " (" + w.precision().key() + " weights)");
        }
        if (q == QuantFormat.MXFP4) {
            // gpt-oss checkpoints: routed-expert weights in MXFP4 (32 values + an e8m0 scale: 4.25 bits), the rest in
            // 16-bit
            long experts = LinearModules.of(m).stream().filter(LinearModule::expert)
                    .mapToLong(LinearModule::parameters).sum();
            if (w.framework() == Framework.LLAMA_CPP) {
                // ggml-org's gpt-oss GGUFs (file type MXFP4 MoE: "f32 289, q8_0 98, mxfp4 72 tensors" for the 20B):
                // expert matrices MXFP4, the other matrices (attention, output) Q8_0, and every vector and the router
                // F32 (the converter's rule for 1-D tensors and ffn_gate_inp); token embeddings on the host
                long embed = m.embeddings().tied() ? 0 : p.count("embeddings");
                long matrices = LinearModules.of(m).stream().filter(lm -> !lm.expert()
                        && GgufTypes.category(lm) != GgufTypes.Category.ROUTER)
                        .mapToLong(LinearModule::parameters).sum() + p.count("lm_head");
                long f32 = total - experts - matrices - embed;
                long value = Bytes.ceil(experts * GgmlType.MXFP4.bitsPerWeight() / 8)
                        + Bytes.ceil(matrices * GgmlType.Q8_0.bitsPerWeight() / 8) + f32 * 4;
                return new Term("weights", "weights", value, () -> "expert matrices × 4.25 bits (MXFP4) + attention "
                        + "and output matrices × 8.5 bits (Q8_0) + router, biases, sinks and norms × 4 B (F32) = "
                        + experts + " × 4.25/8 + " + matrices + " × 8.5/8 + " + f32 + " × 4 (ggml-org's MXFP4 GGUF; "
                        + "a file keeping those matrices in F16 holds about 0.88 B more per parameter); llama.cpp "
                        + "keeps the token-embedding matrix in host memory");
            }
            long others = total - experts;
            long value = Bytes.ceil(experts * GgmlType.MXFP4.bitsPerWeight() / 8) + others * 2;
            return new Term("weights", "weights", value, () -> "routed experts × 4.25 bits (MXFP4: 32 weights + an 8-bit "
                    + "scale) + other parameters × 2 B = " + experts + " × 4.25/8 + " + others + " × 2");
        }
        if (q.isGguf()) {
            return gguf(m, p, w);
        }
        int restBytes = unquantizedBytes(w);
        double perLinear = quantizedBytes(m, w);
        // bitsandbytes replaces nn.Linear modules only: fused expert tensors stay in 16-bit
        long quantized = bitsAndBytes(q) ? LinearModules.nnLinearParameters(m) : linear;
        long kept = total - quantized;
        long value = Bytes.ceil(quantized * perLinear) + Math.multiplyExact(kept, (long) restBytes);
        String fmt = String.format(java.util.Locale.ROOT, "%.4f", perLinear);
        return new Term("weights", "weights", value, () -> "Linear params × " + fmt + " B (" + q.key()
                + (q.isBitsAndBytes4bit() && w.doubleQuant() ? ", double quantization" : "") + ") + other params × "
                + restBytes + " B = " + quantized + " × " + fmt + " + " + kept + " × " + restBytes
                + (restBytes == 4 ? " (k-bit training upcasts non-quantized parameters to fp32)" : "")
                + (quantized < linear ? "; fused expert tensors (" + (linear - quantized) + " params) are "
                + "nn.Parameters, not nn.Linear, so bitsandbytes leaves them unquantized" : "")
                + (w.framework() == Framework.TORCHTUNE && w.training()
                ? "; torchtune quantizes every Linear of the layers (FrozenNF4Linear where no adapter), the embeddings, "
                + "norms and output projection stay in the model dtype" : "; embeddings, norms and the LM head stay "
                + "unquantized"));
    }

    /**
     * What bitsandbytes would leave unquantized under transformers 5, which stores the routed experts of MoE models
     * (Mixtral, Qwen-MoE, DeepSeek, GLM, Qwen3-Next, ...) as fused 3D nn.Parameters instead of nn.Linear modules: the
     * extra bytes of keeping those experts at the non-quantized parameters' width (fp32 after k-bit preparation)
     * instead of quantized. 0 unless bitsandbytes quantizes experts that the model lists as Linear modules.
     */
    public static long fusedExpertsExtraBytes(ModelSpec m, Workload w) {
        if (!bitsAndBytes(w.quant()) || w.framework() == Framework.TORCHTUNE) {
            return 0;
        }
        long experts = LinearModules.of(m).stream().filter(lm -> lm.expert() && !lm.fusedParameter())
                .mapToLong(LinearModule::parameters).sum();
        return Bytes.ceil(experts * (unquantizedBytes(w) - quantizedBytes(m, w)));
    }

    /**
     * Bytes per parameter of one Linear module's weight as {@link #weights} counts it: the storage dtype unquantized;
     * the format's bytes with its scales when quantized (bitsandbytes only replaces nn.Linear: fused expert tensors
     * keep the width of the parameters it leaves alone); MXFP4 for gpt-oss's routed experts.
     */
    static double linearBytes(ModelSpec m, Workload w, LinearModule lm) {
        QuantFormat q = w.quant();
        if (q == QuantFormat.NONE || q.isGguf()) {
            return w.precision().weightBytes();
        }
        if (q == QuantFormat.MXFP4) {
            return lm.expert() ? GgmlType.MXFP4.bitsPerWeight() / 8 : 2;
        }
        return bitsAndBytes(q) && lm.fusedParameter() ? unquantizedBytes(w) : quantizedBytes(m, w);
    }

    /** Bytes per parameter of everything but the Linear weights (embeddings, norms, head), as {@link #weights}. */
    static int otherBytes(Workload w) {
        return w.quant() == QuantFormat.NONE || w.quant().isGguf() ? w.precision().weightBytes()
                : unquantizedBytes(w);
    }

    /** bitsandbytes formats: they replace nn.Linear modules (and nothing else) when the model loads. */
    static boolean bitsAndBytes(QuantFormat q) {
        return q == QuantFormat.NF4 || q == QuantFormat.FP4 || q == QuantFormat.INT8;
    }

    /** Bytes per parameter of a quantized Linear weight with its scales, zeros and absmax. */
    private static double quantizedBytes(ModelSpec m, Workload w) {
        QuantFormat q = w.quant();
        return switch (q) {
            case NF4, FP4 -> w.doubleQuant() ? BNB4_DQ_BYTES : BNB4_BYTES;
            case INT8 -> 1.0 + 4.0 / Math.max(1, m.hiddenSize()); // int8 + fp32 scale per output row
            case GPTQ_4BIT, AWQ_4BIT -> GPTQ4_BYTES;
            case FP8 -> 1.0;
            default -> throw new IllegalStateException(q.name());
        };
    }

    /** Bytes per parameter the quantizer leaves alone: fp32 after k-bit preparation, else at most 16-bit. */
    private static int unquantizedBytes(Workload w) {
        return kbitUpcast(w) ? 4 : Math.min(w.precision().weightBytes(), 2);
    }

    /**
     * QLoRA with PEFT: prepare_model_for_kbit_training casts every non-quantized parameter (embeddings, norms, LM head)
     * to fp32, and with the embeddings the residual stream; torchtune keeps them in the model dtype.
     */
    static boolean kbitUpcast(Workload w) {
        return w.training() && w.method() == Method.QLORA && w.framework() != Framework.TORCHTUNE;
    }

    /**
     * llama.cpp file types: Linear weights in the base block type; the output matrix in Q6_K (Q8_0 for Q8_0 files);
     * "_M" mixes store attn_v and ffn_down of about a third of the layers in Q6_K (use_more_bits); norms in F32.
     * With all layers offloaded the token-embedding matrix stays in host memory, so it is not counted on the GPU.
     */
    static Term gguf(ModelSpec m, ParameterBreakdown p, Workload w) {
        QuantFormat q = w.quant();
        GgmlType base = q.ggufBaseType().orElseThrow();
        LayerBits lb = layerBits(m, w);
        GgmlType out = outputType(m, q);
        double bits = lb.total();
        long embed = p.count("embeddings");
        long head = p.count("lm_head");
        long norms = p.count("norms");
        bits += head * out.bitsPerWeight() + norms * 32.0;
        boolean onGpuEmbedding = w.framework() != Framework.LLAMA_CPP;
        // a tied model has no output tensor: llama_tensor_get_type gives token_embd the output's type, and llama.cpp
        // loads it a second time as the (offloaded) output matrix
        boolean tied = m.embeddings().tied();
        if (onGpuEmbedding || tied) {
            bits += embed * (tied ? out : base).bitsPerWeight();
        }
        long value = Bytes.ceil(bits / 8);
        String mix = lb.mix();
        return new Term("weights", "weights", value, () -> "GGUF " + q.key() + ": matrices in " + base + " ("
                + base.bitsPerWeight() + " bits)" + mix + ", output matrix in " + out + ", norms F32"
                + (tied ? ", tied token embeddings in " + out + (onGpuEmbedding ? "" : " (host) and their copy as "
                + "the output matrix on the GPU") : onGpuEmbedding ? ", token embeddings in " + base
                : ", token embeddings kept in host memory by llama.cpp") + " (llama.cpp llama_tensor_get_type)");
    }

    /** The output matrix's type: Q6_K (Q8_0 for Q8_0 and MXFP4 files, or when its width is not 256-divisible). */
    private static GgmlType outputType(ModelSpec m, QuantFormat q) {
        if (q == QuantFormat.Q8_0 || q == QuantFormat.MXFP4 || m.hiddenSize() % GgmlType.Q6_K.blockSize() != 0) {
            return GgmlType.Q8_0;
        }
        return GgmlType.Q6_K;
    }

    /**
     * The bits of each layer's matrices as llama.cpp stores them: {@code dense[i]} for everything but the routed
     * experts, {@code experts[i]} for those (with their biases, named like them); {@code mix} says which tensors the
     * file type's mix stores apart.
     */
    record LayerBits(double[] dense, double[] experts, String mix) {
        double total() {
            double t = 0;
            for (int i = 0; i < dense.length; i++) {
                t += dense[i] + experts[i];
            }
            return t;
        }
    }

    static LayerBits layerBits(ModelSpec m, Workload w) {
        int n = m.numLayers();
        QuantFormat q = w.quant();
        Optional<GgmlType> gguf = q.ggufBaseType();
        List<Layer> ls = m.layers();
        int moeLayers = (int) ls.stream().filter(Layer::moe).count();
        int attentionLayers = (int) ls.stream().filter(l -> !l.linearAttention()).count();
        int linearLayers = n - attentionLayers;
        int[] attentionIndex = new int[n];
        for (int i = 0, a = 0; i < n; i++) {
            attentionIndex[i] = a;
            if (!ls.get(i).linearAttention()) {
                a++;
            }
        }
        GgufTypes.Context c = GgufTypes.Context.of(m);
        double[] dense = new double[n];
        double[] experts = new double[n];
        java.util.Map<String, Long> raised = new java.util.TreeMap<>();
        for (LinearModule lm : LinearModules.of(m)) {
            boolean routed = lm.expert() && moeLayers > 0;
            // the layers that hold this module, told apart by how many instances the model has
            java.util.function.IntPredicate holds = routed ? i -> ls.get(i).moe()
                    : lm.count() == n ? i -> true
                    : lm.count() == attentionLayers && linearLayers > 0 ? i -> !ls.get(i).linearAttention()
                    : lm.count() == linearLayers && linearLayers > 0 ? i -> ls.get(i).linearAttention()
                    : lm.count() == moeLayers && moeLayers > 0 ? i -> ls.get(i).moe()
                    : lm.count() == n - moeLayers && moeLayers > 0 ? i -> !ls.get(i).moe()
                    : i -> true;
            int holders = (int) java.util.stream.IntStream.range(0, n).filter(holds).count();
            double perLayer = lm.parameters() / (double) Math.max(1, holders);
            for (int i = 0; i < n; i++) {
                if (!holds.test(i)) {
                    continue;
                }
                GgmlType t;
                if (gguf.isPresent()) {
                    t = GgufTypes.type(q, gguf.get(), lm, i, attentionIndex[i], c);
                    if (t != gguf.get() && GgufTypes.category(lm) != GgufTypes.Category.ROUTER) {
                        raised.merge(lm.name() + " " + t, 1L, Long::sum);
                    }
                } else if (q == QuantFormat.MXFP4) {
                    // ggml-org's MXFP4 MoE files: experts MXFP4, the router F32, other matrices Q8_0
                    t = routed ? GgmlType.MXFP4 : GgufTypes.category(lm) == GgufTypes.Category.ROUTER ? GgmlType.F32
                            : GgmlType.Q8_0;
                } else {
                    t = w.precision().weightBytes() == 4 ? GgmlType.F32 : GgmlType.F16;
                }
                if (routed) {
                    experts[i] += perLayer * t.bitsPerWeight();
                } else {
                    dense[i] += perLayer * t.bitsPerWeight();
                }
            }
        }
        StringBuilder mix = new StringBuilder();
        raised.forEach((k, v) -> mix.append(mix.length() == 0 ? "; " : ", ").append(k.replace(" ", " in ")).append(" in ")
                .append(v).append(" layers"));
        return new LayerBits(dense, experts, mix.toString());
    }

    /**
     * Where llama.cpp's weights live when only the last {@code n - from} repeating layers are offloaded (-ngl below the
     * layer count + 1) and the routed experts of the first {@code cpuMoe} layers are kept in host memory (--n-cpu-moe):
     * the output layer (norm and matrix; a tied model's copy of the embeddings) stays in host memory with the first
     * {@code from} layers. {@code total} is the all-offloaded GPU figure ({@link #weights}); each layer takes its share
     * by its bits — the "_M" mixes' Q6_K layers weigh more (llama.cpp use_more_bits), routed experts count in the MoE
     * layers only (other modules spread evenly over the layers).
     *
     * @param gpu               bytes on the GPU
     * @param host              bytes in host memory (besides the token embeddings, always there)
     * @param outputMatrix      the output matrix's bytes (copied to the GPU for batched matmuls when it stays on the
     *                          host), 0 when the output layer is offloaded
     * @param largestHostMatrix the largest host tensor of a layer (copied likewise; a layer's experts are one tensor)
     */
    public record LlamaCppSplit(long gpu, long host, long outputMatrix, long largestHostMatrix) {
    }

    public static LlamaCppSplit llamaCppSplit(ModelSpec m, ParameterBreakdown p, Workload w, long total, int from,
                                              int cpuMoe, boolean outputOnGpu) {
        int n = m.numLayers();
        LayerBits lb = layerBits(m, w);
        double[] dense = lb.dense();
        double[] expertBits = lb.experts().clone();
        // expert biases (gpt-oss) are F32 tensors named like the experts, so they move with them
        long moeLayers = m.layers().stream().filter(Layer::moe).count();
        long expertLinear = LinearModules.of(m).stream().filter(LinearModule::expert)
                .mapToLong(LinearModule::parameters).sum();
        long expertBiases = moeLayers > 0 ? Math.max(0, p.count("experts") - expertLinear) : 0;
        for (int i = 0; i < n; i++) {
            if (moeLayers > 0 && m.layers().get(i).moe()) {
                expertBits[i] += expertBiases * 32.0 / moeLayers;
            }
        }
        // the largest host tensor a batched matmul copies: a layer's matrix at the layer's widest average type, or
        // one of a layer's three expert tensors (gate, up and down, stored apart)
        double largestExperts = 0;
        for (int i = 0; i < n; i++) {
            largestExperts = Math.max(largestExperts, lb.experts()[i] / 8 / 3);
        }
        double largestLayerMatrix = 0;
        if (from > 0) {
            long perLayerParams = LinearModules.of(m).stream().filter(lm -> !lm.expert())
                    .mapToLong(LinearModule::parameters).sum() / Math.max(1, n);
            double widest = 0;
            for (double d : dense) {
                widest = Math.max(widest, perLayerParams == 0 ? 0 : d / perLayerParams);
            }
            for (LinearModule lm : LinearModules.of(m)) {
                if (!lm.expert()) {
                    largestLayerMatrix = Math.max(largestLayerMatrix, (double) lm.in() * lm.out() * widest / 8);
                }
            }
        }
        QuantFormat q = w.quant();
        GgmlType out = q.ggufBaseType().isPresent() || q == QuantFormat.MXFP4 ? outputType(m, q)
                : w.precision().weightBytes() == 4 ? GgmlType.F32 : GgmlType.F16;
        long outputMatrix = Bytes.ceil((m.embeddings().tied() ? p.count("embeddings") : p.count("lm_head"))
                * out.bitsPerWeight() / 8);
        long output = outputMatrix + 4L * m.hiddenSize(); // the output norm in F32
        long layers = Math.max(0, total - output);
        // what the matrices do not account for (norms, biases, sinks) is spread evenly over the layers
        double matrices = 0;
        for (int i = 0; i < n; i++) {
            matrices += dense[i] + expertBits[i];
        }
        double vectorsPerLayer = Math.max(0, layers * 8.0 - matrices) / n;
        double all = 0;
        double onGpu = 0;
        for (int i = 0; i < n; i++) {
            all += dense[i] + vectorsPerLayer + expertBits[i];
            if (i >= from) {
                onGpu += dense[i] + vectorsPerLayer + (i >= cpuMoe ? expertBits[i] : 0);
            }
        }
        long gpu = (all > 0 ? Math.round(layers * (onGpu / all)) : 0) + (outputOnGpu ? output : 0);
        double hostTensor = Math.max(from > 0 ? Math.max(largestLayerMatrix, largestExperts) : 0,
                cpuMoe > 0 ? largestExperts : 0);
        return new LlamaCppSplit(gpu, total - gpu, outputOnGpu ? 0 : outputMatrix, Bytes.ceil(hostTensor));
    }

}
