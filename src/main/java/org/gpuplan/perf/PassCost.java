package org.gpuplan.perf;

import org.gpuplan.model.Layer;
import org.gpuplan.model.ModelSpec;

/**
 * The forward pass of all layers (not the LM head) over {@code tokens} tokens on one rank, by kind of kernel.
 *
 * @param gemmS        projection and MLP/expert GEMM time
 * @param attentionS   attention-core time (QKᵀ, softmax, AV)
 * @param elementwiseS norms, residual adds, activation, rotary (traffic plus each kernel's launch floor)
 * @param elementwiseLaunchS the launch-floor share of elementwiseS
 * @param gemmFlops    GEMM FLOPs (per rank)
 * @param attentionFlops attention-core FLOPs (per rank)
 * @param bytes        bytes moved to and from memory
 * @param kernels      kernels launched
 * @param activationElements GEMM input and output elements (what FP8 training casts)
 * @param weightElements weight elements the GEMMs read
 */
record PassCost(double gemmS, double attentionS, double elementwiseS, double elementwiseLaunchS, double gemmFlops,
                double attentionFlops, double bytes, long kernels, double activationElements, double weightElements) {

    double timeS() {
        return gemmS + attentionS + elementwiseS;
    }

    double flops() {
        return gemmFlops + attentionFlops;
    }

    /**
     * Forward over the model's layers on one rank.
     *
     * @param tokens         tokens in the batch (all sequences together)
     * @param keysPerQuery   mean keys each query attends to (causal prefill: (s+1)/2; decode: the context)
     * @param windowKeys     the same for sliding-window layers
     * @param kvBytesRead    KV-cache bytes the attention reads per layer (decode), 0 when it reads fresh K/V
     * @param weightBytes    bytes per stored weight (2 for 16-bit, ~0.53 for 4-bit with scales)
     * @param actBytes       bytes per activation element
     * @param fusedElementwise fused elementwise kernels (Megatron/TE, serving engines, torch.compile), else eager
     * @param dequantInstr   CUDA-core instructions to dequantize one weight of a weight-only format (0 when none)
     */
    static PassCost forward(ModelSpec m, Roofline r, double tokens, double keysPerQuery, double windowKeys,
                            double kvBytesRead, int tp, int ep, double weightBytes, double actBytes,
                            boolean fusedElementwise, double dequantInstr) {
        return forward(m, r, tokens, keysPerQuery, windowKeys, kvBytesRead, tp, ep, weightBytes, actBytes,
                fusedElementwise, dequantInstr, 1);
    }

    /**
     * As above, with each GEMM split into {@code rowChunks} pieces along the tokens: tensor-parallel communication
     * overlap (Megatron's userbuffers ring exchange, PyTorch async TP) pipelines every TP GEMM in tp chunks so that
     * one chunk's transfer hides behind another's matmul; each chunk is a smaller, less efficient GEMM.
     */
    static PassCost forward(ModelSpec m, Roofline r, double tokens, double keysPerQuery, double windowKeys,
                            double kvBytesRead, int tp, int ep, double weightBytes, double actBytes,
                            boolean fusedElementwise, double dequantInstr, int rowChunks) {
        double gemmS = 0, attS = 0, eltS = 0, launchS = 0, gemmF = 0, attF = 0, bytes = 0, actElems = 0, weightElems = 0;
        long kernels = 0;
        double width = LayerShapes.attentionWidth(m) / (double) tp;
        // layers come in few kinds (dense/MoE × full/sliding/linear attention): cost each kind once, weight by its
        // count (eight kinds at most; counted in order of first appearance, without hashing)
        Layer[] kindLayer = new Layer[8];
        int[] kindCount = new int[8];
        int[] order = new int[8];
        int kindsSeen = 0;
        for (Layer layer : m.layers()) {
            int kind = (layer.slidingWindow() ? 1 : 0) + (layer.moe() ? 2 : 0) + (layer.linearAttention() ? 4 : 0);
            if (kindCount[kind]++ == 0) {
                kindLayer[kind] = layer;
                order[kindsSeen++] = kind;
            }
        }
        for (int ki = 0; ki < kindsSeen; ki++) {
            Layer layer = kindLayer[order[ki]];
            int times = kindCount[order[ki]];
            double gemmS0 = gemmS, attS0 = attS, eltS0 = eltS, launch0 = launchS, gemmF0 = gemmF, attF0 = attF, bytes0 = bytes;
            double act0 = actElems, w0 = weightElems;
            long k0 = kernels;
            boolean linear = layer.linearAttention() && m.linearAttention() != null;
            for (Gemm g : concat(linear ? LayerShapes.linearAttentionProjections(m)
                    : LayerShapes.attentionProjections(m), LayerShapes.feedForward(m, layer))) {
                boolean expert = g.stored() > 1;
                // column/row parallel: one side of every projection is split across tp (experts: across ep, then tp)
                double in = g.in(), out = g.out();
                if (g.name().endsWith("down") || g.name().equals("o_proj")) {
                    in = Math.max(1, in / tp);
                } else if (!g.name().equals("router") && !g.name().startsWith("q_a") && !g.name().startsWith("kv_a")) {
                    out = Math.max(1, out / tp);
                }
                double storedHere = expert ? Math.max(1.0, (double) g.stored() / ep) : 1;
                boolean tpSplit = !expert && !g.name().equals("router") && !g.name().startsWith("q_a")
                        && !g.name().startsWith("kv_a");
                double rowsPerMatrix = expert ? tokens * g.count() * ep / g.stored()
                        : tpSplit ? tokens / rowChunks : tokens;
                double flops = tokens * 2 * in * out * g.count();
                // an expert's weights are read only if a token reaches it: E/ep·(1 − e^(−rows per expert))
                double touched = expert ? storedHere * (1 - Math.exp(-rowsPerMatrix)) : 1;
                double wBytes = touched * in * out * weightBytes;
                double aBytes = tokens * g.count() * (in + out) * actBytes;
                double t = r.gemm(flops, rowsPerMatrix, in, out, wBytes + aBytes, touched * in * out, dequantInstr);
                gemmS += t;
                actElems += tokens * g.count() * (in + out);
                weightElems += touched * in * out;
                gemmF += flops;
                bytes += wBytes + aBytes;
                kernels += expert ? 2 : 1;
            }
            double keys = layer.slidingWindow() ? windowKeys : keysPerQuery;
            double af = linear ? tokens * LayerShapes.linearMixFlopsPerToken(m) / tp : tokens * keys * 2 * width;
            // a linear layer reads and writes its recurrent state once per decoded token instead of a KV cache
            double stateBytes = linear ? 2.0 * m.linearAttention().recurrentStateElements() * 4 / tp : 0;
            double freshKv = linear ? (kvBytesRead > 0 ? tokens * stateBytes : tokens * width * actBytes)
                    : kvBytesRead > 0 ? kvBytesRead / tp : tokens * width * actBytes;
            attS += r.attention(af, freshKv);
            attF += af;
            bytes += freshKv;
            double eBytes = tokens * LayerShapes.elementwiseBytes(m, layer, fusedElementwise) / tp * actBytes / 2;
            // eager: about 24 kernels per Llama-style block (an RMSNorm is six ops), 8 more per extra RMSNorm (q/k norms,
            // sandwich norms); a LayerNorm block runs each norm as one kernel (native_layer_norm) and no rotary: about
            // 14 (the PyTorch profiler counts about 19 per GPT-2 decode layer with its 4 GEMMs and attention)
            int extraNorms = Math.max(0, m.norms().perLayer() - 2) + (m.attention() instanceof
                    org.gpuplan.model.Attention.Standard st && st.qkNorm() ? 2 : 0);
            boolean layerNorm = m.norms().kind() == org.gpuplan.model.NormKind.LAYER_NORM;
            boolean geluNew = LayerShapes.eagerActivationBytes(m) == 36;
            int eltKernels = fusedElementwise ? 4 : layerNorm ? (geluNew ? 14 : 8) : 24 + 8 * extraNorms;
            // small elementwise kernels pay their launch floor on top of their traffic: profiled HF layers on an
            // H200 spent about 2 µs per kernel beyond bytes / bandwidth
            eltS += r.memory(eBytes) + r.kernelGapS() * eltKernels;
            launchS += r.kernelGapS() * eltKernels;
            bytes += eBytes;
            kernels += 1 + eltKernels;
            // the other layers of this kind cost the same
            gemmS += (gemmS - gemmS0) * (times - 1);
            attS += (attS - attS0) * (times - 1);
            eltS += (eltS - eltS0) * (times - 1);
            launchS += (launchS - launch0) * (times - 1);
            gemmF += (gemmF - gemmF0) * (times - 1);
            attF += (attF - attF0) * (times - 1);
            bytes += (bytes - bytes0) * (times - 1);
            actElems += (actElems - act0) * (times - 1);
            weightElems += (weightElems - w0) * (times - 1);
            kernels += (kernels - k0) * (times - 1);
        }
        return new PassCost(gemmS, attS, eltS, launchS, gemmF, attF, bytes, kernels, actElems, weightElems);
    }

    private static java.util.List<Gemm> concat(java.util.List<Gemm> a, java.util.List<Gemm> b) {
        java.util.List<Gemm> out = new java.util.ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    /** The LM head over {@code tokens} tokens (vocabulary split across tp). */
    static double lmHead(ModelSpec m, Roofline r, double tokens, int tp, double weightBytes, double actBytes) {
        Gemm g = LayerShapes.lmHead(m);
        double out = Math.max(1, (double) g.out() / tp);
        double flops = tokens * 2 * g.in() * out;
        return r.gemm(flops, tokens, g.in(), out, g.in() * out * weightBytes + tokens * (g.in() + out) * actBytes);
    }

    static double lmHeadFlops(ModelSpec m, double tokens) {
        return tokens * LayerShapes.lmHead(m).flopsPerToken();
    }
}
