package org.gpuplan.memory;

import java.util.ArrayList;
import java.util.List;

/**
 * ggml's graph allocator (ggml-alloc.c, ggml_gallocr) as it sizes a compute buffer: every node of the graph gets an
 * offset in one buffer per backend; a tensor's memory returns to the free list when its last consumer has run; an
 * op that may work in place reuses its parent's memory when that parent has no other consumer and is not a view or
 * a graph output; a new tensor takes the best-fitting free block other than the open end, else the open end. The
 * buffer is the highest offset ever reached, which depends on the order of the nodes, not only on their sizes — why
 * a closed formula cannot follow it. Written from reading ggml-alloc.c of 2025-2026 builds; no code is copied.
 */
final class GgmlGraphAllocator {

    /** Operations whose result may overwrite a source (ggml_op_can_inplace). */
    enum Op {
        NONE(false), GET_ROWS(false), RMS_NORM(true), MUL(true), ADD(true), ROPE(true), UNARY(true), GLU(false),
        MUL_MAT(false), CPY(false), SET_ROWS(false), FLASH_ATTN_EXT(false), RESHAPE(false), VIEW(false),
        PERMUTE(false);

        final boolean inPlace;

        Op(boolean inPlace) {
            this.inPlace = inPlace;
        }

        boolean isViewOp() {
            return this == RESHAPE || this == VIEW || this == PERMUTE;
        }
    }

    /** One tensor of the graph; mutable only while the graph is built and scheduled. */
    static final class Tensor {
        final String name;
        final Op op;
        final long bytes;
        final int elementBytes;
        final long[] shape;
        final List<Tensor> src = new ArrayList<>();
        final Tensor viewSrc;
        final boolean external;
        final boolean input;
        final boolean output;
        final boolean hostWeight;
        int buffer;
        /** The allocator's bookkeeping (ggml's hash_node): a graph is built for one allocation. */
        final State state = new State();
        boolean visited;

        Tensor(String name, Op op, long[] shape, int elementBytes, List<Tensor> src, Tensor viewOf, boolean external,
               boolean input, boolean output, boolean hostWeight) {
            this.name = name;
            this.op = op;
            this.shape = java.util.Arrays.copyOf(shape, 4); // ggml's ne[4]: unused dimensions are 1
            for (int i = shape.length; i < 4; i++) {
                this.shape[i] = 1;
            }
            this.elementBytes = elementBytes;
            long n = elementBytes;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            this.bytes = n;
            this.src.addAll(src);
            this.viewSrc = viewOf == null ? null : viewOf.viewSrc != null ? viewOf.viewSrc : viewOf;
            this.external = external;
            this.input = input;
            this.output = output;
            this.hostWeight = hostWeight;
        }

        boolean isView() {
            return viewSrc != null;
        }

        boolean sameLayout(Tensor o) {
            return elementBytes == o.elementBytes && java.util.Arrays.equals(shape, o.shape);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /**
     * What the allocator reached in each buffer, the tensor whose placement set the device buffer's size, and the
     * graph's node count as llama.cpp logs it (before the scheduler's input copies).
     */
    record Result(long[] bufferBytes, String peakTensor, long peakTensorOffset, long peakTensorBytes,
                  int graphNodes) {
    }

    /** ggml_dyn_tallocr: free blocks sorted by offset; the last is the open end of the buffer. */
    private static final class DynamicBuffer {
        private final long alignment;
        private final List<long[]> blocks = new ArrayList<>();
        long maxSize;

        DynamicBuffer(long alignment) {
            this.alignment = alignment;
            blocks.add(new long[]{0, Long.MAX_VALUE / 4});
        }

        long aligned(long size) {
            return (size + alignment - 1) / alignment * alignment;
        }

        long allocate(long rawSize) {
            long size = aligned(rawSize);
            int best = -1;
            long bestSize = Long.MAX_VALUE;
            for (int i = 0; i < blocks.size() - 1; i++) {
                long s = blocks.get(i)[1];
                if (s >= size && s <= bestSize) {
                    best = i;
                    bestSize = s;
                }
            }
            if (best == -1) {
                best = blocks.size() - 1;
            }
            long[] b = blocks.get(best);
            long offset = b[0];
            b[0] += size;
            b[1] -= size;
            if (b[1] == 0) {
                blocks.remove(best);
            }
            maxSize = Math.max(maxSize, offset + size);
            return offset;
        }

        void free(long offset, long rawSize) {
            long size = aligned(rawSize);
            for (int i = 0; i < blocks.size(); i++) {
                long[] b = blocks.get(i);
                if (b[0] + b[1] == offset) { // grows the block before it, then joins the next one if they touch
                    b[1] += size;
                    if (i < blocks.size() - 1 && b[0] + b[1] == blocks.get(i + 1)[0]) {
                        b[1] += blocks.get(i + 1)[1];
                        blocks.remove(i + 1);
                    }
                    return;
                }
                if (offset + size == b[0]) { // grows the block after it, then joins the previous one
                    b[0] = offset;
                    b[1] += size;
                    if (i > 0 && blocks.get(i - 1)[0] + blocks.get(i - 1)[1] == b[0]) {
                        blocks.get(i - 1)[1] += b[1];
                        blocks.remove(i);
                    }
                    return;
                }
            }
            int at = 0;
            while (at < blocks.size() && blocks.get(at)[0] < offset) {
                at++;
            }
            blocks.add(at, new long[]{offset, size});
        }
    }

    /** Per-tensor bookkeeping of ggml_gallocr (hash_node). */
    private static final class State {
        int children;
        int views;
        boolean allocated;
        int buffer;
        long offset;
    }

    private final DynamicBuffer[] buffers;
    private String peakTensor = "";
    private long peakOffset;
    private long peakBytes;

    private GgmlGraphAllocator(long... alignments) {
        buffers = new DynamicBuffer[alignments.length];
        for (int i = 0; i < alignments.length; i++) {
            buffers[i] = new DynamicBuffer(alignments[i]);
        }
    }

    /**
     * Sizes the buffers for a scheduled graph (ggml_gallocr_alloc_graph_impl): leafs first, then the nodes in order,
     * each parent released after its last consumer.
     *
     * @param graphNodes the graph's own node count, reported back
     * @param alignments one per buffer (backend): 128 bytes on CUDA, 32 on the host
     */
    static Result allocate(List<Tensor> nodes, List<Tensor> leafs, int graphNodes, long... alignments) {
        GgmlGraphAllocator a = new GgmlGraphAllocator(alignments);
        for (Tensor l : leafs) {
            a.place(l, l.buffer);
        }
        for (Tensor n : nodes) {
            if (n.isView() && n.op != Op.NONE) {
                n.viewSrc.state.views++;
            }
            if (n.input) {
                a.place(n, n.buffer);
            }
            for (Tensor s : n.src) {
                s.state.children++;
                if (s.input) {
                    a.place(s, n.buffer);
                }
            }
        }
        for (Tensor n : nodes) {
            for (Tensor p : n.src) {
                a.place(p, n.buffer);
            }
            a.place(n, n.buffer);
            for (Tensor p : n.src) {
                State ps = p.state;
                ps.children--;
                if (ps.children == 0 && ps.views == 0) {
                    if (p.isView()) {
                        State vs = p.viewSrc.state;
                        vs.views--;
                        if (vs.views == 0 && vs.children == 0 && vs.allocated) {
                            a.release(p.viewSrc);
                        }
                    } else if (ps.allocated) {
                        a.release(p);
                    }
                }
            }
        }
        long[] sizes = new long[a.buffers.length];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = a.buffers[i].maxSize;
        }
        return new Result(sizes, a.peakTensor, a.peakOffset, a.peakBytes, graphNodes);
    }

    private void place(Tensor t, int buffer) {
        State h = t.state;
        if (t.external || h.allocated || t.isView()) {
            return;
        }
        h.allocated = true;
        if (t.op.inPlace && reuseParent(t, h)) {
            return;
        }
        h.buffer = buffer;
        long before = buffers[buffer].maxSize;
        h.offset = buffers[buffer].allocate(t.bytes);
        if (buffer == 0 && buffers[0].maxSize > before) {
            peakTensor = t.name;
            peakOffset = h.offset;
            peakBytes = t.bytes;
        }
    }

    /** In-place reuse: only a parent this allocator owns (never a view: ggml_gallocr_is_own is false for views). */
    private boolean reuseParent(Tensor t, State h) {
        for (Tensor p : t.src) {
            State ps = p.state;
            if (!ps.allocated || p.external || p.output || p.isView() || !t.sameLayout(p)) {
                continue;
            }
            if (ps.children == 1 && ps.views == 0) {
                h.buffer = ps.buffer;
                h.offset = ps.offset;
                ps.allocated = false;
                return true;
            }
        }
        return false;
    }

    private void release(Tensor t) {
        if (t.output) {
            return;
        }
        State h = t.state;
        buffers[h.buffer].free(h.offset, t.bytes);
        h.allocated = false;
    }
}
