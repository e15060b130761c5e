package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.plan.PlannerTest;
import org.gpuplan.workload.LossImpl;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/**
 * The loss region per implementation, for Llama-3.1-8B (V = 128,256, h = 4,096) over one micro-batch of 2 × 8,192
 * tokens in bf16: the byte counts follow from the tensors each implementation allocates (see ActivationMemory.loss).
 */
class LossImplTest {

    private static final ModelSpec LLAMA = PlannerTest.spec("meta-llama/Llama-3.1-8B");
    private static final long V = 128_256;
    private static final long N = 2 * 8192;

    private static Workload workload(String... kv) {
        Map<String, String> keys = new HashMap<>(Map.of("model", "x", "task", "train", "precision", "bf16",
                "batch_size", "2", "seq_len", "8192", "attention", "flash"));
        for (int i = 0; i < kv.length; i += 2) {
            keys.put(kv[i], kv[i + 1]);
        }
        return WorkloadParser.parse(keys);
    }

    @Test
    void eagerKeepsTheFp32LogSoftmaxAndHoldsTwelveBytesPerLogitAtBackward() {
        ActivationMemory.Loss l = ActivationMemory.loss(LLAMA, workload(), N, 2, true);
        assertThat(l.saved()).isEqualTo(4 * V * N);
        assertThat(l.forward()).isEqualTo(6 * V * N);
        assertThat(l.backward()).isEqualTo(8 * V * N);
    }

    @Test
    void lossParallelDecomposesTheLogSoftmaxOnTheVocabShard() {
        // torch/distributed/tensor/parallel/loss.py: forward holds the fp32 input and x − max while exp(x − max) or
        // the output exists; backward computes (zeros + exp(out)) · grad beside the saved output
        ActivationMemory.Loss tp = ActivationMemory.lossParallel(V * N / 8.0);
        assertThat(tp.saved()).isEqualTo(4 * V * N / 8);
        assertThat(tp.saved() + tp.forward()).isEqualTo(12 * V * N / 8);
        assertThat(tp.saved() + tp.backward()).isEqualTo(16 * V * N / 8);
        // on a rank of TP 8: the local shard's 16 bytes per logit less the saved 4 (counted with the activations)
        assertThat(lastStageTransients("fsdp", "1", "8")).isEqualTo(12.0 * V * N / 8);
        assertThat(ActivationMemory.lossParallel(workload(), 8)).isFalse(); // transformers (hf): no loss_parallel
        assertThat(ActivationMemory.lossDescription(workload("framework", "fsdp", "gpus", "8", "tp", "8")))
                .contains("loss_parallel");
        assertThat(ActivationMemory.lossParallel(workload("framework", "fsdp", "gpus", "8", "tp", "8"), 1)).isFalse();
        // Megatron has its own vocab-parallel loss: the 16-bit logits beside the saved fp32 buffer
        assertThat(lastStageTransients("megatron", "1", "8")).isEqualTo(2.0 * V * N / 8);
    }

    @Test
    void aPipelineStageKeepsItsFp32LogitsThroughTheLoss() {
        // torch.distributed.pipelining caches the last stage's output (torchtitan: output(h).float()) until the
        // micro-batch's backward: 4·V per token beside the eager loss's 4·V saved + 8·V transients
        assertThat(lastStageTransients("fsdp", "2", "1")).isEqualTo(12.0 * V * N);
        assertThat(lastStageTransients("deepspeed", "2", "1")).isEqualTo(8.0 * V * N);
        // with TP as well: the fp32 stage output beside loss_parallel's buffers, all on the vocab shard
        assertThat(lastStageTransients("fsdp", "2", "8")).isEqualTo(16.0 * V * N / 8);
    }

    /** The loss transients of the last pipeline stage (no checkpointing, so nothing else passes through). */
    private static double lastStageTransients(String framework, String pp, String tp) {
        int gpus = Integer.parseInt(pp) * Integer.parseInt(tp);
        Workload w = workload("framework", framework, "gpus", String.valueOf(gpus), "pp", pp, "tp", tp,
                "global_batch_size", "4", "precision", "bf16-mixed");
        ShardedTraining.StageBytes out = new ShardedTraining.StageBytes();
        ShardedTraining.activations(LLAMA, w, org.gpuplan.workload.TrainingLayout.of(w), Integer.parseInt(pp) - 1,
                ActivationMemory.training(LLAMA, w), out);
        return out.transients;
    }

    @Test
    void compiledKeepsOnlyTheSixteenBitLogits() {
        ActivationMemory.Loss l = ActivationMemory.loss(LLAMA, workload("loss_impl", "compiled"), N, 2, true);
        assertThat(l.saved()).isEqualTo(2 * V * N + 4 * N);
        assertThat(l.forward()).isZero();
        assertThat(l.backward()).isEqualTo(2 * V * N);
    }

    @Test
    void chunkedShrinksOnlyTheTransientCopies() {
        ActivationMemory.Loss l = ActivationMemory.loss(LLAMA, workload("loss_impl", "chunked"), N, 2, true);
        assertThat(l.saved()).isEqualTo(4 * V * N);
        assertThat(l.forward()).isEqualTo(2 * V * N + 4 * V * N / 8);
        assertThat(l.backward()).isEqualTo(10 * V * N / 8);
    }

    @Test
    void fusedLinearNeverMaterializesTheLogits() {
        // Liger: inc_factor = ceil(128256 / 4096) = 32, chunk = next_power_of_2(ceil(16384 / 32)) = 512 tokens
        ActivationMemory.Loss full = ActivationMemory.loss(LLAMA, workload("loss_impl", "fused-linear"), N, 2, true);
        assertThat(full.forward()).isEqualTo(2 * V * 512);
        assertThat(full.saved()).isEqualTo(2 * 4096 * N + 2 * V * 4096 + 4 * N); // input grad + LM head grad + loss
        assertThat(full.backward()).isZero();
        ActivationMemory.Loss lora = ActivationMemory.loss(LLAMA, workload("loss_impl", "fused-linear", "method",
                "lora"), N, 2, false);
        assertThat(lora.saved()).isEqualTo(2 * 4096 * N + 4 * N); // frozen LM head: no weight gradient
        assertThat(ActivationMemory.nextPowerOfTwo(1)).isEqualTo(1);
        assertThat(ActivationMemory.nextPowerOfTwo(512)).isEqualTo(512);
        assertThat(ActivationMemory.nextPowerOfTwo(513)).isEqualTo(1024);
    }

    @Test
    void peakFallsFromEagerToCompiledToFusedLinear() {
        var gpu = Optional.of(GpuCatalog.builtIn().require("H100-SXM-80GB"));
        long previous = Long.MAX_VALUE;
        for (String impl : new String[] {"eager", "chunked", "compiled", "fused-linear"}) {
            long peak = Estimator.estimateMemory("x", LLAMA, workload("loss_impl", impl, "method", "lora"), gpu)
                    .memory().peakAllocated();
            assertThat(peak).as(impl).isLessThan(previous);
            previous = peak;
        }
    }

    @Test
    void compileDefaultsToACompiledLossAndAnExplicitChoiceWins() {
        assertThat(workload().lossImpl()).isEqualTo(LossImpl.EAGER);
        assertThat(workload("compile", "true").lossImpl()).isEqualTo(LossImpl.COMPILED);
        assertThat(workload("compile", "true", "loss_impl", "eager").lossImpl()).isEqualTo(LossImpl.EAGER);
        assertThat(workload("loss_impl", "Liger").lossImpl()).isEqualTo(LossImpl.FUSED_LINEAR);
        assertThatThrownBy(() -> workload("loss_impl", "fused")).isInstanceOf(InvalidInputException.class)
                .hasMessage("loss_impl: 'fused' is not accepted (accepted: eager, compiled, chunked, rowwise, fused-linear)");
    }
}
