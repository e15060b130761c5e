package org.gpuplan.io;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What a weights file (or a set of shards) actually stores, aggregated while its header is read: tensors, elements and
 * bytes per dtype and per parameter term. Aggregating on the fly keeps memory flat however many tensors a header
 * declares.
 *
 * @param format           "safetensors" or "gguf"
 * @param files            number of files read
 * @param tensorCount      tensors declared
 * @param totalElements    elements over all tensors
 * @param dataBytes        bytes of tensor data
 * @param byDtype          per stored dtype
 * @param elementsByTerm   elements per parameter term (embeddings, attention, …)
 * @param layerCount       blocks seen in tensor names (highest index + 1), 0 if none
 * @param expertCount      routed experts seen in tensor names, 0 if none
 * @param declaredTotalSize the {@code total_size} of a sharded index, when only the index was available
 */
public record TensorSummary(String format, int files, long tensorCount, long totalElements, long dataBytes,
                            Map<String, DtypeTotal> byDtype, Map<String, Long> elementsByTerm, int layerCount,
                            int expertCount, Optional<Long> declaredTotalSize) {

    public TensorSummary {
        byDtype = Collections.unmodifiableMap(new TreeMap<>(byDtype));
        elementsByTerm = Collections.unmodifiableMap(new LinkedHashMap<>(elementsByTerm));
    }

    /** Elements and bytes stored in one dtype. */
    public record DtypeTotal(long tensors, long elements, long bytes) {
        DtypeTotal plus(DtypeTotal o) {
            return new DtypeTotal(tensors + o.tensors, elements + o.elements, bytes + o.bytes);
        }
    }

    /** Average stored bits per element (includes block scales for quantized GGUF types). */
    public double bitsPerElement() {
        return totalElements == 0 ? 0 : dataBytes * 8.0 / totalElements;
    }

    /** Builds a summary one tensor at a time. */
    static final class Builder {
        private final String format;
        private int files;
        private long tensors;
        private long elements;
        private long bytes;
        private final Map<String, DtypeTotal> byDtype = new TreeMap<>();
        private final Map<String, Long> byTerm = new LinkedHashMap<>();
        private int maxLayer = -1;
        private final java.util.BitSet experts = new java.util.BitSet();
        private final int mainLayers;

        Builder(String format, int mainLayers) {
            this.format = format;
            this.mainLayers = mainLayers;
            for (TensorCategory c : TensorCategory.values()) {
                byTerm.put(c.key(), 0L);
            }
        }

        void file() {
            files++;
        }

        void add(String name, String dtype, long numElements, long numBytes) {
            tensors++;
            elements = Math.addExact(elements, numElements);
            bytes = Math.addExact(bytes, numBytes);
            byDtype.merge(dtype, new DtypeTotal(1, numElements, numBytes), DtypeTotal::plus);
            int layer = TensorCategory.layerIndex(name);
            TensorCategory category = TensorCategory.of(name, layer, mainLayers);
            byTerm.merge(category.key(), numElements, Long::sum);
            if (layer >= 0 && category != TensorCategory.MTP) {
                maxLayer = Math.max(maxLayer, layer);
            }
            int e = expertIndex(name);
            if (e >= 0 && e < 1 << 20) {
                experts.set(e);
            }
        }

        private static int expertIndex(String name) {
            int i = name.indexOf("experts.");
            if (i < 0) {
                return -1;
            }
            int j = i + "experts.".length();
            int k = j;
            while (k < name.length() && k - j < 7 && Character.isDigit(name.charAt(k))) {
                k++;
            }
            return k > j && k < name.length() && name.charAt(k) == '.' ? Integer.parseInt(name.substring(j, k)) : -1;
        }

        TensorSummary build(Optional<Long> declaredTotalSize) {
            Map<String, Long> terms = new LinkedHashMap<>();
            byTerm.forEach((k, v) -> {
                if (v > 0) {
                    terms.put(k, v);
                }
            });
            return new TensorSummary(format, files, tensors, elements, bytes, byDtype, terms, maxLayer + 1,
                    experts.cardinality(), declaredTotalSize);
        }
    }
}
