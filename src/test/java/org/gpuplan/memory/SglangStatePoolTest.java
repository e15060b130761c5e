package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.HashMap;
import java.util.Map;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/**
 * SGLang's state pool for Qwen3.5-9B at TP 2 against its start-up log (SGLang dev11582, 2 × RTX 4090,
 * --mem-fraction-static 0.8): 'Load weight begin. avail mem=22.93 GB', 'Load weight end. ... avail mem=14.08 GB',
 * 'Mamba Cache is allocated. max_mamba_cache_size: 186, conv_state size: 0.10GB, ssm_state size: 4.38GB',
 * 'max_running_requests=62'.
 */
class SglangStatePoolTest {

    private static ModelSpec spec(String id) {
        ModelCatalog c = ModelCatalog.builtIn();
        return HfConfigParser.parse(c.config(c.find(id).orElseThrow()), id, id).spec();
    }

    private static Workload sglang() {
        Map<String, String> m = new HashMap<>();
        m.put("model", "Qwen/Qwen3.5-9B");
        m.put("task", "infer");
        m.put("framework", "sglang");
        return WorkloadParser.parse(m);
    }

    @Test
    void aSlotIsOneRequestsConvWindowAndFp32StateInEveryLinearLayerOfTheRank() {
        ModelSpec m = spec("Qwen/Qwen3.5-9B");
        // conv window 3 × (2·2048 + 4096) / 2 ranks × 2 B = 24,576 B; state 32·128·128 / 2 × 4 B = 1,048,576 B; 24 layers
        long rest = (long) ((14.08 - 22.93 * 0.2) * (1L << 30));
        SglangStatePool pool = SglangStatePool.of(m, sglang(), rest, 2, 24).orElseThrow();
        assertThat(pool.slotBytes()).isEqualTo(24L * (24_576 + 1_048_576));
        // 186 slots logged; the printed free memories are rounded to 0.01 GiB, which moves the split by a slot
        assertThat(pool.slots()).isBetween(186L, 187L);
        // with the logged 186 slots, the allocation (one padding slot more) reproduces both printed sizes
        double gib = 1L << 30;
        assertThat(187L * 24 * 24_576 / gib).isCloseTo(0.10, within(0.005));
        assertThat(187L * 24 * 1_048_576 / gib).isCloseTo(4.38, within(0.005));
        assertThat(new SglangStatePool(186, pool.slotBytes(), rest, 3).maxRunningRequests()).isEqualTo(62);
        // the KV pool gets what the counted slots leave
        assertThat(pool.kvBudget()).isEqualTo(rest - pool.slots() * pool.slotBytes());
    }

    @Test
    void otherEnginesAndModelsWithoutLinearLayersHaveNoStatePool() {
        Map<String, String> kv = new HashMap<>();
        kv.put("model", "x");
        kv.put("task", "infer");
        kv.put("framework", "vllm");
        assertThat(SglangStatePool.of(spec("Qwen/Qwen3.5-9B"), WorkloadParser.parse(kv), 1L << 33, 1, 24)).isEmpty();
        assertThat(SglangStatePool.of(spec("meta-llama/Llama-3.1-8B"), sglang(), 1L << 33, 1, 0)).isEmpty();
    }
    @Test
    void anExplicitSlotCountAndStateDtypeReplaceTheSplitAndTheFp32Default() {
        ModelSpec m = spec("Qwen/Qwen3.5-9B");
        Map<String, String> kv = new HashMap<>();
        kv.put("model", "Qwen/Qwen3.5-9B");
        kv.put("task", "infer");
        kv.put("framework", "sglang");
        kv.put("max_mamba_cache_size", "64");
        kv.put("mamba_ssm_cache_dtype", "bf16"); // vLLM's name for the key works too
        long budget = 8L << 30;
        SglangStatePool pool = SglangStatePool.of(m, WorkloadParser.parse(kv), budget, 2, 24).orElseThrow();
        assertThat(pool.slots()).isEqualTo(64);
        assertThat(pool.slotBytes()).isEqualTo(24L * (24_576 + 524_288)); // bf16 state: 16·128·128 × 2 B per rank
        assertThat(pool.kvBudget()).isEqualTo(budget - 64 * pool.slotBytes());
        assertThat(pool.maxRunningRequests()).isEqualTo(21);
    }
    @Test
    void withoutTheRadixCacheARequestHoldsOneSlotAndMaxRunningRequestsSetsThePool() {
        ModelSpec m = spec("Qwen/Qwen3.5-9B");
        Map<String, String> kv = new HashMap<>();
        kv.put("model", "Qwen/Qwen3.5-9B");
        kv.put("task", "infer");
        kv.put("framework", "sglang");
        kv.put("disable_radix_cache", "true");
        long budget = 8L << 30;
        SglangStatePool split = SglangStatePool.of(m, WorkloadParser.parse(kv), budget, 2, 24).orElseThrow();
        assertThat(split.maxRunningRequests()).isEqualTo(split.slots());
        kv.put("max_running_requests", "48");
        SglangStatePool asked = SglangStatePool.of(m, WorkloadParser.parse(kv), budget, 2, 24).orElseThrow();
        assertThat(asked.slots()).isEqualTo(48);
        assertThat(asked.maxRunningRequests()).isEqualTo(48);
    }
}
