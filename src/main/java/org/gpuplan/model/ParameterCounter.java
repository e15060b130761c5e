package org.gpuplan.model;

import java.util.ArrayList;
import java.util.List;

/**
 * Counts parameters exactly from a {@link ModelSpec}, one function per term. The formulas follow the module
 * definitions of HuggingFace transformers ({@code modeling_<family>.py}); notation: L layers, h hidden size, V vocab,
 * a query heads, kv key/value heads, d head_dim, f intermediate size, E experts, k experts per token.
 */
public final class ParameterCounter {

    private ParameterCounter() {
    }

    public static ParameterBreakdown count(ModelSpec m) {
        List<Term> terms = new ArrayList<>();
        terms.add(embeddings(m));
        terms.add(attention(m));
        if (m.numLayers() - m.moeLayerCount() > 0) {
            terms.add(denseMlp(m));
        }
        if (m.isMoe()) {
            terms.add(router(m));
            terms.add(routedExperts(m));
            if (m.moe().sharedIntermediateSize() > 0) {
                terms.add(sharedExperts(m));
            }
        }
        terms.add(norms(m));
        if (m.vision() != null) {
            terms.add(vision(m.vision()));
        }
        if (m.head() instanceof Head.Encoder enc) {
            terms.addAll(encoderHeads(m, enc));
        } else {
            terms.add(lmHead(m));
        }
        long total = 0;
        for (Term t : terms) {
            total = Math.addExact(total, t.value());
        }
        Term totalTerm = new Term("total", "total", total, "sum of the terms above");
        Term active = active(m, total);
        long embeddingsValue = terms.get(0).value();
        Term activeNonEmbedding = new Term("active_non_embedding", "active (non-embedding)",
                active.value() - embeddingsValue, () -> "active − embeddings (" + embeddingsValue + ")");
        return new ParameterBreakdown(terms, totalTerm, active, activeNonEmbedding, mtp(m));
    }

    // V·h + P·h + T·h: token table, learned absolute positions (GPT-2, BERT), token types (BERT).
    static Term embeddings(ModelSpec m) {
        long h = m.hiddenSize();
        Embeddings e = m.embeddings();
        long value = mul(m.vocabSize(), h) + mul(e.learnedPositions(), h) + mul(e.tokenTypes(), h);
        // formulas are built only when a report prints them: the planner counts parameters for every candidate
        return new Term("embeddings", "embeddings", value, () -> {
            StringBuilder f = new StringBuilder("V·h = " + m.vocabSize() + "·" + h);
            if (e.learnedPositions() > 0) {
                f.append(" + positions·h = ").append(e.learnedPositions()).append("·").append(h);
            }
            if (e.tokenTypes() > 0) {
                f.append(" + token_types·h = ").append(e.tokenTypes()).append("·").append(h);
            }
            return f.toString();
        });
    }

    static Term attention(ModelSpec m) {
        long perLayer = attentionPerLayer(m.attention(), m.hiddenSize());
        long full = m.attentionLayerCount();
        long linear = m.linearLayerCount();
        if (linear == 0) {
            return new Term("attention", "attention", mul(full, perLayer),
                    () -> "L × per-layer = " + full + " × " + perLayer + "; per layer "
                            + attentionFormula(m.attention(), m.hiddenSize()));
        }
        long perLinear = linearAttentionPerLayer(m.linearAttention(), m.hiddenSize());
        return new Term("attention", "attention", mul(full, perLayer) + mul(linear, perLinear),
                () -> full + " attention layers × " + perLayer + " (" + attentionFormula(m.attention(), m.hiddenSize())
                        + ") + " + linear + " Gated DeltaNet layers × " + perLinear + " (q, k: h·" + "kd each, v, z: "
                        + "h·vd each, b, a: h·nv each, conv (2kd + vd)·kernel, dt_bias and A_log nv each, gated norm "
                        + "dv, out vd·h; kd = " + m.linearAttention().keyDim() + ", vd = "
                        + m.linearAttention().valueDim() + ", nv = " + m.linearAttention().numValueHeads() + ")");
    }

    /** Parameters of one Gated DeltaNet layer's token mixer (Qwen3NextGatedDeltaNet). */
    public static long linearAttentionPerLayer(GatedDeltaNet g, long h) {
        long projections = mul(h, 2 * g.keyDim() + 2 * g.valueDim()) + mul(h, 2L * g.numValueHeads());
        long conv = mul(g.convDim(), g.convKernel());
        return projections + conv + 2L * g.numValueHeads() + g.valueHeadDim() + mul(g.valueDim(), h);
    }

    /** Parameters of one attention block, including its internal norms and biases. */
    public static long attentionPerLayer(Attention attention, long h) {
        if (attention instanceof Attention.Latent l) {
            return latentAttention(l, h);
        }
        return standardAttention((Attention.Standard) attention, h);
    }

    // q: h·(a·d) (twice with an output gate), k and v: h·(kv·d) each, o: (a·d)·h; + biases, q/k norms (d each),
    // sinks (a).
    private static long standardAttention(Attention.Standard s, long h) {
        long q = (long) s.numHeads() * s.headDim();
        long kv = (long) s.numKvHeads() * s.headDim();
        long value = mul(h, s.outputGate() ? 2 * q : q) + 2 * mul(h, kv) + mul(q, h);
        if (s.qkvBias()) {
            value += q + 2 * kv;
        }
        if (s.outputBias()) {
            value += h;
        }
        value += s.qkNormParameters();
        if (s.sinks()) {
            value += s.numHeads();
        }
        return value;
    }

    // DeepSeek MLA: q_a h·qr + q_a_norm qr + q_b qr·a·(dn+dr) | q h·a·(dn+dr);
    // kv_a h·(kvr+dr) + kv_a_norm kvr + kv_b kvr·a·(dn+dv) + o a·dv·h.
    private static long latentAttention(Attention.Latent l, long h) {
        long a = l.numHeads();
        long qOut = mul(a, l.qkHeadDim());
        long q = l.qLoraRank() > 0 ? mul(h, l.qLoraRank()) + l.qLoraRank() + mul(l.qLoraRank(), qOut) : mul(h, qOut);
        long kv = mul(h, l.kvLoraRank() + l.qkRopeHeadDim()) + l.kvLoraRank()
                + mul(l.kvLoraRank(), mul(a, l.qkNopeHeadDim() + l.vHeadDim()));
        long o = mul(mul(a, l.vHeadDim()), h);
        return q + kv + o + indexer(l, h);
    }

    /**
     * The part of one attention block that tensor parallelism replicates instead of splitting: MLA's down-projections
     * and their norms (q_a_proj, kv_a_proj_with_mqa: ReplicatedLinear in vLLM's deepseek_v2.py, "duplicated" in
     * Megatron's MLA); standard attention splits every projection.
     */
    public static long attentionReplicatedPerLayer(Attention attention, long h) {
        if (!(attention instanceof Attention.Latent l)) {
            return 0;
        }
        long q = l.qLoraRank() > 0 ? mul(h, l.qLoraRank()) + l.qLoraRank() : 0;
        return q + mul(h, l.kvLoraRank() + l.qkRopeHeadDim()) + l.kvLoraRank() + indexer(l, h);
    }

    // DeepSeek-V3.2's lightning indexer: wq_b qr·ni·di + wk h·di + LayerNorm 2·di + weights_proj h·ni (vLLM keeps
    // all of it replicated: ReplicatedLinear)
    private static long indexer(Attention.Latent l, long h) {
        return l.hasIndexer() ? mul(Math.max(l.qLoraRank(), 1), mul(l.indexHeads(), l.indexHeadDim()))
                + mul(h, l.indexHeadDim()) + 2L * l.indexHeadDim() + mul(h, l.indexHeads()) : 0;
    }

    private static String attentionFormula(Attention attention, long h) {
        if (attention instanceof Attention.Standard s) {
                String f = (s.outputGate() ? "h·(2·a·d) (queries and output gate)" : "h·(a·d)")
                        + " + 2·h·(kv·d) + (a·d)·h with h=" + h + ", a=" + s.numHeads() + ", kv="
                        + s.numKvHeads() + ", d=" + s.headDim();
                if (s.qkvBias()) {
                    f += " + q/k/v biases (a·d + 2·kv·d)";
                }
                if (s.outputBias()) {
                    f += " + output bias h";
                }
                if (s.qkNorm()) {
                    f += s.qkNormFull() ? " + q/k RMSNorm over the whole projections (a + kv)·d" : " + q/k RMSNorm 2·d";
                }
                if (s.sinks()) {
                    f += " + attention sinks a";
                }
                return f;
        }
        Attention.Latent l = (Attention.Latent) attention;
        return "MLA: " + (l.qLoraRank() > 0
                    ? "h·qr + qr + qr·a·(dn+dr)" : "h·a·(dn+dr)")
                    + " + h·(kvr+dr) + kvr + kvr·a·(dn+dv) + a·dv·h with h=" + h + ", a=" + l.numHeads()
                    + ", qr=" + l.qLoraRank() + ", kvr=" + l.kvLoraRank() + ", dn=" + l.qkNopeHeadDim()
                    + ", dr=" + l.qkRopeHeadDim() + ", dv=" + l.vHeadDim() + (l.hasIndexer() ? " + lightning indexer "
                    + "qr·ni·di + h·di + 2·di + h·ni with ni=" + l.indexHeads() + ", di=" + l.indexHeadDim() : "");
    }

    // Dense layers × (3·h·f gated | 2·h·f plain) + biases (2f+h gated | f+h plain).
    static Term denseMlp(ModelSpec m) {
        long layers = m.numLayers() - m.moeLayerCount();
        long perLayer = mlpParams(m.mlp(), m.hiddenSize());
        Mlp mlp = m.mlp();
        return new Term("mlp", "MLP", mul(layers, perLayer), () -> layers + " dense layers × " + perLayer
                + "; per layer " + (mlp.gated() ? "3·h·f" : "2·h·f")
                + (mlp.bias() ? (mlp.gated() ? " + 2·f + h (biases)" : " + f + h (biases)") : "")
                + " with h=" + m.hiddenSize() + ", f=" + mlp.intermediateSize());
    }

    /** Parameters of one dense MLP block. */
    public static long mlpParams(Mlp mlp, long h) {
        long f = mlp.intermediateSize();
        long value = mul(mlp.gated() ? 3 : 2, mul(h, f));
        if (mlp.bias()) {
            value += (mlp.gated() ? 2 * f : f) + h;
        }
        return value;
    }

    /** Parameters of one routed expert: a gated MLP (3·h·fe), plus biases 2·fe + h when present (gpt-oss). */
    public static long expertParams(Moe moe, long h) {
        long fe = moe.expertIntermediateSize();
        return mul(3, mul(h, fe)) + (moe.expertBias() ? 2 * fe + h : 0);
    }

    // MoE layers × (E·h + E if router bias + E if score-correction bias).
    static Term router(ModelSpec m) {
        Moe moe = m.moe();
        long perLayer = routerPerLayer(moe, m.hiddenSize());
        return new Term("router", "router", mul(m.moeLayerCount(), perLayer), () -> m.moeLayerCount()
                + " MoE layers × (E·h" + (moe.routerBias() ? " + E (bias)" : "")
                + (moe.routerScoreCorrection() ? " + E (score-correction bias)" : "") + ") with E=" + moe.numExperts()
                + ", h=" + m.hiddenSize());
    }

    private static long routerPerLayer(Moe moe, long h) {
        long e = moe.numExperts();
        return mul(e, h) + (moe.routerBias() ? e : 0) + (moe.routerScoreCorrection() ? e : 0);
    }

    // MoE layers × E × expert.
    static Term routedExperts(ModelSpec m) {
        Moe moe = m.moe();
        long expert = expertParams(moe, m.hiddenSize());
        return new Term("experts", "routed experts", mul(mul(m.moeLayerCount(), moe.numExperts()), expert),
                () -> m.moeLayerCount() + " MoE layers × E × (3·h·fe" + (moe.expertBias() ? " + 2·fe + h" : "")
                        + ") with E=" + moe.numExperts() + ", h=" + m.hiddenSize() + ", fe="
                        + moe.expertIntermediateSize() + " (" + expert + " per expert)");
    }

    // MoE layers × (3·h·fs + h if gated).
    static Term sharedExperts(ModelSpec m) {
        Moe moe = m.moe();
        long perLayer = sharedPerLayer(moe, m.hiddenSize());
        return new Term("shared_experts", "shared experts", mul(m.moeLayerCount(), perLayer),
                () -> m.moeLayerCount() + " MoE layers × (3·h·fs" + (moe.sharedExpertGate() ? " + h (shared-expert gate)" : "")
                        + ") with h=" + m.hiddenSize() + ", fs=" + moe.sharedIntermediateSize());
    }

    private static long sharedPerLayer(Moe moe, long h) {
        if (moe.sharedIntermediateSize() == 0) {
            return 0;
        }
        return mul(3, mul(h, moe.sharedIntermediateSize())) + (moe.sharedExpertGate() ? h : 0);
    }

    // (L·norms_per_layer + final + embedding norm) · k·h, k = 1 for RMSNorm, 2 for LayerNorm.
    static Term norms(ModelSpec m) {
        Norms n = m.norms();
        long perNorm = (long) n.kind().paramsPerFeature() * m.hiddenSize();
        long count = (long) m.numLayers() * n.perLayer() + (n.finalNorm() ? 1 : 0) + (n.embeddingNorm() ? 1 : 0);
        return new Term("norms", "norms", mul(count, perNorm), () -> "(" + m.numLayers() + "·" + n.perLayer()
                + (n.finalNorm() ? " + 1 final" : "") + (n.embeddingNorm() ? " + 1 embedding" : "") + ") norms × "
                + perNorm + " (" + (n.kind() == NormKind.RMS_NORM ? "RMSNorm: h" : "LayerNorm: 2·h") + ")");
    }

    // V·h unless tie_word_embeddings.
    static Term lmHead(ModelSpec m) {
        if (m.embeddings().tied()) {
            return new Term("lm_head", "LM head", 0, "0: tied to the token embeddings (tie_word_embeddings)");
        }
        return new Term("lm_head", "LM head", mul(m.vocabSize(), m.hiddenSize()),
                () -> "V·h = " + m.vocabSize() + "·" + m.hiddenSize());
    }

    /** BERT/RoBERTa heads as built by transformers for the config's architecture class. */
    static List<Term> encoderHeads(ModelSpec m, Head.Encoder enc) {
        long h = m.hiddenSize();
        long v = m.vocabSize();
        long n = enc.numLabels();
        boolean roberta = m.family() == Family.ROBERTA;
        List<Term> terms = new ArrayList<>();
        boolean pooler = switch (enc.task()) {
            case BASE, PRETRAINING, MULTIPLE_CHOICE -> true;
            case SEQUENCE_CLASSIFICATION -> !roberta;
            default -> false;
        };
        if (pooler) {
            terms.add(new Term("pooler", "pooler", h * h + h, "dense h·h + h with h=" + h));
        }
        switch (enc.task()) {
            case PRETRAINING, MASKED_LM, CAUSAL_LM -> {
                long decoderWeight = m.embeddings().tied() ? 0 : v * h;
                long mlm = h * h + h + 2 * h + decoderWeight + v;
                String f = "transform dense h·h + h + LayerNorm 2·h + decoder bias V"
                        + (m.embeddings().tied() ? " (decoder weight tied to embeddings)" : " + decoder V·h")
                        + " with h=" + h + ", V=" + v;
                if (enc.task() == Head.EncoderTask.PRETRAINING) {
                    mlm += 2 * h + 2;
                    f += " + next-sentence h·2 + 2";
                }
                terms.add(new Term("task_head", "LM head", mlm, f));
            }
            case SEQUENCE_CLASSIFICATION -> terms.add(roberta
                    ? new Term("task_head", "classifier", h * h + h + h * n + n,
                    "dense h·h + h + out_proj h·n + n with h=" + h + ", n=" + n)
                    : new Term("task_head", "classifier", h * n + n, "h·n + n with h=" + h + ", n=" + n));
            case TOKEN_CLASSIFICATION -> terms.add(
                    new Term("task_head", "classifier", h * n + n, "h·n + n with h=" + h + ", n=" + n));
            case QUESTION_ANSWERING -> terms.add(
                    new Term("task_head", "QA head", h * 2 + 2, "h·2 + 2 (start/end logits) with h=" + h));
            case MULTIPLE_CHOICE -> terms.add(
                    new Term("task_head", "classifier", h + 1, "h·1 + 1 with h=" + h));
            case BASE -> {
                // the bare encoder has no head beyond the pooler
            }
        }
        return terms;
    }

    static Term vision(VisionEncoder v) {
        if (v instanceof VisionEncoder.Llama4 l) {
            return llama4Vision(l);
        }
        if (v instanceof VisionEncoder.QwenVl q) {
            return qwenVision(q);
        }
        return siglip((VisionEncoder.Siglip) v);
    }

    // Qwen3-VL ViT: Conv3d c·t·p²·hv + hv, positions P·hv, layers × block, merger 2hv + (m²hv)² + m²hv + m²hv·ho + ho,
    // each deepstack merger the same with its LayerNorm over m²hv (2m²hv).
    private static Term qwenVision(VisionEncoder.QwenVl v) {
        long hv = v.hiddenSize();
        long patch = mul(mul((long) v.channels() * v.temporalPatch(), (long) v.patchSize() * v.patchSize()), hv) + hv;
        long positions = mul(v.positions(), hv);
        long layer = visionBlock(v);
        long merged = mul(hv, (long) v.spatialMerge() * v.spatialMerge());
        long ho = v.textHiddenSize();
        long fcs = mul(merged, merged) + merged + mul(merged, ho) + ho;
        long merger = 2 * hv + fcs;
        long deepstack = mul(v.deepstackMergers(), 2 * merged + fcs);
        long value = patch + positions + mul(v.layers(), layer) + merger + deepstack;
        return new Term("vision", "vision tower", value, "Qwen3-VL ViT: Conv3d patch embedding c·t·p²·hv + hv + "
                + "positions P·hv + " + v.layers() + " layers × " + layer + " + merger LayerNorm 2·hv + (m²·hv)² + "
                + "m²·hv + m²·hv·ho + ho" + (v.deepstackMergers() > 0 ? " + " + v.deepstackMergers()
                + " deepstack mergers" : "") + ", with hv=" + hv + ", fv=" + v.intermediateSize() + ", p="
                + v.patchSize() + ", t=" + v.temporalPatch() + ", P=" + v.positions() + ", m=" + v.spatialMerge()
                + ", ho=" + ho);
    }

    // one vision block: 2 LayerNorms 4hv + q/k/v/o with biases 4(hv² + hv) + fc1 hv·fv + fv + fc2 fv·hv + hv
    private static long visionBlock(VisionEncoder v) {
        long hv = v.hiddenSize();
        long fv = v.intermediateSize();
        return 4 * hv + 4 * (mul(hv, hv) + hv) + mul(hv, fv) + fv + mul(fv, hv) + hv;
    }

    // SigLIP: patch conv c·p²·hv + hv, positions P·hv, layers × block, post LayerNorm 2hv; Gemma 3 projector hv·ht +
    // RMSNorm hv.
    private static Term siglip(VisionEncoder.Siglip v) {
        long hv = v.hiddenSize();
        long patch = mul(mul(v.channels(), (long) v.patchSize() * v.patchSize()), hv) + hv;
        long positions = mul(v.patches(), hv);
        long layer = visionBlock(v);
        long projector = mul(hv, v.textHiddenSize()) + hv;
        long value = patch + positions + mul(v.layers(), layer) + 2 * hv + projector;
        return new Term("vision", "vision tower", value, "SigLIP: patch embedding c·p²·hv + hv + positions P·hv + "
                + v.layers() + " layers × " + layer + " + post-norm 2·hv + projector hv·ht + hv, with hv=" + hv
                + ", fv=" + v.intermediateSize() + ", p=" + v.patchSize() + ", P=" + v.patches() + ", ht="
                + v.textHiddenSize());
    }

    // Llama 4 ViT: unbiased patch Linear c·p²·hv, class token hv, positions (P+1)·hv, pre/post LayerNorms 4hv,
    // layers × block; pixel-shuffle adapter fv·pi + pi·po; projector vo·ht (all unbiased).
    private static Term llama4Vision(VisionEncoder.Llama4 v) {
        long hv = v.hiddenSize();
        long patch = mul(mul(v.channels(), (long) v.patchSize() * v.patchSize()), hv);
        long embeddings = patch + hv + mul(v.patches() + 1, hv) + 4 * hv;
        long layer = visionBlock(v);
        long adapter = mul(v.intermediateSize(), v.projectorInputDim())
                + mul(v.projectorInputDim(), v.projectorOutputDim());
        long projector = mul(v.visionOutputDim(), v.textHiddenSize());
        long value = embeddings + mul(v.layers(), layer) + adapter + projector;
        return new Term("vision", "vision tower", value, "Llama 4 ViT: patch Linear c·p²·hv + class token hv + "
                + "positions (P+1)·hv + LayerNorms 4·hv + " + v.layers() + " layers × " + layer
                + " + pixel-shuffle adapter fv·pi + pi·po + projector vo·ht, with hv=" + hv + ", fv="
                + v.intermediateSize() + ", p=" + v.patchSize() + ", P=" + v.patches() + ", pi="
                + v.projectorInputDim() + ", po=" + v.projectorOutputDim() + ", vo=" + v.visionOutputDim() + ", ht="
                + v.textHiddenSize());
    }

    // total − MoE layers × (E − k) × expert: the routed experts a token does not use.
    static Term active(ModelSpec m, long total) {
        if (!m.isMoe()) {
            return new Term("active", "active per token", total, "= total (dense model)");
        }
        Moe moe = m.moe();
        long expert = expertParams(moe, m.hiddenSize());
        long unused = mul(mul(m.moeLayerCount(), moe.numExperts() - moe.topK()), expert);
        return new Term("active", "active per token", total - unused,
                "total − MoE layers × (E − k) × expert = " + total + " − " + m.moeLayerCount() + " × ("
                        + moe.numExperts() + " − " + moe.topK() + ") × " + expert);
    }

    // DeepSeek MTP module: enorm + hnorm (2h) + eh_proj (2h·h) + one MoE decoder block + shared_head.norm (h);
    // its embedding and output head are shared with the main model.
    static Term mtp(ModelSpec m) {
        if (m.mtpLayers() == 0) {
            return new Term("mtp", "multi-token prediction", 0, "none");
        }
        long h = m.hiddenSize();
        long block = attentionPerLayer(m.attention(), h) + (long) m.norms().perLayer() * h;
        block += m.moe() != null
                ? routerPerLayer(m.moe(), h) + mul(m.moe().numExperts(), expertParams(m.moe(), h))
                + sharedPerLayer(m.moe(), h)
                : mlpParams(m.mlp(), h);
        long perModule = 2 * h + mul(2 * h, h) + block + h;
        return new Term("mtp", "multi-token prediction", mul(m.mtpLayers(), perModule),
                m.mtpLayers() + " × (2·h norms + eh_proj 2h·h + decoder block " + block
                        + " + head norm h); embedding and output head shared with the main model");
    }

    private static long mul(long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new InvalidInputException("parameter count overflows a 64-bit integer (" + a + " × " + b
                    + "): check the architecture sizes");
        }
    }
}
