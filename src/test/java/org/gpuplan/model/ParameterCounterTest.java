package org.gpuplan.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Invariants of the counting over thousands of seeded random architectures. */
class ParameterCounterTest {

    static final int CASES = 2000;

    record Dims(int h, int heads, int kv, int d, int f, int vocab, int layers, int experts, int topK, boolean tied) {
        static Dims random(Random r) {
            int kv = 1 << r.nextInt(4);
            int heads = kv * (1 + r.nextInt(8));
            int experts = r.nextBoolean() ? 0 : 2 + r.nextInt(15);
            return new Dims(64 * (1 + r.nextInt(64)), heads, kv, 16 * (1 + r.nextInt(16)), 64 * (1 + r.nextInt(256)),
                    1 + r.nextInt(200_000), 1 + r.nextInt(96), experts, experts == 0 ? 0 : 1 + r.nextInt(experts),
                    r.nextBoolean());
        }

        ModelSpec spec() {
            return withLayers(layers);
        }

        ModelSpec withLayers(int n) {
            Moe moe = experts == 0 ? null : new Moe(experts, topK, f, 0, false, false, false, false);
            List<Layer> ls = new ArrayList<>(Collections.nCopies(n, new Layer(false, experts > 0)));
            return new ModelSpec("t", Family.LLAMA, List.of(), h, vocab, 4096, new Embeddings(tied, 0, 0),
                    new Attention.Standard(heads, kv, d, false, false, false, false, false),
                    experts == 0 ? new Mlp(f, true, false, false, "silu") : null, moe,
                    new Norms(NormKind.RMS_NORM, 2, true, false), ls, 0, new Head.CausalLm(), 0, null);
        }
    }

    @Test
    void totalIsTheSumOfTermsAndGrowsLinearlyWithLayers() {
        Random r = new Random(42);
        for (int i = 0; i < CASES; i++) {
            Dims dims = Dims.random(r);
            ParameterBreakdown one = ParameterCounter.count(dims.withLayers(1));
            ParameterBreakdown two = ParameterCounter.count(dims.withLayers(2));
            ParameterBreakdown n = ParameterCounter.count(dims.spec());
            assertThat(n.terms().stream().mapToLong(Term::value).sum()).isEqualTo(n.totalCount());
            long perLayer = two.totalCount() - one.totalCount();
            assertThat(n.totalCount()).as("%s", dims).isEqualTo(one.totalCount() + (dims.layers() - 1) * perLayer);
        }
    }

    @Test
    void tyingRemovesExactlyTheHeadMatrix() {
        Random r = new Random(7);
        for (int i = 0; i < CASES; i++) {
            Dims d = Dims.random(r);
            Dims untied = new Dims(d.h(), d.heads(), d.kv(), d.d(), d.f(), d.vocab(), d.layers(), d.experts(),
                    d.topK(), false);
            Dims tied = new Dims(d.h(), d.heads(), d.kv(), d.d(), d.f(), d.vocab(), d.layers(), d.experts(),
                    d.topK(), true);
            assertThat(ParameterCounter.count(untied.spec()).totalCount()
                    - ParameterCounter.count(tied.spec()).totalCount()).isEqualTo((long) d.vocab() * d.h());
        }
    }

    @Test
    void activeDropsExactlyTheUnusedExperts() {
        Random r = new Random(11);
        for (int i = 0; i < CASES; i++) {
            Dims d = Dims.random(r);
            ParameterBreakdown b = ParameterCounter.count(d.spec());
            long unused = d.experts() == 0 ? 0 : (long) d.layers() * (d.experts() - d.topK()) * 3L * d.h() * d.f();
            assertThat(b.totalCount() - b.activeCount()).as("%s", d).isEqualTo(unused);
            assertThat(b.activeCount()).isPositive().isLessThanOrEqualTo(b.totalCount());
        }
    }

    @Test
    void fewerKvHeadsShrinkOnlyKeyAndValueProjections() {
        Random r = new Random(3);
        for (int i = 0; i < CASES; i++) {
            Dims d = Dims.random(r);
            if (d.kv() == 1) {
                continue;
            }
            Attention.Standard mha = new Attention.Standard(d.heads(), d.kv(), d.d(), false, false, false, false, false);
            Attention.Standard gqa = new Attention.Standard(d.heads(), d.kv() / 2, d.d(), false, false, false, false,
                    false);
            assertThat(ParameterCounter.attentionPerLayer(mha, d.h()) - ParameterCounter.attentionPerLayer(gqa, d.h()))
                    .isEqualTo(2L * d.h() * d.d() * (d.kv() - d.kv() / 2));
        }
    }

    @Test
    void invalidArchitecturesFailFast() {
        assertThatThrownBy(() -> new Attention.Standard(6, 4, 64, false, false, false, false, false))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("multiple");
        assertThatThrownBy(() -> new Moe(8, 9, 128, 0, false, false, false, false))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("experts per token");
        assertThatThrownBy(() -> new Mlp(0, true, false, false, "silu"))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("intermediate_size");
        Dims d = new Dims(64, 4, 2, 16, 128, 100, 2, 0, 0, false);
        assertThatThrownBy(() -> d.withLayers(0)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("num_hidden_layers");
    }
}
