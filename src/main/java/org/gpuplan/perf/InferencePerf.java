package org.gpuplan.perf;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.TensorDtype;
import org.gpuplan.memory.KvCache;
import org.gpuplan.memory.MemoryEstimate;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.QuantFormat;
import org.gpuplan.workload.Workload;

/**
 * Serving time: prefill (time to first token) and decode steps (time per output token) as per-kernel rooflines over
 * the weights, the KV cache and the batch, plus tensor-parallel all-reduces; throughput from a steady cycle of
 * continuous batching at the given concurrency.
 *
 * <p>Steady state with {@code c} clients of equal prompt P and output O (how serving benchmarks run): each cycle
 * prefills c prompts and runs O decode steps of batch c, so throughput = c·O / (prefill(c·P) + O·decode(c));
 * a request's first token waits for the median of a wave of arrivals ((c+1)/2 prompts); the other requests'
 * prefills interleave with its decode steps, adding prefill(c·P)·(c−1)/c / O to its time per output token.
 */
final class InferencePerf {

    private InferencePerf() {
    }

    /**
     * GPU-side floor of one kernel: profiled HF decode steps on an H200 ran their small elementwise kernels at about
     * 1.3 µs each (calibration/results/h200-2026-11-26.jsonl); CUDA-graph replay reaches the same floor.
     */
    static final double GPU_KERNEL_S = 2e-6;
    /** Host time to issue one eager kernel without autograd (HF generate); see TrainingPerf.EAGER_HOST_S. */
    static final double EAGER_HOST_S = 20e-6;

    static PerfEstimate estimate(ModelSpec m, ParameterBreakdown p, Workload w, Gpu g, MemoryEstimate mem,
                                 long weightBytesTotal) {
        List<Figure> figs = new ArrayList<>();
        int tp = w.parallelism().tp() * w.parallelism().pp(); // pipeline stages serve one token in sequence
        int ep = w.parallelism().ep();
        boolean graphs = (w.framework() != Framework.HF || w.perf().compile()) && !w.perf().enforceEager();
        boolean fp8Tensor = w.quant() == QuantFormat.FP8 && g.supports(TensorDtype.FP8);
        TensorDtype dtype = fp8Tensor ? TensorDtype.FP8 : Roofline.dtypeOf(w.precision());
        // serving engines ship Hopper-native attention (FA3, FlashInfer, TRT-LLM)
        Roofline r = Roofline.of(g, dtype, w.perf(), GPU_KERNEL_S, w.framework().servingOnly(),
                w.attention() == org.gpuplan.workload.AttentionImpl.FLASH1);
        Collectives c = new Collectives(g, w.perf().commEfficiency().orElse(Collectives.DEFAULT_EFFICIENCY));
        double act = w.precision().computeBytes();
        double bpw = weightBytesTotal / (double) Math.max(1, p.totalCount());
        // weight-only formats dequantize in the matmul: 8-bit convert + scale (1 more instruction than 16-bit),
        // 4-bit unpack (shift, mask) + convert + scale/zero (3 more)
        double dequant = fp8Tensor || bpw >= act * 0.9 ? 0 : bpw > 0.9 ? 1 : 3;
        boolean elt = w.framework() != Framework.HF || w.perf().compile();
        int prompt = w.promptTokens();
        int output = w.outputTokens();
        int conc = w.batchSize();
        double kvElem = w.kvDtype().bytes(w.precision().computeBytes());
        boolean tpSpans = tp > g.interconnect().domainGpus(w.parallelism().gpusPerNode());
        // --cpu-offload-gb: every forward reads that much of the rank's weights from pinned host memory over the host
        // link (UVA), at the link's rate instead of HBM's
        double hostWeights = org.gpuplan.memory.InferenceMemory.offloadedBytes(weightBytesTotal / tp, w);
        double hostRead = hostWeights / (g.hostLinkGBs() * 1e9 * r.memoryEfficiency());

        // prefill of n prompts
        java.util.function.DoubleFunction<double[]> prefill = n -> {
            double tokens = n * prompt;
            PassCost f = PassCost.forward(m, r, tokens, LayerShapes.causalKeys(prompt, 0),
                    LayerShapes.windowKeys(m, prompt), 0, tp, ep, bpw, act, elt, dequant);
            double head = PassCost.lmHead(m, r, n, tp, bpw, act); // logits of each prompt's last token only
            double comm = 2 * m.numLayers() * c.allReduce(tokens * m.hiddenSize() * act, tp, tpSpans);
            return new double[] {f.timeS() + head + comm + hostRead, f.flops() + PassCost.lmHeadFlops(m, n) / tp,
                    f.bytes(), comm, f.kernels() + 4};
        };
        // one decode step of b sequences at context ctx
        boolean dynamicCache = w.framework() == Framework.HF && !w.perf().compile();
        java.util.function.DoubleFunction<double[]> decode = b -> {
            long ctx = prompt + output / 2;
            // per attention layer (linear-attention layers read their recurrent state instead, in PassCost)
            double kvPerLayer = KvCache.bytes(m, w, 1, ctx, kvElem) / (double) Math.max(1, m.attentionLayerCount()) * b;
            PassCost f = PassCost.forward(m, r, b, ctx, LayerShapes.decodeWindowKeys(m, ctx), kvPerLayer, tp, ep,
                    bpw, act, elt, dequant);
            double head = PassCost.lmHead(m, r, b, tp, bpw, act);
            double comm = 2 * m.numLayers() * c.allReduce(b * m.hiddenSize() * act, tp, tpSpans);
            // transformers' DynamicCache appends with torch.cat: every step copies each layer's whole K/V (read and
            // write), twice the cache's bytes (profiled on an H200: Llama-3.1-8B at batch 32 spent 4.7 ms per step
            // in elementwise kernels); paged engines and static caches write only the new token
            double cacheCopy = dynamicCache ? 2 * kvPerLayer * m.attentionLayerCount() / tp : 0;
            return new double[] {f.timeS() + head + comm + r.memory(cacheCopy) + hostRead, f.flops()
                    + PassCost.lmHeadFlops(m, b) / tp, f.bytes() + cacheCopy
                    + (double) m.hiddenSize() * m.vocabSize() / tp * bpw, comm, f.kernels() + 4 + 2 * m.numLayers()};
        };
        double[] one = prefill.apply(1);
        double[] wave = prefill.apply((conc + 1) / 2.0);
        double[] all = prefill.apply(conc);
        double[] step = decode.apply(conc);
        // eager generate issues every kernel from Python; CUDA graphs (serving engines, compiled decode) do not
        double hostPerKernel = graphs ? 0 : w.perf().hostOverheadUs().isPresent()
                ? w.perf().hostOverheadUs().getAsDouble() * 1e-6 : EAGER_HOST_S;
        double prefillAll = graphs ? all[0] : TrainingPerf.overlapped(all[0], all[4] * hostPerKernel);
        double decodeStep = graphs ? step[0] : TrainingPerf.overlapped(step[0], step[4] * hostPerKernel);
        // HF generate runs a static batch: every prompt prefills in one forward before the first token; engines
        // with continuous batching admit a wave of arrivals
        boolean staticBatch = w.framework() == Framework.HF;
        double burst = graphs ? wave[0] : TrainingPerf.overlapped(wave[0], wave[4] * hostPerKernel);
        double tpot = decodeStep + (conc > 1 && !staticBatch ? all[0] * (conc - 1) / conc / output : 0);
        double cycle = prefillAll + output * decodeStep;
        // c clients in a closed loop (a benchmark at fixed concurrency): arrivals are spread over the cycle, so a
        // prompt waits for the step in progress (half a decode step) and, queueing behind other prompts whose
        // prefills take ρ = prefill(c prompts) / cycle of the GPU's time, ρ·p / (2(1 − ρ)) (M/D/1), then its own
        // prefill p
        double single = graphs ? one[0] : TrainingPerf.overlapped(one[0], one[4] * hostPerKernel);
        double rho = Math.min(0.95, prefillAll / cycle);
        double steady = single + (conc > 1 ? rho * single / (2 * (1 - rho)) + decodeStep / 2 : 0);
        double ttft = staticBatch ? prefillAll : steady;
        double throughput = conc * output / cycle;
        double peak = g.peakTflops(dtype) * 1e12;
        double computeUtil = Math.min(1, (all[1] + output * step[1]) / (cycle * peak));
        double bwUtil = Math.min(1, (all[2] + output * step[2]) / (cycle * g.memoryBandwidthTbs() * 1e12));
        double maxConc = mem.pool().map(MemoryEstimate.KvPool::maxConcurrency).orElse(Double.NaN);
        double decodeIntensity = step[1] / Math.max(1, step[2]);
        double ridge = peak * r.matmulCeiling() / (g.memoryBandwidthTbs() * 1e12 * r.memoryEfficiency());
        boolean hostBound = step[4] * hostPerKernel > step[0];
        String bound = hostBound ? "host-bound" : decodeIntensity < ridge ? "memory-bound"
                : "compute-bound";

        java.util.function.Supplier<String> setup = () -> String.format(Locale.ROOT, "%s peak %.0f TFLOPS × "
                        + "ceiling %.3f; %.3f TB/s × %.2f; "
                        + "%.3g bytes per weight%s; tp %d; %s", dtype, g.peakTflops(dtype), r.matmulCeiling(),
                g.memoryBandwidthTbs(), r.memoryEfficiency(), bpw, dequant > 0 ? " (weight-only, dequantized)" : "",
                tp, graphs ? "CUDA graphs" : "eager kernels") + (hostWeights > 0 ? String.format(Locale.ROOT,
                "; %.2f GiB of weights read from host memory in every forward over a %.0f GB/s link (--cpu-offload-gb)",
                hostWeights / (1L << 30), g.hostLinkGBs()) : "");
        figs.add(new Figure("ttft_s", "time to first token", ttft, "s", () -> staticBatch ? String.format(Locale.ROOT,
                "static batch (HF generate): prefill of all %d prompts × %d tokens together (a single prompt alone: "
                        + "%.4g s); %s", conc, prompt, one[0], setup.get()) : String.format(Locale.ROOT,
                "steady state of %d clients in a closed loop: own prefill %.4g s (%d tokens) + queueing behind "
                        + "other prompts ρ·p/(2(1−ρ)) with ρ = prefill share of the cycle %.3f + half a decode step "
                        + "%.4g s; %s", conc, single, prompt, rho, decodeStep / 2, setup.get())));
        if (!staticBatch && conc > 1) {
            figs.add(new Figure("ttft_burst_s", "time to first token, all arriving at once", burst, "s",
                    () -> String.format(Locale.ROOT, "prefill of (c+1)/2 = %.1f prompts × %d tokens: the mean wait "
                            + "when all %d requests arrive together (the first wave of a benchmark)", (conc + 1) / 2.0,
                            prompt, conc)));
        }
        figs.add(new Figure("prefill_gpu_s", "GPU time to prefill the batch", all[0], "s", () -> String.format(
                Locale.ROOT, "one forward over %d prompts × %d tokens, per-kernel rooflines; LM head on the last "
                        + "token of each", conc, prompt)));
        if (!graphs) {
            figs.add(new Figure("host_time_per_token_s", "host time per decode step", step[4] * hostPerKernel, "s",
                    () -> String.format(Locale.ROOT, "%.0f kernels × %.0f µs (eager PyTorch dispatch + launch); a decode "
                            + "step takes the larger of this and its GPU time plus %.1f × the smaller", step[4],
                            hostPerKernel * 1e6, TrainingPerf.HOST_GPU_EXPOSED)));
        }
        figs.add(new Figure("tpot_s", "time per output token", tpot, "s", () -> String.format(Locale.ROOT,
                "decode step of %d sequences at context %d: weights + KV-cache reads, GEMMs, 2 all-reduces per layer "
                        + "(%.4g s)%s + other requests' prefills spread over %d output tokens (%.4g s)", conc,
                prompt + output / 2, step[0], graphs ? "" : String.format(Locale.ROOT, "; %s with eager launches "
                        + "(see host_time_per_token_s): %.4g s", hostBound ? "host-bound" : "GPU-bound", decodeStep),
                output, tpot - decodeStep)));
        figs.add(new Figure("decode_step_s", "GPU time of a decode step", step[0], "s", () -> "one forward of the "
                + "batch's next tokens; all-reduce share " + String.format(Locale.ROOT, "%.4g s", step[3])
                + (dynamicCache ? "; HF DynamicCache copies the whole K/V cache each step (torch.cat)" : "")));
        figs.add(new Figure("output_tokens_per_s", "output tokens/s", throughput, "tokens/s", () -> String.format(
                Locale.ROOT, "c·O / (prefill(c·P) + O·decode) = %d × %d / (%.4g + %d × %.4g) s", conc, output,
                prefillAll, output, decodeStep)));
        figs.add(new Figure("requests_per_s", "requests/s", conc / cycle, "requests/s", "c / cycle"));
        if (!Double.isNaN(maxConc)) {
            figs.add(new Figure("max_concurrency", "max concurrency", maxConc, "sequences",
                    "KV pool tokens / tokens per sequence (prompt + output)"));
        }
        figs.add(new Figure("compute_utilization", "compute utilization", computeUtil, "fraction",
                "FLOPs of a cycle / (cycle time × dense peak)"));
        figs.add(new Figure("memory_bandwidth_utilization", "memory-bandwidth utilization", bwUtil, "fraction",
                "bytes moved in a cycle / (cycle time × memory bandwidth)"));
        return new PerfEstimate(figs, Double.NaN, throughput, Double.NaN, Double.NaN, Double.NaN, Double.NaN, ttft,
                tpot, throughput, maxConc, computeUtil, bwUtil, bound);
    }
}
