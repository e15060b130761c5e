package org.gpuplan.memory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.gpuplan.memory.GgmlGraphAllocator.Op;
import org.gpuplan.memory.GgmlGraphAllocator.Tensor;
import org.gpuplan.model.Attention;
import org.gpuplan.model.Family;
import org.gpuplan.model.Layer;
import org.gpuplan.model.ModelSpec;

/**
 * The compute graph llama.cpp reserves for a dense Llama-style decoder (llama, mistral, qwen2, qwen3 graphs) with
 * flash attention, split as ggml-backend's scheduler splits it between the GPU and the host, and sized by ggml's
 * graph allocator ({@link GgmlGraphAllocator}). Written from reading src/llama-graph.cpp, src/models and
 * ggml-backend.cpp of 2025-2026 builds; no code is copied. Checked against eight published start-up logs to 0.01 MiB
 * (validation/llamacpp/).
 *
 * <p>The graph as builds make it (the reservation graph: n_ubatch tokens, the whole KV cache, every row an output):
 * token embeddings gathered on the host (the embedding matrix stays there) and copied in; per layer RMSNorm, Q/K/V
 * projections (with biases for qwen2, per-head q/k norms for qwen3), RoPE, K and V written into the cache, flash
 * attention over the cache with the KQ mask, output projection, residual, RMSNorm, SwiGLU MLP, residual; the last
 * layer keeps only the output rows; final norm and the logits. Host inputs (embedding rows, positions, KV indices,
 * the KQ mask, output ids) are copied into the GPU split at its start.
 *
 * @param build the llama.cpp build number (0: unknown, taken as the graph of b5782-b9409)
 */
record LlamaCppGraph(int hidden, int heads, int kvHeads, int headDim, int ffn, int vocab, int layers, boolean qkvBias,
                     boolean outputBias, boolean qkNorm, int build) {

    /** First build whose log shows the fused SwiGLU (GLU) node; b5505 still built SiLU and MUL (PR #14158). */
    static final int FUSED_SWIGLU_FROM = 5781;
    /** After the last build whose log shows no KV index inputs (set_rows, PR #14285/#14959). */
    static final int SET_ROWS_FROM = 5782;
    /** llama.cpp b9410 (PR #23764): the KQ mask is built in f16 on the host for flash attention, no f32 copy. */
    static final int F16_MASK_FROM = 9410;
    /** A larger graph is not simulated (the closed formula serves): bounds time and memory for hostile configs. */
    static final int MAX_LAYERS = 1024;

    private static final int F32 = 4;
    private static final int F16 = 2;
    private static final int I32 = 4;
    private static final int I64 = 8;

    /**
     * The graph of a model whose llama.cpp graph this class builds: a dense decoder of the llama, mistral, qwen2 or
     * qwen3 families with separate Q/K/V projections and a SwiGLU MLP (MoE, sliding-window, hybrid and other
     * families take the closed formula).
     */
    static java.util.Optional<LlamaCppGraph> of(ModelSpec m, int build) {
        boolean family = switch (m.family()) {
            case LLAMA, MISTRAL, QWEN2, QWEN3 -> true;
            default -> false;
        };
        if (!family || m.moe() != null || m.linearAttention() != null || m.layers().size() > MAX_LAYERS
                || !(m.attention() instanceof Attention.Standard s) || s.fusedQkv() || s.sinks() || s.outputGate()
                || s.qkNormFull() || s.logitSoftcap() || !m.mlp().gated() || m.mlp().bias() || m.mlp().fusedGateUp()
                // llama.cpp runs Mistral-7B as a llama graph without the window; other families' windows differ
                || m.family() != Family.MISTRAL && m.layers().stream().anyMatch(Layer::slidingWindow)) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new LlamaCppGraph(m.hiddenSize(), s.numHeads(), s.numKvHeads(), s.headDim(),
                m.mlp().intermediateSize(), m.vocabSize(), m.numLayers(), s.qkvBias(), s.outputBias(), s.qkNorm(),
                build));
    }

    /** Which graph a build makes, in words. */
    String describe() {
        String era = build == 0 ? "the graph of builds b" + SET_ROWS_FROM + "-b" + (F16_MASK_FROM - 1)
                + " (no --llamacpp-build given)" : "build b" + build;
        return era + ": " + (fusedSwiglu() ? "fused SwiGLU" : "SiLU and MUL nodes") + ", "
                + (setRows() ? "KV index inputs (set_rows)" : "KV written by copies") + ", "
                + (f16Mask() ? "f16 KQ mask on the host" : "f32 KQ mask cast to f16 on the GPU");
    }

    boolean fusedSwiglu() {
        return build == 0 || build >= FUSED_SWIGLU_FROM;
    }

    boolean setRows() {
        return build == 0 || build >= SET_ROWS_FROM;
    }

    boolean f16Mask() {
        return build >= F16_MASK_FROM;
    }

    /**
     * Whether every tensor of the graph has a byte size well inside a long (absurd contexts or batches are left to
     * the closed formula's saturating arithmetic rather than simulated).
     */
    boolean simulable(long ubatch, long nCtx) {
        long widest = Math.max(Math.max(nCtx, vocab), Math.max(ffn, (long) heads * headDim));
        return ubatch > 0 && nCtx > 0 && widest <= (1L << 40) / Math.max(1, ubatch);
    }

    /** Device and host compute buffers for n_ubatch tokens over a KV cache of nCtx cells. */
    GgmlGraphAllocator.Result computeBuffers(long ubatch, long nCtx) {
        Graph g = build(ubatch, nCtx);
        int graphNodes = g.nodes.size(); // as llama.cpp logs 'graph nodes', before the scheduler's copies
        return GgmlGraphAllocator.allocate(schedule(g), g.leafs, graphNodes, 128, 32);
    }

    private static final class Graph {
        final List<Tensor> nodes = new ArrayList<>();
        final List<Tensor> leafs = new ArrayList<>();

        /** ggml_build_forward_expand: sources first, depth first, each tensor once. */
        void expand(Tensor t) {
            // iterative post-order walk: a deep graph must not exhaust the stack
            List<Object[]> stack = new ArrayList<>();
            stack.add(new Object[]{t, 0});
            while (!stack.isEmpty()) {
                Object[] top = stack.get(stack.size() - 1);
                Tensor x = (Tensor) top[0];
                int i = (Integer) top[1];
                if (i == 0) {
                    if (x.visited) {
                        stack.remove(stack.size() - 1);
                        continue;
                    }
                    x.visited = true;
                }
                if (i < x.src.size()) {
                    top[1] = i + 1;
                    Tensor s = x.src.get(i);
                    if (s != x && !s.visited) {
                        stack.add(new Object[]{s, 0});
                    }
                    continue;
                }
                stack.remove(stack.size() - 1);
                (x.op == Op.NONE ? leafs : nodes).add(x);
            }
        }
    }

    private static Tensor node(String name, Op op, int elementBytes, List<Tensor> src, long... shape) {
        return new Tensor(name, op, shape, elementBytes, src, null, false, false, false, false);
    }

    private static Tensor view(String name, Op op, Tensor of, int elementBytes, long... shape) {
        return new Tensor(name, op, shape, elementBytes, List.of(of), of, false, false, false, false);
    }

    private static Tensor input(String name, int elementBytes, long... shape) {
        return new Tensor(name, Op.NONE, shape, elementBytes, List.of(), null, false, true, false, false);
    }

    private static Tensor weight(String name, boolean onHost) {
        return new Tensor(name, Op.NONE, new long[]{1}, 1, List.of(), null, true, false, false, onHost);
    }

    private Graph build(long tokens, long nKv) {
        Graph g = new Graph();
        long e = hidden;
        long q = (long) heads * headDim;
        long kv = (long) kvHeads * headDim;
        Tensor any = weight("weight", false); // weights and KV cells: external, never allocated here
        Tensor embeddings = weight("token_embd", true);
        Tensor tokenIds = input("inp_tokens", I32, tokens);
        Tensor inpL = node("inp_embd", Op.GET_ROWS, F32, List.of(embeddings, tokenIds), e, tokens);
        Tensor positions = input("inp_pos", I32, tokens);
        Tensor kIdx = setRows() ? input("k_idxs", I64, tokens) : null;
        Tensor vIdx = setRows() ? input("v_idxs", I64, tokens) : null;
        Tensor mask;
        if (f16Mask()) {
            mask = input("kq_mask", F16, nKv, tokens);
        } else {
            Tensor m32 = input("kq_mask", F32, nKv, tokens);
            mask = node("kq_mask_cnv", Op.CPY, F16, List.of(m32), nKv, tokens);
            mask.src.add(mask); // ggml_cast makes the result its own destination (src[1])
        }
        Tensor outIds = input("out_ids", I32, tokens);
        for (int il = 0; il < layers; il++) {
            Tensor residual = inpL;
            Tensor cur = node("norm", Op.RMS_NORM, F32, List.of(inpL), e, tokens);
            cur = node("attn_norm", Op.MUL, F32, List.of(cur, any), e, tokens);
            Tensor qc = projection(cur, q, tokens, qkvBias, any);
            Tensor kc = projection(cur, kv, tokens, qkvBias, any);
            Tensor vc = projection(cur, kv, tokens, qkvBias, any);
            qc = view("q_3d", Op.RESHAPE, qc, F32, headDim, heads, tokens);
            kc = view("k_3d", Op.RESHAPE, kc, F32, headDim, kvHeads, tokens);
            vc = view("v_3d", Op.RESHAPE, vc, F32, headDim, kvHeads, tokens);
            if (qkNorm) {
                qc = node("q_norm", Op.MUL, F32, List.of(node("q_rms", Op.RMS_NORM, F32, List.of(qc), headDim, heads,
                        tokens), any), headDim, heads, tokens);
                kc = node("k_norm", Op.MUL, F32, List.of(node("k_rms", Op.RMS_NORM, F32, List.of(kc), headDim,
                        kvHeads, tokens), any), headDim, kvHeads, tokens);
            }
            qc = node("q_rope", Op.ROPE, F32, List.of(qc, positions), headDim, heads, tokens);
            kc = node("k_rope", Op.ROPE, F32, List.of(kc, positions), headDim, kvHeads, tokens);
            g.expand(qc); // build_attn expands q, v, k before writing the cache
            g.expand(vc);
            g.expand(kc);
            g.expand(cacheWrite("k", view("k_2d", Op.VIEW, kc, F32, kv, tokens), kIdx, kv, nKv));
            g.expand(cacheWrite("v", view("v_2d", Op.VIEW, vc, F32, kv, tokens), vIdx, kv, nKv));
            Tensor qp = view("q_perm", Op.PERMUTE, view("q_4d", Op.VIEW, qc, F32, headDim, heads, tokens, 1), F32,
                    headDim, tokens, heads, 1);
            Tensor kp = view("k_perm", Op.PERMUTE, view("k_cache", Op.VIEW, any, F16, headDim, kvHeads, nKv, 1), F16,
                    headDim, nKv, kvHeads, 1);
            Tensor vp = view("v_perm", Op.PERMUTE, view("v_cache", Op.VIEW, any, F16, headDim, kvHeads, nKv, 1), F16,
                    headDim, nKv, kvHeads, 1);
            Tensor attn = node("fattn", Op.FLASH_ATTN_EXT, F32, List.of(qp, kp, vp, mask), headDim, heads, tokens, 1);
            cur = view("kqv_out", Op.RESHAPE, attn, F32, q, tokens);
            g.expand(cur);
            cur = node("wo", Op.MUL_MAT, F32, List.of(any, cur), e, tokens);
            if (outputBias) {
                cur = node("wo_b", Op.ADD, F32, List.of(cur, any), e, tokens);
            }
            long rows = tokens;
            if (il == layers - 1) { // the last layer keeps only the rows whose logits are wanted
                cur = node("out_rows", Op.GET_ROWS, F32, List.of(cur, outIds), e, rows);
                residual = node("out_rows_res", Op.GET_ROWS, F32, List.of(residual, outIds), e, rows);
            }
            Tensor ffnIn = node("ffn_inp", Op.ADD, F32, List.of(cur, residual), e, rows);
            cur = node("ffn_rms", Op.RMS_NORM, F32, List.of(ffnIn), e, rows);
            cur = node("ffn_norm", Op.MUL, F32, List.of(cur, any), e, rows);
            Tensor up = node("ffn_up", Op.MUL_MAT, F32, List.of(any, cur), ffn, rows);
            Tensor gate = node("ffn_gate", Op.MUL_MAT, F32, List.of(any, cur), ffn, rows);
            Tensor act = fusedSwiglu() ? node("swiglu", Op.GLU, F32, List.of(gate, up), ffn, rows)
                    : node("ffn_par", Op.MUL, F32, List.of(node("silu", Op.UNARY, F32, List.of(gate), ffn, rows),
                    up), ffn, rows);
            Tensor down = node("ffn_down", Op.MUL_MAT, F32, List.of(any, act), e, rows);
            inpL = node("l_out", Op.ADD, F32, List.of(down, ffnIn), e, rows);
        }
        Tensor norm = node("result_rms", Op.RMS_NORM, F32, List.of(inpL), e, tokens);
        norm = new Tensor("result_norm", Op.MUL, new long[]{e, tokens}, F32, List.of(norm, any), null, false, false,
                true, false);
        Tensor logits = new Tensor("result_output", Op.MUL_MAT, new long[]{vocab, tokens}, F32, List.of(any, norm),
                null, false, false, true, false);
        g.expand(logits);
        return g;
    }

    private static Tensor projection(Tensor x, long width, long tokens, boolean bias, Tensor any) {
        Tensor t = node("proj", Op.MUL_MAT, F32, List.of(any, x), width, tokens);
        return bias ? node("proj_b", Op.ADD, F32, List.of(t, any), width, tokens) : t;
    }

    /** The new K or V rows written into the cache: a view of the cache, so nothing is allocated for the result. */
    private static Tensor cacheWrite(String which, Tensor rows, Tensor index, long width, long nKv) {
        Tensor cache = new Tensor(which + "_cache_cells", Op.NONE, new long[]{1}, 1, List.of(), null, true, false,
                false, false);
        List<Tensor> src = index == null ? List.of(rows) : List.of(rows, index);
        Op op = index == null ? Op.CPY : Op.SET_ROWS;
        return new Tensor(which + "_store", op, new long[]{width, nKv}, F16, src, cache, false, false, false, false);
    }

    /**
     * ggml-backend's split of the graph (one copy, two backends): GPU nodes in buffer 0, the embedding gather and
     * the inputs in host buffer 1; each split begins with copies of the host tensors it reads.
     */
    private static List<Tensor> schedule(Graph g) {
        for (Tensor t : g.leafs) {
            t.buffer = t.input || t.hostWeight ? 1 : 0;
        }
        for (Tensor t : g.nodes) {
            t.buffer = t.op == Op.GET_ROWS && t.src.get(0).hostWeight ? 1 : 0;
        }
        List<Integer> bounds = new ArrayList<>();
        int current = -1;
        for (int i = 0; i < g.nodes.size(); i++) {
            Tensor t = g.nodes.get(i);
            if (t.op.isViewOp()) {
                continue;
            }
            if (t.buffer != current) {
                bounds.add(i);
                current = t.buffer;
            }
        }
        bounds.add(g.nodes.size());
        Map<Tensor, Map<Integer, Tensor>> copies = new HashMap<>();
        List<Tensor> out = new ArrayList<>();
        for (int si = 0; si + 1 < bounds.size(); si++) {
            List<Tensor> split = g.nodes.subList(si == 0 ? 0 : bounds.get(si), bounds.get(si + 1));
            int buffer = split.stream().filter(t -> !t.op.isViewOp()).findFirst().orElseThrow().buffer;
            List<Tensor> inputs = new ArrayList<>();
            for (Tensor t : split) {
                if (t.op.isViewOp()) {
                    continue;
                }
                for (int j = 0; j < t.src.size(); j++) {
                    Tensor s = t.src.get(j);
                    if (s == t || s.external && !s.input || s.buffer == buffer) {
                        continue;
                    }
                    Map<Integer, Tensor> byBuffer = copies.computeIfAbsent(s, k -> new HashMap<>());
                    Tensor copy = byBuffer.get(buffer);
                    if (copy == null) {
                        copy = new Tensor(s.name + "#copy", Op.NONE, s.shape, s.elementBytes, List.of(), null, false,
                                false, false, false);
                        copy.buffer = buffer;
                        byBuffer.put(buffer, copy);
                        inputs.add(s);
                    }
                    t.src.set(j, copy);
                }
            }
            for (Tensor s : inputs) {
                Tensor dependency = new Tensor(s.name + "(view)", Op.NONE, s.shape, s.elementBytes, List.of(s), s,
                        false, false, false, false);
                dependency.buffer = s.buffer;
                out.add(dependency);
                out.add(copies.get(s).get(buffer));
            }
            out.addAll(split);
        }
        return out;
    }
}
