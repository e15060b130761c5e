package org.gpuplan.perf;

/**
 * One matrix multiply of a layer, per token: {@code tokens × in → tokens × out}, {@code count} times (experts).
 *
 * @param name  what it is (q_proj, mlp_up, experts …)
 * @param in    input features (K)
 * @param out   output features (N)
 * @param count how many such matrices one token passes through (top-k experts: k)
 * @param stored how many such matrices are stored (experts: E); weights read per step scale with this
 */
record Gemm(String name, long in, long out, int count, int stored) {

    static Gemm dense(String name, long in, long out) {
        return new Gemm(name, in, out, 1, 1);
    }

    /** Forward FLOPs per token: 2·in·out per matrix passed through. */
    double flopsPerToken() {
        return 2.0 * in * out * count;
    }
}
