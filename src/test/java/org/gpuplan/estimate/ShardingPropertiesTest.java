package org.gpuplan.estimate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.gpuplan.memory.MemoryEstimate;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterCounter;
import org.junit.jupiter.api.Test;

/** Invariants of the multi-GPU estimator over thousands of seeded random layouts. */
class ShardingPropertiesTest {

    static final List<String> MODELS = List.of("meta-llama/Llama-3.1-8B", "Qwen/Qwen2.5-7B",
            "mistralai/Mixtral-8x7B-v0.1", "Qwen/Qwen3-30B-A3B", "google/gemma-2-9b", "meta-llama/Llama-3.1-70B-Instruct");

    static long peak(String model, String... kv) {
        return MemoryTermsTest.estimate(model, null, kv).memory().peakAllocated();
    }

    static String[] workload(String[] base, String... more) {
        List<String> all = new ArrayList<>(List.of(base));
        all.addAll(List.of(more));
        return all.toArray(new String[0]);
    }

    static String[] randomBase(Random r) {
        int tp = 1 << r.nextInt(3);
        int dp = 1 << (1 + r.nextInt(4));
        return new String[] {"task", "train", "precision", "bf16-mixed", "batch_size", String.valueOf(1 + r.nextInt(2)),
            "seq_len", String.valueOf(1024 << r.nextInt(3)), "tp", String.valueOf(tp), "gpus", String.valueOf(tp * dp),
            "checkpointing", r.nextBoolean() ? "full" : "none"};
    }

    @Test
    void deeperZeroStagesNeverNeedMore() {
        Random r = new Random(1);
        for (int i = 0; i < 400; i++) {
            String model = MODELS.get(r.nextInt(MODELS.size()));
            String[] base = workload(randomBase(r), "framework", "deepspeed");
            long previous = Long.MAX_VALUE;
            for (int z = 0; z <= 3; z++) {
                long now = peak(model, workload(base, "zero", String.valueOf(z)));
                assertThat(now).as("%s %s zero %d", model, String.join(" ", base), z).isLessThanOrEqualTo(previous);
                previous = now;
            }
        }
    }

    @Test
    void moreDataParallelGpusNeverNeedMorePerRank() {
        Random r = new Random(2);
        for (int i = 0; i < 400; i++) {
            String model = MODELS.get(r.nextInt(MODELS.size()));
            String fsdp = r.nextBoolean() ? "full_shard" : "shard_grad_op";
            String[] base = {"task", "train", "framework", "fsdp", "fsdp", fsdp, "batch_size", "1", "seq_len", "2048"};
            long previous = Long.MAX_VALUE;
            for (int gpus = 2; gpus <= 64; gpus *= 2) {
                long now = peak(model, workload(base, "gpus", String.valueOf(gpus)));
                assertThat(now).as("%s %s gpus %d", model, fsdp, gpus).isLessThanOrEqualTo(previous);
                previous = now;
            }
        }
    }

    @Test
    void sequenceParallelNeverAddsActivations() {
        Random r = new Random(3);
        for (int i = 0; i < 400; i++) {
            String model = MODELS.get(r.nextInt(MODELS.size()));
            int tp = 2 << r.nextInt(2);
            String[] base = {"task", "train", "framework", "megatron", "zero", "1", "tp", String.valueOf(tp), "gpus",
                String.valueOf(tp * 2), "batch_size", "1", "seq_len", String.valueOf(2048 << r.nextInt(2))};
            long tpOnly = MemoryTermsTest.estimate(model, null, base).memory().bytes("activations");
            long tpSp = MemoryTermsTest.estimate(model, null, workload(base, "sequence_parallel", "true")).memory()
                    .bytes("activations");
            assertThat(tpSp).as(model).isLessThanOrEqualTo(tpOnly);
        }
    }

    @Test
    void offloadingNeverAddsGpuMemory() {
        Random r = new Random(4);
        for (int i = 0; i < 300; i++) {
            String model = MODELS.get(r.nextInt(MODELS.size()));
            String[] base = workload(randomBase(r), "framework", "deepspeed", "zero", "3");
            long plain = peak(model, base);
            assertThat(peak(model, workload(base, "offload_optimizer", "cpu"))).as(model).isLessThanOrEqualTo(plain);
            assertThat(peak(model, workload(base, "offload_optimizer", "cpu", "offload_params", "cpu"))).as(model)
                    .isLessThanOrEqualTo(plain);
        }
    }

    @Test
    void pipelineStagesTogetherHoldTheWholeModel() {
        for (String model : MODELS) {
            ModelSpec spec = MemoryTermsTest.spec(model);
            long total = ParameterCounter.count(spec).totalCount();
            for (int pp : new int[] {2, 4}) {
                Estimate e = MemoryTermsTest.estimate(model, null, "task", "train", "precision", "bf16", "gpus",
                        String.valueOf(pp), "pp", String.valueOf(pp), "framework", "megatron");
                double sum = 0;
                for (Estimate.Rank rank : e.ranks()) {
                    sum += rank.memory().bytes("weights") / 2.0 * rank.gpus();
                }
                double tiedCopy = spec.embeddings().tied() ? ParameterCounter.count(spec).count("embeddings") : 0;
                assertThat(sum).as("%s pp %d", model, pp).isCloseTo(total + tiedCopy, within(total * 1e-6));
            }
        }
    }

    @Test
    void tensorParallelRanksSplitLinearsAndReplicateNorms() {
        Estimate one = MemoryTermsTest.estimate("meta-llama/Llama-3.1-8B", null, "task", "train", "precision", "bf16",
                "gpus", "2", "framework", "megatron");
        Estimate tp2 = MemoryTermsTest.estimate("meta-llama/Llama-3.1-8B", null, "task", "train", "precision", "bf16",
                "gpus", "2", "tp", "2", "framework", "megatron");
        long norms = ParameterCounter.count(MemoryTermsTest.spec("meta-llama/Llama-3.1-8B")).count("norms");
        MemoryEstimate a = one.memory();
        MemoryEstimate b = tp2.memory();
        // weights are 2 B per parameter under Megatron: TP 2 halves everything but the norms
        assertThat(b.bytes("weights")).isCloseTo(a.bytes("weights") / 2 + norms, within(4L));
    }

    @Test
    void shardedStatesOverTheDataParallelRanksAddUpToTheUnshardedOnes() {
        Random r = new Random(5);
        for (int i = 0; i < 60; i++) {
            String model = MODELS.get(r.nextInt(MODELS.size()));
            int dp = 2 << r.nextInt(4);
            boolean zero = r.nextBoolean();
            String[] sharded = zero
                    ? new String[] {"task", "train", "framework", "deepspeed", "zero", "3", "gpus", String.valueOf(dp)}
                    : new String[] {"task", "train", "framework", "fsdp", "fsdp", "full_shard", "gpus",
                        String.valueOf(dp)};
            String[] whole = zero
                    ? new String[] {"task", "train", "framework", "deepspeed", "zero", "3", "gpus", "2", "nodes", "2",
                        "tp", "2"} // one data-parallel rank holding everything: dp 1
                    : new String[] {"task", "train", "framework", "fsdp", "fsdp", "full_shard", "gpus", "2", "tp", "2"};
            MemoryEstimate per = MemoryTermsTest.estimate(model, null, sharded).memory();
            MemoryEstimate all = MemoryTermsTest.estimate(model, null, whole).memory();
            for (String term : new String[] {"gradients", "optimizer"}) {
                // the dp = 1 reference splits the same states over tp 2 instead: twice its rank is the whole
                double unsharded = 2.0 * all.bytes(term);
                double summed = (double) per.bytes(term) * dp;
                assertThat(summed).as("%s dp %d %s %s", model, dp, zero ? "zero 3" : "fsdp", term)
                        .isCloseTo(unsharded, within(unsharded * 0.002 + 2 * dp));
            }
        }
    }

    /**
     * FSDP's flat parameters keep the dtype the model was loaded in: under bf16-mixed (fp32 storage) a frozen LoRA
     * base is sharded in fp32, 2 B per parameter more than a bf16-loaded one; quantized shards do not change.
     */
    @Test
    void fsdpShardsAFrozenBaseInItsStorageDtype() {
        String model = "meta-llama/Llama-3.1-70B-Instruct";
        long params = ParameterCounter.count(MemoryTermsTest.spec(model)).totalCount();
        for (int gpus : new int[] {2, 8, 16}) {
            String[] base = {"task", "train", "framework", "fsdp", "fsdp", "full_shard", "gpus", String.valueOf(gpus),
                "method", "lora", "batch_size", "1", "seq_len", "2048", "checkpointing", "full"};
            long fp32 = MemoryTermsTest.estimate(model, null, workload(base, "precision", "bf16-mixed")).memory()
                    .bytes("weights");
            long bf16 = MemoryTermsTest.estimate(model, null, workload(base, "precision", "bf16")).memory()
                    .bytes("weights");
            assertThat(fp32 - bf16).as("gpus %d", gpus).isCloseTo(params * 2 / gpus, within(2L));
            String[] qlora = workload(base, "method", "qlora", "quant", "nf4");
            assertThat(MemoryTermsTest.estimate(model, null, workload(qlora, "precision", "bf16-mixed")).memory()
                    .bytes("weights")).isEqualTo(MemoryTermsTest.estimate(model, null,
                    workload(qlora, "precision", "bf16")).memory().bytes("weights"));
        }
    }
}
