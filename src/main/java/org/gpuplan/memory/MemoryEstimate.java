package org.gpuplan.memory;

import java.util.List;
import java.util.Optional;
import org.gpuplan.model.Term;

/**
 * GPU memory of one job on its most loaded GPU: each term with its formula, the phases and the three peaks users
 * see (torch allocated, torch reserved, nvidia-smi).
 *
 * @param terms            weights, gradients, optimizer, activations, KV cache, temporaries, overhead (bytes)
 * @param phases           the moments considered for the peak
 * @param peakPhase        the phase with the largest allocation
 * @param peakAllocated    what {@code torch.cuda.max_memory_allocated()} would report
 * @param peakReserved     what {@code torch.cuda.max_memory_reserved()} would report
 * @param deviceUsed       what nvidia-smi would show for the process
 * @param pool             the KV pool of engines that pre-allocate one
 * @param explanations     the peak terms' formulas (peak_allocated, peak_reserved, device_used)
 * @param assumptions      defaults the estimate relies on
 * @param hostBytes        what the rank keeps in host memory: offloaded parameters, gradients, optimizer states or
 *                         activations
 */
public record MemoryEstimate(List<Term> terms, List<Phase> phases, Phase peakPhase, long peakAllocated,
                             long peakReserved, long deviceUsed, Optional<KvPool> pool, List<Term> explanations,
                             List<String> assumptions, long hostBytes) {

    /** An estimate that keeps nothing in host memory. */
    public MemoryEstimate(List<Term> terms, List<Phase> phases, Phase peakPhase, long peakAllocated,
                          long peakReserved, long deviceUsed, Optional<KvPool> pool, List<Term> explanations,
                          List<String> assumptions) {
        this(terms, phases, peakPhase, peakAllocated, peakReserved, deviceUsed, pool, explanations, assumptions, 0);
    }

    /**
     * No GPU job needs 64 PiB (2^56 bytes) on one GPU; a figure beyond it (or below zero) means the workload's sizes
     * saturated or overflowed the arithmetic, so it is refused instead of printed.
     */
    static final long LIMIT = 1L << 56;

    public MemoryEstimate {
        for (Term t : terms) {
            requireSane(t.value());
        }
        for (Phase ph : phases) {
            requireSane(ph.bytes());
        }
        requireSane(peakAllocated);
        requireSane(peakReserved);
        requireSane(deviceUsed);
        requireSane(hostBytes);
        terms = List.copyOf(terms);
        phases = List.copyOf(phases);
        explanations = List.copyOf(explanations);
        assumptions = List.copyOf(assumptions);
    }

    /**
     * The same estimate with a term that is allocated once and alive in every phase (a linear-attention model's
     * recurrent state beside its KV cache): every phase and peak grows by its bytes.
     */
    public MemoryEstimate plusResident(Term t) {
        long v = t.value();
        List<Term> more = new java.util.ArrayList<>(terms);
        int kv = more.stream().map(Term::key).toList().indexOf("kv_cache");
        more.add(kv < 0 ? more.size() : kv + 1, t); // beside the KV cache it complements
        List<Phase> grown = phases.stream().map(ph -> {
            List<String> contents = new java.util.ArrayList<>(ph.contents());
            contents.add(t.key());
            return new Phase(ph.name(), ph.bytes() + v, contents);
        }).toList();
        Phase peak = grown.get(phases.indexOf(peakPhase));
        List<Term> explained = explanations.stream().map(e -> new Term(e.key(), e.label(), e.value() + v,
                () -> e.formula() + " + " + t.label())).toList();
        return new MemoryEstimate(more, grown, peak, peakAllocated + v, peakReserved + v, deviceUsed + v, pool,
                explained, assumptions, hostBytes);
    }

    /** The same estimate with {@code bytes} kept in host memory. */
    public MemoryEstimate withHostBytes(long bytes) {
        return new MemoryEstimate(terms, phases, peakPhase, peakAllocated, peakReserved, deviceUsed, pool,
                explanations, assumptions, bytes);
    }

    /** Whether a figure is one a memory estimate accepts: from 0 to 64 PiB. */
    public static boolean sane(long bytes) {
        return bytes >= 0 && bytes <= LIMIT;
    }

    private static void requireSane(long bytes) {
        if (!sane(bytes)) {
            throw new org.gpuplan.model.InvalidInputException("seq_len, batch_size: the job would need more than "
                    + "64 PiB (2^56 bytes) on one GPU; use smaller sizes");
        }
    }

    /** The bytes of a term (0 if the job has none). */
    public long bytes(String key) {
        return terms.stream().filter(t -> t.key().equals(key)).mapToLong(Term::value).sum();
    }

    /**
     * A serving engine's pre-allocated KV cache.
     *
     * @param poolBytes       KV pool per GPU
     * @param capacityTokens  tokens the pool holds
     * @param maxConcurrency  sequences of the requested context that fit at once
     * @param activationPeak  the engine's profile-run activation peak it reserved
     * @param nonTorchBytes   memory outside PyTorch the engine subtracted
     */
    public record KvPool(long poolBytes, long capacityTokens, double maxConcurrency, long activationPeak,
                         long nonTorchBytes) {

        /** Nothing left for the KV cache: the engine refuses to start. */
        public boolean empty() {
            return poolBytes <= 0;
        }

        /** The pool holds the requested sequences' cache and at least one whole sequence of {@code context} tokens. */
        public boolean holds(long kvCacheBytes, long context) {
            return holdsOneSequence(context) && kvCacheBytes <= poolBytes;
        }

        /**
         * The pool holds one whole sequence of {@code context} tokens: vLLM refuses to start otherwise (its max_model_len
         * check against the KV cache's capacity).
         */
        public boolean holdsOneSequence(long context) {
            return !empty() && capacityTokens >= context;
        }
    }
}
