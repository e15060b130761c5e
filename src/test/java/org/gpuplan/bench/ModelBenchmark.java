package org.gpuplan.bench;

import java.util.concurrent.TimeUnit;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.model.ParameterCounter;
import org.gpuplan.report.ModelsReport;
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

/**
 * Model-layer speed: parsing a config.json and counting its parameters, and the whole catalog listing.
 * Run: {@code mvn -B -ntp test-compile exec:java -Dexec.args="ModelBenchmark"} (see docs/benchmarks.md).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ModelBenchmark {

    private ModelCatalog catalog;
    private String llamaConfig;
    private String deepseekConfig;

    @Setup
    public void setUp() {
        catalog = ModelCatalog.builtIn();
        llamaConfig = catalog.config(catalog.find("meta-llama/Llama-3.1-8B").orElseThrow());
        deepseekConfig = catalog.config(catalog.find("deepseek-ai/DeepSeek-V3").orElseThrow());
    }

    @Benchmark
    public long parseAndCountLlama() {
        return ParameterCounter.count(HfConfigParser.parse(llamaConfig, "m", "m").spec()).totalCount();
    }

    @Benchmark
    public long parseAndCountDeepSeekV3() {
        return ParameterCounter.count(HfConfigParser.parse(deepseekConfig, "m", "m").spec()).totalCount();
    }

    @Benchmark
    public int wholeCatalogListing() {
        return ModelsReport.of(catalog, java.util.Optional.empty(), java.util.Optional.empty(),
                java.util.Optional.empty()).rows().size();
    }

}
