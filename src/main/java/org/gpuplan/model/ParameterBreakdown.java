package org.gpuplan.model;

import java.util.List;
import java.util.Optional;

/**
 * Parameters of a model, term by term. {@code total} is every weight of the main model; {@code active} is what one
 * token passes through (all of it for dense models; only the top-k routed experts of each MoE layer). Multi-token
 * prediction modules are reported apart ({@code mtp}), as DeepSeek does.
 */
public record ParameterBreakdown(List<Term> terms, Term total, Term active, Term activeNonEmbedding, Term mtp) {

    public ParameterBreakdown {
        terms = List.copyOf(terms);
    }

    public long totalCount() {
        return total.value();
    }

    public long activeCount() {
        return active.value();
    }

    public Optional<Term> term(String key) {
        return terms.stream().filter(t -> t.key().equals(key)).findFirst();
    }

    /** The value of a term, 0 when the model has no such term. */
    public long count(String key) {
        for (Term t : terms) { // a plain loop: the sharded memory model asks for several terms per estimate
            if (t.key().equals(key)) {
                return t.value();
            }
        }
        return 0;
    }
}
