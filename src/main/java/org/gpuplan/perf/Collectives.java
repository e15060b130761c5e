package org.gpuplan.perf;

import org.gpuplan.hardware.Gpu;

/**
 * NCCL-style collective times: ring algorithms, bandwidth term {@code factor · bytes / bus bandwidth} plus a latency
 * term per step. Inside the scale-up domain the link (NVLink/PCIe/XGMI) carries it; a group that spans domains runs
 * at the per-GPU network bandwidth.
 *
 * @param efficiency achievable fraction of link bandwidth (nccl-tests all-reduce on A100: 235 of 300 GB/s ≈ 0.8)
 */
record Collectives(Gpu gpu, double efficiency) {

    static final double DEFAULT_EFFICIENCY = 0.8;
    /** Per ring step latency: ~5 µs inside a node (NVLink/PCIe), ~15 µs across the network (NCCL LL/tree regime). */
    static final double LINK_LATENCY_S = 5e-6;
    static final double NETWORK_LATENCY_S = 15e-6;

    double bandwidth(boolean spansDomains) {
        double gbs = spansDomains ? Math.min(gpu.interconnect().networkGBs(), gpu.interconnect().linkGBs())
                : gpu.interconnect().linkGBs();
        return gbs * 1e9 * efficiency;
    }

    private double latency(int n, boolean spans) {
        // ring steps are pipelined; NCCL's small-message algorithms make latency grow ~log2(n)
        return (spans ? NETWORK_LATENCY_S : LINK_LATENCY_S) * Math.max(1, Math.ceil(Math.log(n) / Math.log(2)));
    }

    /** All-reduce of {@code bytes} per rank over n ranks: 2(n−1)/n · bytes / bw. */
    double allReduce(double bytes, int n, boolean spans) {
        return n <= 1 ? 0 : 2.0 * (n - 1) / n * bytes / bandwidth(spans) + 2 * latency(n, spans);
    }

    /** All-gather (or reduce-scatter) whose full result is {@code bytes}: (n−1)/n · bytes / bw. */
    double allGather(double bytes, int n, boolean spans) {
        return n <= 1 ? 0 : (double) (n - 1) / n * bytes / bandwidth(spans) + latency(n, spans);
    }

    /** All-to-all where each rank holds {@code bytes} and keeps 1/n of it: (n−1)/n · bytes / bw. */
    double allToAll(double bytes, int n, boolean spans) {
        return n <= 1 ? 0 : (double) (n - 1) / n * bytes / bandwidth(spans) + latency(n, spans);
    }

    /** Point-to-point send of {@code bytes}. */
    double sendRecv(double bytes, boolean spans) {
        return bytes / bandwidth(spans) + (spans ? NETWORK_LATENCY_S : LINK_LATENCY_S);
    }
}
