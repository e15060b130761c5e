package org.gpuplan.estimate;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.io.ModelResolver;
import org.gpuplan.io.ResolveOptions;
import org.junit.jupiter.api.Test;

/** The README's "From Java" example, as written there. */
class LibraryExampleTest {

    @Test
    void theReadmeExampleRuns() {
        ModelResolver models = new ModelResolver(ModelCatalog.builtIn(),
                ResolveOptions.fromEnvironment(Map.of(), false));
        Job job = Job.of(Map.of("model", "meta-llama/Llama-3.1-8B", "task", "train", "method", "qlora",
                "gpu", "RTX-4090", "batch_size", "2", "seq_len", "2048"), models, GpuCatalog.builtIn());
        Estimate e = job.estimate();
        long peak = e.memory().peakAllocated();          // bytes, what torch.cuda.max_memory_allocated() reports
        boolean fits = e.fit().orElseThrow().fits();
        double tokensPerS = e.perf().orElseThrow().tokensPerS();
        assertThat(peak).isPositive();
        assertThat(fits).isTrue();
        assertThat(tokensPerS).isPositive();
    }
}
