package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.model.ParameterBreakdown;
import org.gpuplan.model.ParameterCounter;
import org.gpuplan.plan.PlannerTest;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/**
 * torchtune keeps what it builds in the model dtype (bf16 adapters, no fp32 upcast for QLoRA), expands K/V before the
 * attention call, and can offload saved activations; torch.compile fuses the norms and the SwiGLU. Each figure
 * follows from those rules for Llama-3.2-3B (h 3,072, f 8,192, 24 heads, 8 KV heads of 128, 28 layers, tied
 * 128,256-token vocabulary) over 2 × 4,096 tokens.
 */
class TorchtuneSemanticsTest {

    private static final ModelSpec LLAMA = PlannerTest.spec("meta-llama/Llama-3.2-3B");
    private static final ParameterBreakdown P = ParameterCounter.count(LLAMA);
    private static final long N = 2 * 4096;
    /** r = 64 on q, v, o and the three MLP projections: 28 × (64·(3072+3072) · 2 + 64·(3072+1024) + 3 · 64·(3072+8192)). */
    private static final long ADAPTER_PARAMS = 89_915_392;

    private static Workload workload(String framework, String... kv) {
        Map<String, String> keys = new HashMap<>(Map.of("model", "x", "task", "train", "precision", "bf16",
                "batch_size", "2", "seq_len", "4096", "framework", framework, "method", "lora", "lora_rank", "64",
                "lora_targets", "q_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"));
        for (int i = 0; i < kv.length; i += 2) {
            keys.put(kv[i], kv[i + 1]);
        }
        return WorkloadParser.parse(keys);
    }

    @Test
    void adaptersTheirGradientsAndAdamStatesTakeTheModelDtype() {
        assertThat(LoraAdapters.parameters(LLAMA, workload("torchtune"))).isEqualTo(ADAPTER_PARAMS);
        assertThat(LoraAdapters.term(LLAMA, workload("torchtune")).value()).isEqualTo(ADAPTER_PARAMS * 2);
        assertThat(LoraAdapters.term(LLAMA, workload("hf")).value()).isEqualTo(ADAPTER_PARAMS * 4);
        MemoryEstimate e = TrainingMemory.estimate(LLAMA, P, workload("torchtune", "optimizer", "adamw-fused"),
                java.util.Optional.empty());
        assertThat(e.bytes("gradients")).isEqualTo(ADAPTER_PARAMS * 2);
        assertThat(e.bytes("optimizer")).isEqualTo(ADAPTER_PARAMS * 2 * 2);
    }

    @Test
    void qloraKeepsTheUnquantizedParametersInBf16() {
        long linear = LinearModules.linearParameters(LLAMA);
        long rest = P.totalCount() - linear;
        long nf4 = Bytes.ceil(linear * WeightMemory.BNB4_DQ_BYTES);
        assertThat(WeightMemory.weights(LLAMA, P, workload("torchtune", "method", "qlora", "quant", "nf4")).value())
                .isEqualTo(nf4 + rest * 2);
        // PEFT's prepare_model_for_kbit_training casts them to fp32
        assertThat(WeightMemory.weights(LLAMA, P, workload("hf", "method", "qlora", "quant", "nf4")).value())
                .isEqualTo(nf4 + rest * 4);
    }

    @Test
    void expandedKeyValuesReplaceTheMaskCopyOfAPaddedBatch() {
        // transformers pads a batch of 2 (repeated K/V and a c·s additive mask per token); torchtune keeps the repeated
        // K/V but passes no mask, and no 4-D mask is shared by the layers
        ActivationMemory.Saved hf = ActivationMemory.training(LLAMA, workload("hf", "method", "full"));
        ActivationMemory.Saved tt = ActivationMemory.training(LLAMA, workload("torchtune", "method", "full"));
        assertThat(hf.perLayer().get(0) - tt.perLayer().get(0)).isEqualTo(2L * 4096 * N);
        assertThat(hf.shared() - tt.shared()).isEqualTo(2L * 2 * 4096 * 4096);
    }

    @Test
    void compileFusesTheNormUpcastsAndTheSiluOutput() {
        ActivationMemory.Saved eager = ActivationMemory.training(LLAMA, workload("torchtune", "method", "full"));
        ActivationMemory.Saved compiled = ActivationMemory.training(LLAMA, workload("torchtune", "method", "full",
                "compile", "true"));
        // two RMSNorms × 4·h + the SiLU output c·f, per token
        assertThat(eager.perLayer().get(0) - compiled.perLayer().get(0)).isEqualTo((2 * 4L * 3072 + 2L * 8192) * N);
    }

    @Test
    void offloadingKeepsTwoCheckpointedInputsOnTheGpuAndTheRestOnTheHost() {
        ActivationMemory.Saved kept = ActivationMemory.training(LLAMA, workload("torchtune", "method", "full",
                "checkpointing", "full"));
        ActivationMemory.Saved offloaded = ActivationMemory.training(LLAMA, workload("torchtune", "method", "full",
                "checkpointing", "full", "activation_offloading", "true"));
        long input = 2L * 3072 * N; // each layer's bf16 input
        assertThat(kept.layersTotal()).isEqualTo(28 * input);
        assertThat(offloaded.layersTotal()).isEqualTo(2 * input);
        assertThat(offloaded.host()).isEqualTo(26 * input);
    }

    @Test
    void theCompiledChunkedLossKeepsOnlyTheBf16Logits() {
        long v = 128_256;
        ActivationMemory.Loss l = ActivationMemory.loss(LLAMA, workload("torchtune", "method", "full", "loss_impl",
                "chunked", "compile", "true"), N, 2, true);
        assertThat(l.saved()).isEqualTo(2 * v * N + 4 * N);
        assertThat(l.forward()).isZero();
        assertThat(l.backward()).isEqualTo(2 * v * N / 8);
    }

    @Test
    void theEstimateReportsTheOffloadedActivationsAsHostMemory() {
        Workload w = workload("torchtune", "method", "full", "checkpointing", "full", "activation_offloading", "true");
        org.gpuplan.estimate.Estimate e = org.gpuplan.estimate.Estimator.estimateMemory("x", LLAMA, w,
                java.util.Optional.empty());
        assertThat(e.hostMemoryBytesPerNode()).isEqualTo(26 * 2L * 3072 * N);
        assertThat(e.ranks().get(0).hostBytes()).isEqualTo(e.hostMemoryBytesPerNode());
    }

    @Test
    void fsdpCpuOffloadKeepsShardedParametersGradientsAndStatesOnTheHost() {
        // torchtune's fsdp_cpu_offload (FSDP2): bf16 parameters and gradients and fused-AdamW bf16 states, 8 B per
        // parameter, sharded over 8 ranks, all on the host; the GPU keeps only gathered units
        ModelSpec llama70 = PlannerTest.spec("meta-llama/Llama-3.1-70B");
        long params = ParameterCounter.count(llama70).totalCount();
        Workload w = WorkloadParser.parse(Map.ofEntries(Map.entry("model", "x"), Map.entry("task", "train"),
                Map.entry("framework", "torchtune"), Map.entry("gpus", "8"), Map.entry("fsdp", "full_shard"),
                Map.entry("offload_params", "cpu"), Map.entry("offload_optimizer", "cpu"),
                Map.entry("optimizer", "adamw-fused"), Map.entry("checkpointing", "full"),
                Map.entry("batch_size", "2"), Map.entry("seq_len", "2048")));
        org.gpuplan.estimate.Estimate e = org.gpuplan.estimate.Estimator.estimateMemory("x", llama70, w,
                java.util.Optional.empty());
        assertThat(e.ranks().get(0).hostBytes()).isEqualTo(params * 8 / 8);
        assertThat(e.memory().bytes("gradients")).isZero();
        assertThat(e.memory().bytes("weights")).isZero();
    }

    @Test
    void aTiedEmbeddingsHeadGradientIsHeldThroughBackward() {
        // the LM head's share of the tied embedding's gradient (V·h bf16) waits in autograd's buffer until the
        // embedding's backward: it sits on top of what the last layer's backward holds
        Workload w = workload("torchtune", "method", "full", "optimizer", "adamw-fused");
        MemoryEstimate e = TrainingMemory.estimate(LLAMA, P, w, java.util.Optional.empty());
        ActivationMemory.Saved saved = ActivationMemory.training(LLAMA, w);
        long phase = e.phases().stream().filter(ph -> ph.name().equals("backward through the last layer"))
                .findFirst().orElseThrow().bytes();
        assertThat(phase - e.bytes("weights") - e.bytes("optimizer") - saved.total() - saved.backwardWorkingSet())
                .isEqualTo(128_256L * 3072 * 2);
    }
}
