package org.gpuplan.estimate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.util.List;
import org.gpuplan.io.CatalogEntry;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.model.InvalidInputException;
import org.junit.jupiter.api.Test;

/** Every catalog model under every kind of workload: an estimate or a clear refusal, never a crash. */
class CatalogSweepTest {

    static final List<String[]> WORKLOADS = List.of(
            new String[] {"task", "train", "batch_size", "2", "seq_len", "1024"},
            new String[] {"task", "train", "method", "lora", "batch_size", "2", "seq_len", "1024", "lora_targets",
                "all-linear"},
            new String[] {"task", "train", "method", "qlora", "batch_size", "1", "seq_len", "2048"},
            new String[] {"task", "train", "precision", "bf16", "optimizer", "adafactor", "checkpointing",
                "selective", "attention", "eager", "batch_size", "1", "seq_len", "512"},
            new String[] {"task", "infer", "prompt_len", "1000", "output_len", "200", "batch_size", "4"},
            new String[] {"task", "infer", "framework", "vllm", "gpu", "H100-SXM-80GB", "seq_len", "8192"},
            new String[] {"task", "infer", "framework", "sglang", "gpu", "H200-SXM-141GB", "seq_len", "32768",
                "kv_dtype", "fp8"},
            new String[] {"task", "infer", "framework", "llama.cpp", "quant", "q4_k_m", "seq_len", "4096"});

    @Test
    void everyModelEstimatesOrRefusesClearly() {
        int estimated = sweep(WORKLOADS, (what, est) -> assertThat(est.memory().peakAllocated()).as(what).isPositive());
        assertThat(estimated).isGreaterThan(ModelCatalog.builtIn().entries().size() * 6);
    }

    /**
     * Estimates every catalog model under every workload: each either passes {@code check} or is refused with a
     * one-line message; anything else fails. Returns how many were estimated.
     */
    static int sweep(List<String[]> workloads, java.util.function.BiConsumer<String, Estimate> check) {
        int estimated = 0;
        for (CatalogEntry e : ModelCatalog.builtIn().entries()) {
            for (String[] w : workloads) {
                String what = e.id() + " " + String.join(" ", w);
                try {
                    check.accept(what, MemoryTermsTest.estimate(e.id(), null, w));
                    estimated++;
                } catch (InvalidInputException refused) {
                    assertThat(refused.getMessage()).as(what).isNotBlank().doesNotContain("\n");
                } catch (RuntimeException crash) {
                    assertThatCode(() -> {
                        throw crash;
                    }).as(what).doesNotThrowAnyException();
                }
            }
        }
        return estimated;
    }

    static final List<String[]> PERF_WORKLOADS = List.of(
            new String[] {"task", "train", "gpu", "H100-SXM-80GB", "gpus", "8", "fsdp", "full_shard", "batch_size",
                "1", "seq_len", "2048", "checkpointing", "full", "tokens", "1e9"},
            new String[] {"task", "train", "method", "qlora", "gpu", "RTX-4090", "batch_size", "1", "seq_len", "1024"},
            new String[] {"task", "train", "framework", "megatron", "gpu", "H100-SXM-80GB", "gpus", "16", "nodes",
                "2", "tp", "2", "pp", "2", "zero", "1", "sequence_parallel", "true", "tp_comm_overlap", "true",
                "batch_size", "1", "seq_len", "4096", "global_batch_size", "64"},
            new String[] {"task", "infer", "framework", "vllm", "gpu", "H100-SXM-80GB", "gpus", "2", "tp", "2",
                "prompt_len", "1000", "output_len", "200", "batch_size", "max"},
            new String[] {"task", "infer", "framework", "llama.cpp", "quant", "q4_k_m", "gpu", "RTX-4090",
                "prompt_len", "512", "output_len", "128"},
            new String[] {"task", "infer", "framework", "sglang", "gpu", "MI300X", "quant", "fp8", "prompt_len",
                "2000", "output_len", "500", "batch_size", "16"},
            // the runtime model on every architecture: eager HF training (host time, autocast casts, LoRA adapters,
            // eager scores, per-tensor optimizer), compiled FSDP, and HF generate (static batch, DynamicCache)
            new String[] {"task", "train", "gpu", "H200-SXM-141GB", "precision", "bf16-mixed", "batch_size", "2",
                "seq_len", "1024"},
            new String[] {"task", "train", "gpu", "A100-SXM-80GB", "method", "lora", "lora_targets", "all-linear",
                "optimizer", "adafactor", "attention", "eager", "checkpointing", "full", "batch_size", "1", "seq_len",
                "512"},
            new String[] {"task", "train", "gpu", "H100-SXM-80GB", "gpus", "8", "framework", "fsdp", "fsdp",
                "full_shard", "compile", "true", "checkpointing", "selective", "batch_size", "1", "seq_len", "2048"},
            new String[] {"task", "infer", "gpu", "L40S", "batch_size", "8", "prompt_len", "512", "output_len",
                "64"});

    @Test
    void everyModelGetsFiniteRuntimeFiguresOrRefusesClearly() {
        int estimated = sweep(PERF_WORKLOADS, (what, est) -> {
            org.gpuplan.perf.PerfEstimate pe = est.perf().orElseThrow();
            for (org.gpuplan.perf.Figure f : pe.figures()) {
                assertThat(f.value()).as(what + " " + f.key()).isFinite().isGreaterThanOrEqualTo(0);
                assertThat(f.formula()).as(what + " " + f.key()).isNotBlank();
            }
            assertThat(pe.computeUtilization()).as(what).isBetween(0.0, 1.0);
            assertThat(pe.memoryBandwidthUtilization()).as(what).isBetween(0.0, 1.0);
        });
        assertThat(estimated).isGreaterThan(ModelCatalog.builtIn().entries().size() * 4);
    }
}
