package org.gpuplan.memory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Checkpointing;
import org.gpuplan.workload.LossImpl;
import org.gpuplan.workload.Method;
import org.gpuplan.workload.OptimizerKind;
import org.gpuplan.workload.Workload;

/**
 * The tensors a transformers/PEFT training loop asks the caching allocator for, in the order it asks, over a few
 * steps (model built on the GPU; each step: forward with the loss, backward, optimizer step, zero_grad with
 * set_to_none), replayed through {@link CachingAllocator}. What it answers is the allocator's slack: how far reserved
 * memory runs above allocated memory. That gap comes from the order of requests — a tensor created for the first
 * time at the first optimizer step (the states) takes a cached block cut for the previous forward's logits, so the
 * next forward cuts new segments — so no share of the byte totals follows it (measured on an H200: 2 % to 26 % of
 * the allocated peak; calibration/results/allocator-h200-2026-11-26.jsonl).
 * <p>
 * The sequence is the estimator's own terms cut into tensors: every parameter (per Linear instance from the
 * architecture, embeddings, norms), its gradient and optimizer states; each layer's saved bytes as its MLP-wide
 * tensors (c·f per token, up to four), the eager attention probabilities, then hidden-wide tensors (c·h per token);
 * the loss's logits chain; the layer's backward working set. Sizes within a layer are therefore an approximation of
 * autograd's tensors, sums are the estimator's.
 */
final class TrainingAllocations {

    /**
     * Steps replayed: the first creates the optimizer states, the second reuses what the first left cached (a third
     * changed no peak in the H200 allocator traces).
     */
    static final int STEPS = 2;
    /** Above this many parameter tensors (large MoE models with per-expert Linears) the replay is not run. */
    static final int MAX_TENSORS = 20_000;

    /** @param segments the segments held at the end, by size (as torch.cuda.memory_snapshot() lists them) */
    record Result(long peakAllocated, long peakReserved, java.util.SortedMap<Long, Integer> segments) {
        long slack() {
            return Math.max(0, peakReserved - peakAllocated);
        }
    }

    /** One parameter tensor: its bytes, whether it trains, its layer (-1 before the layers, L after). */
    record Param(String module, long bytes, long numel, boolean trainable, int layer, boolean quantized) {
    }

    /** Everything the replay needs besides the model: the estimator's byte terms. */
    record Inputs(List<Param> params, int gradBytes, int stateBytes, ActivationMemory.Saved saved,
                  ActivationMemory.Loss loss, long capacity) {
    }

    private TrainingAllocations() {
    }

    static boolean replayable(ModelSpec m) {
        return m.numLayers() <= 1024 && tensorCount(m) <= MAX_TENSORS;
    }

    private static long tensorCount(ModelSpec m) {
        long n = 4L + 2L * m.numLayers();
        for (LinearModule lm : LinearModules.of(m)) {
            n += lm.fusedParameter() || lm.expert() ? m.numLayers() : lm.count();
        }
        return n;
    }

    /**
     * The model's parameters as the replays allocate them: the breakdown split into the token embedding, the untied
     * head, the Linear modules and the rest (norms, biases, position tables), in construction order.
     */
    static List<Param> params(ModelSpec m, Workload w, org.gpuplan.model.ParameterBreakdown p) {
        long embeddings = Math.min(p.count("embeddings"), (long) m.vocabSize() * m.hiddenSize());
        long head = p.count("lm_head");
        long linear = LinearModules.of(m).stream().filter(lm -> !lm.name().equals("lm_head"))
                .mapToLong(LinearModule::parameters).sum();
        return params(m, w, embeddings, head, p.totalCount() - embeddings - head - linear);
    }

    /** Bytes the device can give the replay's segments: the GPU's CUDA total less the context; unlimited without one. */
    static long capacity(java.util.Optional<org.gpuplan.hardware.Gpu> gpu, Workload w) {
        return gpu.map(g -> g.cudaTotalBytes() - Overheads.context(w)).filter(c -> c > 0).orElse(Long.MAX_VALUE);
    }

    /** Parameters in construction order: embeddings, each layer's Linears and norms, final norm, untied head. */
    private static List<Param> params(ModelSpec m, Workload w, long embeddingParams, long headParams,
                                      long otherParams) {
        boolean full = w.method() == Method.FULL;
        // the weights as WeightMemory counts them (k-bit preparation upcasts what the quantizer left alone to fp32)
        int other = WeightMemory.otherBytes(w);
        int layers = m.numLayers();
        List<Param> out = new ArrayList<>();
        out.add(new Param("embeddings", embeddingParams * other, embeddingParams, full, -1, false));
        List<LinearModule> adapted = full ? List.of() : LoraAdapters.targets(m, w);
        long r = w.loraRank();
        int adapterBytes = LoraAdapters.bytesPerParameter(w);
        // bitsandbytes dequantizes its Linear weights for every matmul
        boolean quantized = WeightMemory.bitsAndBytes(w.quant());
        List<LinearModule> modules = LinearModules.of(m);
        long normParams = Math.max(0, otherParams) / Math.max(1, 2L * layers + 1);
        for (int layer = 0; layer < layers; layer++) {
            for (LinearModule lm : modules) {
                if (lm.name().equals("lm_head")) {
                    continue;
                }
                // instance j of the module sits in layer ⌊j·L/count⌋: all layers for per-layer modules, the MoE
                // layers' share of the experts
                long first = ceilDiv((long) layer * lm.count(), layers);
                long next = ceilDiv((long) (layer + 1) * lm.count(), layers);
                long instances = next - first;
                if (instances <= 0) {
                    continue;
                }
                long numel = lm.in() * lm.out();
                boolean adapt = adapted.stream().anyMatch(a -> a.name().equals(lm.name()));
                // transformers 5 holds a layer's experts as one 3-D parameter per projection (gate_up_proj,
                // down_proj), not one Linear per expert
                boolean fused = lm.fusedParameter() || lm.expert();
                long tensors = fused ? 1 : instances;
                long perTensor = fused ? numel * instances : numel;
                for (long t = 0; t < tensors; t++) {
                    out.add(new Param(lm.name(), Bytes.ceil(perTensor * WeightMemory.linearBytes(m, w, lm)),
                            perTensor, full, layer,
                            quantized && !fused));
                    if (adapt) {
                        out.add(new Param(lm.name(), r * lm.in() * adapterBytes, r * lm.in(), true, layer, false));
                        out.add(new Param(lm.name(), r * lm.out() * adapterBytes, r * lm.out(), true, layer, false));
                    }
                }
            }
            out.add(new Param("norm1", normParams * other, normParams, full, layer, false));
            out.add(new Param("norm2", normParams * other, normParams, full, layer, false));
        }
        out.add(new Param("final_norm", normParams * other, normParams, full, layers, false));
        if (headParams > 0) {
            out.add(new Param("lm_head", headParams * other, headParams, full, layers, false));
        }
        return out;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** Replays {@link #STEPS} steps of {@code w} and reports the allocator's peaks. */
    static Result replay(ModelSpec m, Workload w, Inputs in) {
        return new Replay(m, w, in).run();
    }

    /** The replay's state: live tensors by role. */
    private static final class Replay {
        private final ModelSpec m;
        private final Workload w;
        private final Inputs in;
        private final CachingAllocator alloc;
        private final Object[] grads;
        private final int[] first;
        private final int[] anchors;
        private final int[][] byAnchor;
        private final java.util.Map<Long, List<Long>> cuts = new java.util.HashMap<>();
        private final Object[][] states;
        private final int layers;
        private final int c;
        private final long n;
        private final long unitH;
        private final long unitF;
        private final long probs;
        private final long logits;
        private final List<Long> layerTensors;
        private final int attnOut;
        private final int norm2;
        private final double keptShare;
        private boolean statesCreated;

        Replay(ModelSpec m, Workload w, Inputs in) {
            this.m = m;
            this.w = w;
            this.in = in;
            this.alloc = new CachingAllocator(in.capacity(), w.perf().expandableSegments());
            this.grads = new Object[in.params().size()];
            // parameters come in layer order: [first[l], first[l + 1]) are layer l's; anchors are fixed per parameter
            this.first = new int[m.numLayers() + 2];
            java.util.Arrays.fill(first, -1);
            List<Param> ps = in.params();
            for (int i = ps.size() - 1; i >= 0; i--) {
                first[ps.get(i).layer() + 1] = i;
            }
            for (int l = first.length - 1, next = ps.size(); l >= 0; l--) {
                if (first[l] < 0) {
                    first[l] = next;
                }
                next = first[l];
            }
            this.states = new Object[in.params().size()][];
            this.layers = m.numLayers();
            Workload seqs = w.sequences();
            this.c = w.precision().computeBytes();
            this.n = (long) seqs.batchSize() * seqs.seqLen();
            this.unitH = Math.max(1, (long) c * m.hiddenSize() * n);
            long f = m.mlp() != null ? m.mlp().intermediateSize()
                    : (long) m.moe().expertIntermediateSize() * m.moe().topK();
            this.unitF = Math.max(1, (long) c * f * n);
            this.probs = w.attention() == org.gpuplan.workload.AttentionImpl.EAGER
                    ? (long) seqs.batchSize() * m.attention().numHeads() * seqs.seqLen() * seqs.seqLen() : 0;
            long fp32Hidden = 4L * m.hiddenSize() * n;
            long q = unitH;
            long kv = unitH;
            if (m.attention() instanceof org.gpuplan.model.Attention.Standard a) {
                q = (long) c * a.numHeads() * a.headDim() * n;
                kv = (long) c * a.numKvHeads() * a.headDim() * n;
            }
            List<Long> tensors = new ArrayList<>(List.of(fp32Hidden, unitH, q, kv, kv));
            if (probs > 0) {
                tensors.add(4 * probs);
                if (c != 4) {
                    tensors.add(c * probs);
                }
            }
            double all = in.saved().perLayer().stream().mapToDouble(Long::doubleValue).sum();
            this.keptShare = all > 0 ? Math.min(1, in.saved().layersTotal() / all) : 0;
            this.attnOut = tensors.size();
            this.norm2 = attnOut + 1;
            tensors.addAll(List.of(unitH, fp32Hidden, unitH, unitF, unitF, unitF, unitF));
            this.layerTensors = List.copyOf(tensors);
            this.anchors = ps.stream().mapToInt(p -> anchor(p.module())).toArray();
            // each layer's parameters in the order backward reaches them: by anchor, last first
            this.byAnchor = new int[first.length][];
            for (int l = -1; l <= layers; l++) {
                byAnchor[l + 1] = java.util.stream.IntStream.range(start(l), end(l)).boxed()
                        .sorted(java.util.Comparator.<Integer>comparingInt(i -> anchors[i]).reversed()
                                .thenComparing(java.util.Comparator.reverseOrder()))
                        .mapToInt(Integer::intValue).toArray();
            }
            this.logits = (long) ActivationMemory.lossWidth(m) * seqs.logitTokens();
        }

        Result run() {
            for (Param p : in.params()) {
                alloc.allocate(p.bytes()); // the weights stay for the whole run
            }
            // later micro-batches of an accumulation repeat the second one's requests: two stand for all
            int accum = Math.min(2, Math.max(1, w.gradAccum()));
            for (int step = 0; step < STEPS; step++) {
                for (int micro = 0; micro < accum; micro++) {
                    microBatch();
                }
                optimizerStep();
                if (w.gradsToNone() && !w.optimizerInBackward()) {
                    for (int i = 0; i < grads.length; i++) {
                        if (grads[i] != null) {
                            alloc.free(grads[i]);
                            grads[i] = null;
                        }
                    }
                }
            }
            return new Result(alloc.peakAllocated(), alloc.peakReserved(), alloc.segmentSizes());
        }

        /** One forward and backward. */
        private void microBatch() {
            ActivationMemory.Saved saved = in.saved();
            boolean checkpointed = w.checkpointing() == Checkpointing.FULL;
            Object shared = saved.shared() > 0 ? alloc.allocate(saved.shared()) : null;
            long outsideLayers = Math.max(0, saved.outside() - in.loss().saved());
            Deque<Object> outside = new ArrayDeque<>(split(outsideLayers, unitH).stream().map(alloc::allocate)
                    .toList());
            List<List<Object>> layerSaved = new ArrayList<>();
            List<List<Object>> autocastCopies = new ArrayList<>();
            for (int layer = 0; layer < layers; layer++) {
                autocastCopies.add(autocastCopies(layer));
                // a checkpointed layer computes what it would save and drops it at its end, keeping its input
                List<Object> dropped = checkpointed ? cut(saved.recompute()).stream().map(alloc::allocate).toList()
                        : List.of();
                dequantize(layer);
                layerSaved.add(cut(keptBytes(layer)).stream().map(alloc::allocate).toList());
                dropped.forEach(alloc::free);
            }
            // the loss: transients (logits, their fp32 copy) around the tensor it saves
            ActivationMemory.Loss loss = in.loss();
            boolean eager = w.lossImpl() == LossImpl.EAGER && loss.forward() == (c + 4L) * logits;
            List<Object> forward = (eager ? List.of((long) c * logits, 4 * logits) : split(loss.forward(), 4 * logits))
                    .stream().map(alloc::allocate).toList();
            Object lossSaved = loss.saved() > 0 ? alloc.allocate(loss.saved()) : null;
            forward.forEach(alloc::free);
            // backward of the loss: the log-softmax gradient chain, then the c-byte logits gradient
            List<Object> backward = split(loss.backward(), 4 * logits).stream().map(alloc::allocate).toList();
            if (lossSaved != null) {
                alloc.free(lossSaved);
            }
            Object logitsGrad = eager ? alloc.allocate((long) c * logits) : null;
            backward.forEach(alloc::free);
            // a tied embedding's LM-head gradient waits in the autograd buffer until the embedding's backward
            Object tiedHeadGrad = m.embeddings().tied() && in.params().get(0).trainable()
                    && grads[0] == null ? alloc.allocate(in.params().get(0).numel() * in.gradBytes()) : null;
            List<Param> params = in.params();
            int last = params.size() - 1;
            for (int i = last; i >= 0 && params.get(i).layer() == layers; i--) {
                produceGrad(i);
            }
            Object gradHidden = alloc.allocate(unitH);
            if (logitsGrad != null) {
                alloc.free(logitsGrad);
            }
            if (!outside.isEmpty()) {
                alloc.free(outside.pollLast());
            }
            for (int layer = layers - 1; layer >= 0; layer--) {
                gradHidden = layerBackward(layer, checkpointed, layerSaved.get(layer), gradHidden);
                autocastCopies.get(layer).forEach(alloc::free);
            }
            if (tiedHeadGrad != null) {
                // the embedding's own gradient is added into the waiting buffer, which becomes .grad
                alloc.allocateAndFree(in.params().get(0).numel() * in.gradBytes());
                grads[0] = tiedHeadGrad;
                if (w.optimizerInBackward()) {
                    createStates(0);
                    alloc.free(grads[0]);
                    grads[0] = null;
                }
            } else {
                produceGrad(0);
            }
            alloc.free(gradHidden);
            outside.forEach(alloc::free);
            if (shared != null) {
                alloc.free(shared);
            }
        }

        /**
         * One layer's backward: its saved tensors (rebuilt first when checkpointed) are walked last to first; each
         * gets a gradient of its own size, the weight gradients of the op that consumed it appear, and the tensor and
         * the previous gradient are released. Returns the gradient handed to the layer below.
         */
        private Object layerBackward(int layer, boolean checkpointed, List<Object> kept, Object incoming) {
            List<Long> sizes = checkpointed ? cut(in.saved().recompute()) : cut(keptBytes(layer));
            if (checkpointed) {
                dequantize(layer);
            }
            List<Object> tensors = checkpointed ? sizes.stream().map(alloc::allocate).toList() : kept;
            List<Param> params = in.params();
            Object previous = incoming;
            int[] order = byAnchor[layer + 1];
            int next = 0;
            for (int k = tensors.size() - 1; k >= 0; k--) {
                Object grad = alloc.allocate(sizes.get(k));
                // the parameters whose op consumed tensor k (anchors past the last tensor fall on it)
                while (next < order.length && Math.min(anchors[order[next]], tensors.size() - 1) == k) {
                    int i = order[next++];
                    if (params.get(i).quantized()) {
                        alloc.allocateAndFree(params.get(i).numel() * c); // dequantized again for the input gradient
                    }
                    produceGrad(i);
                }
                alloc.free(previous);
                previous = grad;
                alloc.free(tensors.get(k));
            }
            Object out = alloc.allocate(unitH);
            alloc.free(previous);
            if (checkpointed) {
                kept.forEach(alloc::free);
            }
            return out;
        }

        /**
         * What layer i keeps through forward: its share of the estimator's layer total (the per-layer list holds
         * what a layer would save without checkpointing; the total has checkpointing and offloading applied).
         */
        private long keptBytes(int layer) {
            return Bytes.ceil((double) in.saved().perLayer().get(layer) * keptShare);
        }

        /** Which of {@link #layerTensors} feeds the op that owns a parameter of this module. */
        private int anchor(String module) {
            if (module.equals("norm1")) {
                return 0;
            }
            if (module.equals("norm2")) {
                return norm2;
            }
            if (module.contains("down") || module.equals("fc2") || module.equals("w2") || module.equals("dense_4h_to_h")
                    || module.equals("mlp.c_proj") || module.equals("output.dense")) {
                return layerTensors.size() - 1;
            }
            if (module.contains("gate") || module.contains("up") || module.contains("expert") || module.equals("fc1")
                    || module.equals("w1") || module.equals("w3") || module.equals("c_fc")
                    || module.equals("dense_h_to_4h") || module.equals("intermediate.dense")) {
                return norm2 + 1;
            }
            if (module.startsWith("o_proj") || module.equals("dense") || module.equals("out_proj")
                    || module.equals("c_proj") || module.equals("attention.output.dense")) {
                return attnOut;
            }
            return 1;
        }

        private int start(int layer) {
            return first[layer + 1];
        }

        private int end(int layer) {
            return layer + 2 < first.length ? first[layer + 2] : in.params().size();
        }

        /** bitsandbytes dequantizes each quantized weight to the compute dtype for its matmul, then drops it. */
        private void dequantize(int layer) {
            for (int i = start(layer); i < end(layer); i++) {
                Param p = in.params().get(i);
                if (p.quantized()) {
                    alloc.allocateAndFree(p.numel() * c);
                }
            }
        }

        /** Autocast's 16-bit copy of each fp32 Linear weight, made at its first use and saved for backward. */
        private List<Object> autocastCopies(int layer) {
            if (!w.precision().mixed() || w.method() != Method.FULL) {
                return List.of();
            }
            List<Object> out = new ArrayList<>();
            for (int i = start(layer); i < end(layer); i++) {
                Param p = in.params().get(i);
                if (p.numel() > 4L * m.hiddenSize()) {
                    out.add(alloc.allocate(2 * p.numel()));
                }
            }
            return out;
        }

        /** A gradient arrives: the first becomes .grad; a later micro-batch's is added in place and freed. */
        private void produceGrad(int i) {
            Param p = in.params().get(i);
            if (!p.trainable()) {
                return;
            }
            long bytes = p.numel() * in.gradBytes();
            if (grads[i] == null) {
                grads[i] = alloc.allocate(bytes);
            } else {
                alloc.allocateAndFree(bytes);
            }
            if (w.optimizerInBackward()) {
                createStates(i);
                alloc.free(grads[i]);
                grads[i] = null;
            }
        }

        private void optimizerStep() {
            if (w.optimizerInBackward()) {
                return;
            }
            if (!statesCreated) {
                for (int i = 0; i < grads.length; i++) {
                    if (grads[i] != null) {
                        createStates(i);
                    }
                }
                statesCreated = true;
            }
            List<Param> params = in.params();
            OptimizerKind kind = w.optimizer();
            if (kind == OptimizerKind.ADAMW) {
                // torch.optim.AdamW (foreach): _foreach_sqrt(exp_avg_sqs) makes one temporary per parameter
                List<Object> sqrt = new ArrayList<>();
                for (int i = 0; i < params.size(); i++) {
                    if (grads[i] != null) {
                        sqrt.add(alloc.allocate(params.get(i).numel() * in.stateBytes()));
                    }
                }
                sqrt.forEach(alloc::free);
            } else if (kind == OptimizerKind.ADAMW_HF || kind == OptimizerKind.ADAFACTOR) {
                // per-parameter updates: one parameter-sized temporary at a time (Adafactor's in fp32)
                int tempBytes = kind == OptimizerKind.ADAFACTOR ? 4 : in.stateBytes();
                for (int i = 0; i < params.size(); i++) {
                    if (grads[i] != null) {
                        alloc.allocateAndFree(params.get(i).numel() * tempBytes);
                    }
                }
            }
        }

        /** The optimizer's states of parameter i, created at its first step in parameter order. */
        private void createStates(int i) {
            if (states[i] != null) {
                return;
            }
            long numel = in.params().get(i).numel();
            double[] perState = switch (w.optimizer()) {
                case ADAMW, ADAMW_FUSED, ADAMW_HF -> new double[] {in.stateBytes(), in.stateBytes()};
                case ADAMW_8BIT -> new double[] {1, 1};
                case ADAMW_4BIT -> new double[] {0.5, 0.5};
                case SGD_MOMENTUM, LION -> new double[] {in.stateBytes()};
                case LION_8BIT -> new double[] {1};
                // paged states live in managed memory; Adafactor's factored rows and columns are small; SGD has none
                case PAGED_ADAMW, PAGED_ADAMW_8BIT, ADAFACTOR, SGD -> new double[0];
            };
            states[i] = new Object[perState.length];
            for (int k = 0; k < perState.length; k++) {
                states[i][k] = alloc.allocate(Bytes.ceil(numel * perState[k]));
            }
        }

        /**
         * A layer's saved bytes as tensors, in the order a pre-norm block makes them: the first norm's fp32 input and
         * its output, q, k, v (and the eager attention probabilities, fp32 and their cast), the attention output, the
         * second norm's, four MLP-wide tensors; what the estimator counts beyond them as hidden-wide tensors. The
         * sizes decide which cached block each tensor can reuse: a 32 MiB weight gradient fits where a 32 MiB fp32
         * norm input was freed, not where a 56 MiB MLP tensor was.
         */
        private List<Long> cut(long bytes) {
            return cuts.computeIfAbsent(bytes, this::cutOnce);
        }

        private List<Long> cutOnce(long bytes) {
            List<Long> out = new ArrayList<>();
            long left = bytes;
            for (long t : layerTensors) {
                if (t > left) {
                    break;
                }
                out.add(t);
                left -= t;
            }
            out.addAll(split(left, unitH));
            return out;
        }
    }

    /** {@code bytes} as tensors of {@code unit} bytes and one remainder (at most 8 pieces, larger ones past that). */
    static List<Long> split(long bytes, long unit) {
        List<Long> out = new ArrayList<>();
        if (bytes <= 0) {
            return out;
        }
        long size = Math.max(unit, ceilDiv(bytes, 8));
        long left = bytes;
        while (left > 0) {
            long t = Math.min(size, left);
            out.add(t);
            left -= t;
        }
        return out;
    }
}
