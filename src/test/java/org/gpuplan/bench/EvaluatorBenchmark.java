package org.gpuplan.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.gpuplan.estimate.TrainingEvaluator;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Checkpointing;
import org.gpuplan.workload.Parallelism;
import org.gpuplan.workload.TrainingLayout;
import org.gpuplan.workload.WorkloadParser;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The planner's memory + time evaluation of one configuration ({@link TrainingEvaluator}), per second on one thread.
 * Each invocation evaluates every layout of a search space once: GPU counts 2–1,024, TP 1–8, PP 1–16, FSDP
 * no_shard/full_shard (Megatron: distributed optimizer), micro-batches 1–8, three checkpointing modes.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class EvaluatorBenchmark {

    /** Layouts per invocation: every benchmark evaluates this many (the space is cycled to fill it). */
    static final int LAYOUTS = 4096;

    private TrainingEvaluator llama405b;
    private TrainingEvaluator llama70bMegatron;
    private TrainingEvaluator mixtral;
    private final List<TrainingLayout> fsdpSpace = new ArrayList<>();
    private final List<TrainingLayout> megatronSpace = new ArrayList<>();
    private final List<TrainingLayout> moeSpace = new ArrayList<>();
    private final TrainingLayout layout = new TrainingLayout();
    private final TrainingEvaluator.Result result = new TrainingEvaluator.Result();

    @Setup(Level.Trial)
    public void setUp() {
        Gpu h100 = GpuCatalog.builtIn().require("H100-SXM-80GB");
        llama405b = evaluator("meta-llama/Llama-3.1-405B", h100, "fsdp");
        llama70bMegatron = evaluator("meta-llama/Llama-3.1-70B-Instruct", h100, "megatron");
        mixtral = evaluator("mistralai/Mixtral-8x7B-v0.1", h100, "fsdp");
        space(fsdpSpace, false, false);
        space(megatronSpace, true, false);
        space(moeSpace, false, true);
        // first evaluations fill the memoized passes; the measurement is the steady state a search reaches
        run(llama405b, fsdpSpace);
        run(llama70bMegatron, megatronSpace);
        run(mixtral, moeSpace);
        System.out.println("layouts: fsdp " + fsdpSpace.size() + ", megatron " + megatronSpace.size() + ", moe "
                + moeSpace.size());
    }

    private static TrainingEvaluator evaluator(String id, Gpu gpu, String framework) {
        ModelCatalog c = ModelCatalog.builtIn();
        ModelSpec spec = HfConfigParser.parse(c.config(c.find(id).orElseThrow()), id, id).spec();
        Map<String, String> keys = new HashMap<>(Map.of("model", id, "task", "train", "framework", framework,
                "gpus", "8", "tokens", "1e10"));
        TrainingEvaluator e = new TrainingEvaluator(spec, gpu, 1);
        e.setVariant(0, WorkloadParser.parse(keys));
        return e;
    }

    private static void space(List<TrainingLayout> out, boolean megatron, boolean moe) {
        for (int n = 2; n <= 1024; n *= 2) {
            for (int tp = 1; tp <= 8; tp *= 2) {
                for (int pp = 1; pp <= 16; pp *= 2) {
                    if (n % (tp * pp) != 0) {
                        continue;
                    }
                    int dp = n / (tp * pp);
                    for (int shard = 0; shard < 2; shard++) {
                        for (int ep = 1; ep <= (moe ? 8 : 1); ep *= 2) {
                            if (dp % ep != 0) {
                                continue;
                            }
                            for (Checkpointing ck : Checkpointing.values()) {
                                for (int b = 1; b <= 8; b *= 2) {
                                    TrainingLayout l = new TrainingLayout();
                                    l.gpus = n;
                                    l.nodes = Math.max(1, n / 8);
                                    l.tp = tp;
                                    l.pp = pp;
                                    l.ep = ep;
                                    l.sequenceParallel = tp > 1;
                                    if (megatron) {
                                        l.zero = shard;
                                    } else {
                                        l.fsdp = shard == 0 ? Parallelism.FsdpMode.NO_SHARD
                                                : Parallelism.FsdpMode.FULL_SHARD;
                                    }
                                    l.batchSize = b;
                                    l.globalBatchSize = Math.max(b * dp, 32);
                                    l.checkpointing = ck;
                                    out.add(l);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private void copy(TrainingLayout from) {
        layout.gpus = from.gpus;
        layout.nodes = from.nodes;
        layout.tp = from.tp;
        layout.pp = from.pp;
        layout.ep = from.ep;
        layout.sequenceParallel = from.sequenceParallel;
        layout.zero = from.zero;
        layout.fsdp = from.fsdp;
        layout.batchSize = from.batchSize;
        layout.globalBatchSize = from.globalBatchSize;
        layout.checkpointing = from.checkpointing;
    }

    private double run(TrainingEvaluator e, List<TrainingLayout> space) {
        double sum = 0;
        for (int i = 0; i < LAYOUTS; i++) {
            copy(space.get(i % space.size()));
            e.evaluate(0, layout, result);
            sum += result.fits ? result.tokensPerS : result.deviceUsedBytes;
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(LAYOUTS)
    public double llama405bFsdp() {
        return run(llama405b, fsdpSpace);
    }

    @Benchmark
    @OperationsPerInvocation(LAYOUTS)
    public double llama70bMegatron() {
        return run(llama70bMegatron, megatronSpace);
    }

    @Benchmark
    @OperationsPerInvocation(LAYOUTS)
    public double mixtralFsdpExpertParallel() {
        return run(mixtral, moeSpace);
    }
}
