package org.gpuplan.estimate;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Random;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.memory.MemoryEstimate;
import org.junit.jupiter.api.Test;

/** Invariants over many seeded random workloads on catalog models. */
class EstimatePropertiesTest {

    static final List<String> MODELS = List.of("meta-llama/Llama-3.2-1B-Instruct", "Qwen/Qwen2.5-0.5B",
            "google/gemma-2-2b", "mistralai/Mixtral-8x7B-v0.1", "openai-community/gpt2", "Qwen/Qwen3-30B-A3B",
            "microsoft/Phi-3-mini-4k-instruct", "google-bert/bert-base-uncased", "deepseek-ai/DeepSeek-V3");
    static final String[] METHODS = {"full", "lora", "qlora"};
    static final String[] OPTIMIZERS = {"adamw", "adamw-8bit", "adafactor", "sgd", "lion", "adamw-fused"};
    static final String[] CHECKPOINTING = {"none", "full"};
    static final String[] ATTENTION = {"eager", "sdpa", "flash"};

    @Test
    void moreTokensNeverNeedLessMemoryAndPeaksAreOrdered() {
        Random r = new Random(2024);
        ModelCatalog.builtIn();
        for (int i = 0; i < 300; i++) {
            String model = MODELS.get(r.nextInt(MODELS.size()));
            String method = METHODS[r.nextInt(METHODS.length)];
            int batch = 1 + r.nextInt(4);
            int seq = 64 << r.nextInt(5);
            String[] common = {"task", "train", "method", method, "optimizer", OPTIMIZERS[r.nextInt(OPTIMIZERS.length)],
                "checkpointing", CHECKPOINTING[r.nextInt(2)], "attention", ATTENTION[r.nextInt(3)],
                "lora_rank", String.valueOf(4 << r.nextInt(5))};
            MemoryEstimate small = run(model, common, batch, seq);
            MemoryEstimate larger = run(model, common, batch + 1, seq * 2);
            String what = model + " " + String.join(" ", common) + " b=" + batch + " s=" + seq;
            assertThat(larger.peakAllocated()).as(what).isGreaterThanOrEqualTo(small.peakAllocated());
            assertThat(small.peakAllocated()).as(what).isLessThanOrEqualTo(small.peakReserved());
            assertThat(small.peakReserved()).as(what).isLessThanOrEqualTo(small.deviceUsed());
            small.terms().forEach(t -> assertThat(t.value()).as(what + " " + t.key()).isNotNegative());
        }
    }

    @Test
    void loraNeverNeedsMoreThanFullFineTuningAtTheSameShape() {
        Random r = new Random(7);
        for (int i = 0; i < 100; i++) {
            String model = MODELS.get(r.nextInt(MODELS.size()));
            int batch = 1 + r.nextInt(4);
            int seq = 64 << r.nextInt(5);
            String[] full = {"task", "train", "method", "full", "precision", "bf16"};
            String[] lora = {"task", "train", "method", "lora", "precision", "bf16", "lora_rank", "8"};
            assertThat(run(model, lora, batch, seq).peakAllocated()).as(model)
                    .isLessThanOrEqualTo(run(model, full, batch, seq).peakAllocated());
        }
    }

    static MemoryEstimate run(String model, String[] kv, int batch, int seq) {
        String[] all = new String[kv.length + 4];
        System.arraycopy(kv, 0, all, 0, kv.length);
        all[kv.length] = "batch_size";
        all[kv.length + 1] = String.valueOf(batch);
        all[kv.length + 2] = "seq_len";
        all[kv.length + 3] = String.valueOf(seq);
        return MemoryTermsTest.estimate(model, null, all).memory();
    }

    @Test
    void grpoGenerationOrdersTheModesAndGrowsWithTheCompletions() {
        Random r = new Random(77);
        String[] models = {"meta-llama/Llama-3.2-1B-Instruct", "Qwen/Qwen2.5-0.5B", "google/gemma-2-2b",
            "Qwen/Qwen3-30B-A3B", "microsoft/Phi-3-mini-4k-instruct"};
        for (int i = 0; i < 200; i++) {
            String model = models[r.nextInt(models.length)];
            String method = METHODS[r.nextInt(METHODS.length)];
            int completion = 64 << r.nextInt(5);
            String[] base = {"task", "train", "trainer", "grpo", "method", method, "batch_size",
                String.valueOf(1 + r.nextInt(8)), "grad_accum", String.valueOf(1 + r.nextInt(4)), "prompt_len",
                String.valueOf(32 << r.nextInt(5)), "checkpointing", CHECKPOINTING[r.nextInt(2)]};
            String gpu = "H100-SXM-80GB";
            String[] withOutput = MemoryTermsTest.concat(base, "output_len", String.valueOf(completion));
            long server = peak(model, gpu, MemoryTermsTest.concat(withOutput, "use_vllm", "true", "vllm_mode",
                    "server"));
            long asleep = peak(model, gpu, MemoryTermsTest.concat(withOutput, "use_vllm", "true",
                    "vllm_enable_sleep_mode", "true"));
            long colocate = peak(model, gpu, MemoryTermsTest.concat(withOutput, "use_vllm", "true"));
            long generate = peak(model, gpu, withOutput);
            String what = model + " " + String.join(" ", withOutput);
            // an engine held through training needs at least what a sleeping one does, which needs at least what a
            // server on other GPUs leaves; generating on the training model needs at least the server case
            assertThat(colocate).as(what).isGreaterThanOrEqualTo(asleep);
            assertThat(asleep).as(what).isGreaterThanOrEqualTo(server);
            assertThat(generate).as(what).isGreaterThanOrEqualTo(server);
            // longer completions never need less (more KV cache and more scored tokens)
            long longer = peak(model, gpu, MemoryTermsTest.concat(base, "output_len", String.valueOf(2 * completion)));
            assertThat(longer).as(what).isGreaterThanOrEqualTo(generate);
            // a reference model (beta > 0) never needs less
            assertThat(peak(model, gpu, MemoryTermsTest.concat(withOutput, "beta", "0.04"))).as(what)
                    .isGreaterThanOrEqualTo(generate);
        }
    }

    private static long peak(String model, String gpu, String... kv) {
        return MemoryTermsTest.estimate(model, gpu, kv).memory().peakAllocated();
    }
}
