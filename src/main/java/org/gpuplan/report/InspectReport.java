package org.gpuplan.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.io.GgufFile;
import org.gpuplan.io.LoadedModel;
import org.gpuplan.io.ParsedConfig;
import org.gpuplan.io.TensorSummary;
import org.gpuplan.model.Attention;
import org.gpuplan.model.Head;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.NormKind;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.ParameterCounter;
import org.gpuplan.model.Term;

/**
 * What {@code gpuplan inspect} shows: the architecture, the parameter breakdown with formulas, weight sizes at common
 * precisions, and what the weight files actually store. Built once from a {@link LoadedModel}; rendered as text or
 * JSON (same figures).
 */
public final class InspectReport {

    /** Precisions for the weight-size table: name and bits per parameter (no scales). */
    static final List<Map.Entry<String, Integer>> PRECISIONS = List.of(Map.entry("fp32", 32), Map.entry("bf16", 16),
            Map.entry("fp8", 8), Map.entry("int8", 8), Map.entry("int4", 4));

    private final LoadedModel model;
    private final Optional<ParameterBreakdown> breakdown;
    private final long total;
    private final long active;
    private final List<String> warnings;

    private InspectReport(LoadedModel model) {
        this.model = model;
        this.breakdown = model.spec().map(ParameterCounter::count);
        this.warnings = new ArrayList<>(model.warnings());
        Optional<TensorSummary> t = model.tensors();
        if (breakdown.isPresent()) {
            total = breakdown.get().totalCount();
            active = breakdown.get().activeCount();
            t.filter(s -> s.totalElements() > 0).ifPresent(s -> {
                long stored = s.totalElements() - s.elementsByTerm().getOrDefault("mtp", 0L)
                        - s.elementsByTerm().getOrDefault("quantization_scales", 0L);
                if (stored != total) {
                    warnings.add(String.format(Locale.ROOT, "the files store %s elements (excluding MTP and "
                                    + "quantization scales) but the architecture has %s parameters (difference %s%s)",
                            Units.count(stored), Units.count(total), Units.count(stored - total),
                            s.elementsByTerm().getOrDefault("other", 0L) > 0
                                    ? ", e.g. buffers such as rotary inv_freq or packed quantized weights" : ""));
                }
            });
        } else {
            total = t.map(s -> s.totalElements() > 0 ? s.totalElements() : 0L).orElse(0L);
            active = total;
        }
    }

    public static InspectReport of(LoadedModel model) {
        return new InspectReport(model);
    }

    public long totalParameters() {
        return total;
    }

    public long activeParameters() {
        return active;
    }

    // ---- JSON ---------------------------------------------------------------------------------------------------

    public ObjectNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        ObjectNode m = root.putObject("model");
        m.put("name", model.name());
        m.put("origin", model.origin());
        model.source().ifPresent(s -> m.put("source", s));
        model.spec().ifPresent(spec -> root.set("architecture", architectureJson(spec, model.config().get())));
        ObjectNode p = root.putObject("parameters");
        p.put("total", total);
        p.put("active", active);
        breakdown.ifPresent(b -> {
            p.put("active_non_embedding", b.activeNonEmbedding().value());
            for (Term t : b.terms()) {
                p.put(t.key(), t.value());
            }
            p.put("mtp", b.mtp().value());
            ArrayNode terms = p.putArray("terms");
            List<Term> all = new ArrayList<>(b.terms());
            all.add(b.total());
            all.add(b.active());
            all.add(b.activeNonEmbedding());
            if (b.mtp().value() > 0) {
                all.add(b.mtp());
            }
            for (Term t : all) {
                terms.addObject().put("key", t.key()).put("label", t.label()).put("value", t.value())
                        .put("formula", t.formula());
            }
        });
        p.put("source", breakdown.isPresent() ? "computed from the architecture" : "stored tensor elements");
        ObjectNode w = root.putObject("weights_bytes");
        for (Map.Entry<String, Integer> e : PRECISIONS) {
            w.put(e.getKey(), weightBytes(total, e.getValue()));
        }
        model.tensors().ifPresent(t -> root.set("file", fileJson(t, model.gguf())));
        ArrayNode warn = root.putArray("warnings");
        warnings.forEach(warn::add);
        return root;
    }

    private static ObjectNode architectureJson(ModelSpec s, ParsedConfig pc) {
        ObjectNode a = JsonNodeFactory.instance.objectNode();
        a.put("family", s.family().modelType());
        a.put("architecture", s.architecture());
        a.put("layers", s.numLayers());
        a.put("hidden_size", s.hiddenSize());
        a.put("vocab_size", s.vocabSize());
        a.put("max_context", s.maxContext());
        a.put("tied_embeddings", s.embeddings().tied());
        a.put("norm", s.norms().kind() == NormKind.RMS_NORM ? "rmsnorm" : "layernorm");
        ObjectNode at = a.putObject("attention");
        at.put("variant", s.attention().variant().name());
        at.put("heads", s.attention().numHeads());
        if (s.attention() instanceof Attention.Standard st) {
            at.put("kv_heads", st.numKvHeads());
            at.put("head_dim", st.headDim());
            at.put("qkv_bias", st.qkvBias());
            at.put("qk_norm", st.qkNorm());
            if (st.qkNormFull()) {
                at.put("qk_norm_full_width", true);
            }
            at.put("output_gate", st.outputGate());
        } else if (s.attention() instanceof Attention.Latent l) {
            at.put("q_lora_rank", l.qLoraRank());
            at.put("kv_lora_rank", l.kvLoraRank());
            at.put("qk_nope_head_dim", l.qkNopeHeadDim());
            at.put("qk_rope_head_dim", l.qkRopeHeadDim());
            at.put("v_head_dim", l.vHeadDim());
        }
        ObjectNode sw = at.putObject("sliding_window");
        sw.put("window", s.slidingWindow());
        sw.put("layers", s.slidingLayerCount());
        if (s.linearAttention() != null) {
            var g = s.linearAttention();
            ObjectNode la = a.putObject("linear_attention");
            la.put("kind", "gated_deltanet");
            la.put("layers", s.linearLayerCount());
            la.put("key_heads", g.numKeyHeads());
            la.put("value_heads", g.numValueHeads());
            la.put("key_head_dim", g.keyHeadDim());
            la.put("value_head_dim", g.valueHeadDim());
            la.put("conv_kernel", g.convKernel());
        }
        if (s.mlp() != null) {
            ObjectNode ffn = a.putObject("ffn");
            ffn.put("type", s.mlp().gated() ? "gated" : "plain");
            ffn.put("intermediate_size", s.mlp().intermediateSize());
            ffn.put("activation", s.mlp().activation());
            ffn.put("dense_layers", s.numLayers() - s.moeLayerCount());
        }
        if (s.isMoe()) {
            ObjectNode moe = a.putObject("moe");
            moe.put("experts", s.moe().numExperts());
            moe.put("experts_per_token", s.moe().topK());
            moe.put("expert_intermediate_size", s.moe().expertIntermediateSize());
            moe.put("shared_expert_intermediate_size", s.moe().sharedIntermediateSize());
            moe.put("moe_layers", s.moeLayerCount());
        }
        if (s.head() instanceof Head.Encoder enc) {
            a.put("task_head", enc.task().name().toLowerCase(Locale.ROOT));
            a.put("num_labels", enc.numLabels());
        }
        if (s.mtpLayers() > 0) {
            a.put("mtp_layers", s.mtpLayers());
        }
        if (s.vision() != null) {
            ObjectNode v = a.putObject("vision");
            v.put("kind", s.vision().kind());
            v.put("layers", s.vision().layers());
            v.put("hidden_size", s.vision().hiddenSize());
            v.put("intermediate_size", s.vision().intermediateSize());
            v.put("image_size", s.vision().imageSize());
            v.put("patch_size", s.vision().patchSize());
        }
        pc.checkpointDtype().ifPresent(d -> a.put("checkpoint_dtype", d));
        pc.quantization().ifPresent(q -> a.put("quantization", q));
        return a;
    }

    private static ObjectNode fileJson(TensorSummary t, Optional<GgufFile> gguf) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("format", t.format());
        o.put("files", t.files());
        o.put("tensors", t.tensorCount());
        o.put("elements", t.totalElements());
        o.put("data_bytes", t.dataBytes());
        t.declaredTotalSize().ifPresent(s -> o.put("index_total_size", s));
        if (t.totalElements() > 0) {
            o.put("bits_per_element", Math.round(t.bitsPerElement() * 1000) / 1000.0);
        }
        ObjectNode d = o.putObject("dtypes");
        t.byDtype().forEach((k, v) -> d.putObject(k).put("tensors", v.tensors()).put("elements", v.elements())
                .put("bytes", v.bytes()));
        ObjectNode terms = o.putObject("elements_by_term");
        t.elementsByTerm().forEach(terms::put);
        o.put("layers_seen", t.layerCount());
        o.put("experts_seen", t.expertCount());
        gguf.ifPresent(g -> {
            o.put("gguf_version", g.version());
            g.fileType().ifPresent(ft -> o.put("file_type", ft));
            g.architecture().ifPresent(ar -> o.put("gguf_architecture", ar));
        });
        return o;
    }

    /** ceil(params × bits / 8): every parameter at one precision, no quantization scales. */
    static long weightBytes(long params, int bits) {
        long b = Math.multiplyExact(params, (long) bits);
        return b / 8 + (b % 8 == 0 ? 0 : 1);
    }

    // ---- text ---------------------------------------------------------------------------------------------------

    public String toText(boolean explain) {
        StringBuilder out = new StringBuilder();
        out.append(model.name()).append("  (").append(model.origin()).append(")\n");
        model.source().filter(s -> explain).ifPresent(s -> out.append("  config source: ").append(s).append('\n'));
        model.spec().ifPresent(s -> architectureText(out, s, model.config().get()));
        out.append("\nParameters").append(breakdown.isPresent() ? " (computed from the architecture)"
                : " (stored tensor elements)").append('\n');
        if (breakdown.isPresent()) {
            ParameterBreakdown b = breakdown.get();
            for (Term t : b.terms()) {
                row(out, t, total, explain);
            }
            row(out, b.total(), total, explain);
            row(out, b.active(), total, explain);
            if (b.activeNonEmbedding().value() != b.active().value() && model.spec().get().isMoe()) {
                row(out, b.activeNonEmbedding(), total, explain);
            }
            if (b.mtp().value() > 0) {
                row(out, b.mtp(), total, explain);
            }
        } else {
            out.append(String.format(Locale.ROOT, "  %-24s %18s  %s%n", "total", Units.count(total),
                    Units.shortCount(total)));
        }
        out.append("\nWeight size (all ").append(Units.count(total)).append(" parameters at one precision)\n");
        for (Map.Entry<String, Integer> e : PRECISIONS) {
            out.append(String.format(Locale.ROOT, "  %-6s %s%n", e.getKey(),
                    Units.bytes(weightBytes(total, e.getValue()))));
        }
        model.tensors().filter(t -> t.dataBytes() > 0).ifPresent(t -> out.append(String.format(Locale.ROOT,
                "  %-6s %s, %.3f bits per stored element%n", "stored", Units.bytes(t.dataBytes()),
                t.totalElements() > 0 ? t.bitsPerElement() : 0.0)));
        if (explain) {
            out.append("    formula: bytes = ceil(parameters × bits / 8); quantized formats add block scales "
                    + "(e.g. Q4_K 4.5 bits, NF4 with double quantization ≈ 4.13 bits)\n");
        }
        model.tensors().ifPresent(t -> fileText(out, t));
        for (String w : warnings) {
            out.append("\nwarning: ").append(w);
        }
        if (!warnings.isEmpty()) {
            out.append('\n');
        }
        return out.toString();
    }

    private static void row(StringBuilder out, Term t, long total, boolean explain) {
        String pct = total > 0 && !t.key().startsWith("active") && !t.key().equals("total") && !t.key().equals("mtp")
                ? String.format(Locale.ROOT, "%5.1f%%", 100.0 * t.value() / total) : "";
        String shortValue = t.key().equals("lm_head") && t.value() == 0 ? "(tied)" : Units.shortCount(t.value());
        out.append(String.format(Locale.ROOT, "  %-24s %18s  %-9s %s", t.label(), Units.count(t.value()),
                shortValue, pct).stripTrailing()).append('\n');
        if (explain) {
            out.append("      = ").append(t.formula()).append('\n');
        }
    }

    private static void architectureText(StringBuilder out, ModelSpec s, ParsedConfig pc) {
        out.append("\nArchitecture\n");
        kv(out, "family", s.family().modelType() + " (" + s.architecture() + ")");
        kv(out, "layers", Integer.toString(s.numLayers()));
        kv(out, "hidden size", Integer.toString(s.hiddenSize()));
        if (s.attention() instanceof Attention.Standard st) {
            kv(out, "attention", st.variant() + ": " + st.numHeads() + " query heads, " + st.numKvHeads()
                    + " KV heads, head_dim " + st.headDim() + (st.qkvBias() ? ", q/k/v bias" : "")
                    + (st.qkNorm() ? st.qkNormFull() ? ", q/k norm over the whole projections" : ", q/k norm" : "")
                    + (st.sinks() ? ", attention sinks" : "")
                    + (st.outputGate() ? ", gated output" : "")
                    + (s.linearLayerCount() > 0 ? " in " + s.attentionLayerCount() + " layers" : ""));
            if (s.linearAttention() != null) {
                var g = s.linearAttention();
                kv(out, "linear attention", "Gated DeltaNet in " + s.linearLayerCount() + " layers: "
                        + g.numKeyHeads() + " key heads × " + g.keyHeadDim() + ", " + g.numValueHeads()
                        + " value heads × " + g.valueHeadDim() + ", conv kernel " + g.convKernel()
                        + " (a state of constant size per sequence, no KV cache)");
            }
        } else if (s.attention() instanceof Attention.Latent l) {
            kv(out, "attention", "MLA: " + l.numHeads() + " heads, q_lora_rank " + l.qLoraRank() + ", kv_lora_rank "
                    + l.kvLoraRank() + ", qk head_dim " + l.qkNopeHeadDim() + "+" + l.qkRopeHeadDim() + " (rope), "
                    + "v head_dim " + l.vHeadDim());
        }
        if (s.mlp() != null) {
            kv(out, "FFN", (s.mlp().gated() ? "gated (" : "plain (") + s.mlp().activation() + "), intermediate "
                    + s.mlp().intermediateSize() + (s.isMoe() ? " in " + (s.numLayers() - s.moeLayerCount())
                    + " dense layers" : ""));
        }
        if (s.isMoe()) {
            kv(out, "MoE", s.moe().numExperts() + " experts, top-" + s.moe().topK() + ", expert intermediate "
                    + s.moe().expertIntermediateSize()
                    + (s.moe().sharedIntermediateSize() > 0 ? ", shared expert intermediate "
                    + s.moe().sharedIntermediateSize() : "") + ", " + s.moeLayerCount() + " MoE layers");
        }
        kv(out, "vocab", Integer.toString(s.vocabSize()));
        kv(out, "tied embeddings", s.embeddings().tied() ? "yes" : "no");
        kv(out, "sliding window", s.slidingWindow() == 0 ? "none"
                : s.slidingLayerCount() + " of " + s.numLayers() + " layers, window " + s.slidingWindow() + " tokens");
        kv(out, "norm", s.norms().kind() == NormKind.RMS_NORM ? "RMSNorm" : "LayerNorm");
        kv(out, "max context", s.maxContext() > 0 ? Units.count(s.maxContext()) + " tokens" : "not stated");
        if (s.head() instanceof Head.Encoder enc) {
            kv(out, "task head", enc.task().name().toLowerCase(Locale.ROOT)
                    + (enc.task() == Head.EncoderTask.SEQUENCE_CLASSIFICATION
                    || enc.task() == Head.EncoderTask.TOKEN_CLASSIFICATION ? " (" + enc.numLabels() + " labels)" : ""));
        }
        if (s.mtpLayers() > 0) {
            kv(out, "MTP modules", Integer.toString(s.mtpLayers()));
        }
        if (s.vision() != null) {
            kv(out, "vision tower", s.vision().summary());
        }
        pc.checkpointDtype().ifPresent(d -> kv(out, "checkpoint dtype", d));
        pc.quantization().ifPresent(q -> kv(out, "quantization", q));
    }

    private static void fileText(StringBuilder out, TensorSummary t) {
        out.append("\nStored in the files (").append(t.format()).append(", ").append(t.files()).append(" file")
                .append(t.files() == 1 ? "" : "s").append(")\n");
        if (t.declaredTotalSize().isPresent() && t.tensorCount() == 0) {
            kv(out, "index total_size", Units.bytes(t.declaredTotalSize().get())
                    + " (shards not present; dtypes unknown)");
            return;
        }
        kv(out, "tensors", Units.count(t.tensorCount()));
        kv(out, "elements", Units.count(t.totalElements()) + "  " + Units.shortCount(t.totalElements()));
        kv(out, "data", Units.bytes(t.dataBytes()) + String.format(Locale.ROOT, ", %.3f bits per element",
                t.bitsPerElement()));
        t.byDtype().forEach((k, v) -> kv(out, "  " + k, Units.count(v.elements()) + " elements in "
                + Units.count(v.tensors()) + " tensors, " + Units.bytes(v.bytes())));
        if (t.layerCount() > 0) {
            kv(out, "layers seen", Integer.toString(t.layerCount()));
        }
        if (t.expertCount() > 0) {
            kv(out, "experts seen", Integer.toString(t.expertCount()));
        }
        if (!t.elementsByTerm().isEmpty()) {
            out.append("  elements by term (from tensor names)\n");
            t.elementsByTerm().forEach((k, v) -> kv(out, "  " + k, Units.count(v)));
        }
    }

    private static void kv(StringBuilder out, String k, String v) {
        out.append(String.format(Locale.ROOT, "  %-18s %s%n", k, v));
    }
}
