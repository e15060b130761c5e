package org.gpuplan.bench;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.hardware.PriceCatalog;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.plan.PlanRequest;
import org.gpuplan.plan.Planner;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** Whole planner searches; the evaluated count of each is printed once so configurations/s can be derived. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class PlanBenchmark {

    private PlanRequest train405b;
    private PlanRequest train8b;
    private final GpuCatalog gpus = GpuCatalog.builtIn();
    private final PriceCatalog prices = PriceCatalog.builtIn();

    @Setup
    public void setUp() {
        ModelCatalog c = ModelCatalog.builtIn();
        var big = HfConfigParser.parse(c.config(c.find("meta-llama/Llama-3.1-405B").orElseThrow()), "b", "b").spec();
        var small = HfConfigParser.parse(c.config(c.find("meta-llama/Llama-3.1-8B").orElseThrow()), "s", "s").spec();
        train405b = new PlanRequest("b", big, Map.of("model", "b", "task", "train", "tokens", "1e10"),
                PlanRequest.Objective.COST, OptionalDouble.empty(), OptionalDouble.empty(), 1024, List.of(), List.of(),
                Optional.empty(), false, Set.of(), OptionalDouble.empty(), OptionalDouble.empty(),
                OptionalDouble.empty());
        train8b = new PlanRequest("s", small, Map.of("model", "s", "task", "train", "tokens", "1e9"),
                PlanRequest.Objective.COST, OptionalDouble.of(86400), OptionalDouble.empty(), 1024, List.of(),
                List.of(), Optional.empty(), false, Set.of(), OptionalDouble.empty(), OptionalDouble.empty(),
                OptionalDouble.empty());
        System.out.println("evaluated per plan: 405B " + Planner.plan(train405b, gpus, prices, p -> { }).evaluated()
                + ", 8B " + Planner.plan(train8b, gpus, prices, p -> { }).evaluated());
    }

    @Benchmark
    public int plan405bWholeCatalog() {
        return Planner.plan(train405b, gpus, prices, p -> { }).plans().size();
    }

    @Benchmark
    public int plan8bWholeCatalogWithDeadline() {
        return Planner.plan(train8b, gpus, prices, p -> { }).plans().size();
    }
}
