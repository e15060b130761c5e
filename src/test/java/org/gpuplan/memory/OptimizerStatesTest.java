package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.plan.PlannerTest;
import org.gpuplan.workload.OptimizerKind;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/**
 * Optimizer state layouts, per trainable parameter, from the libraries' sources: torch AdamW keeps two states in the
 * parameter dtype; bitsandbytes' 32-bit optimizers create fp32 states whatever the parameter dtype
 * (Optimizer2State.init_state, optim_bits 32), its 8-bit ones uint8 states with an fp32 absmax per 256-element block;
 * torchao's AdamW4bit packs two 4-bit codes per byte with an fp32 scale per 128-element block.
 */
class OptimizerStatesTest {

    private static final ModelSpec LLAMA = PlannerTest.spec("meta-llama/Llama-3.1-8B");

    private static Workload workload(String optimizer, String method) {
        Map<String, String> keys = new HashMap<>(Map.of("model", "x", "task", "train", "method", method,
                "precision", "bf16", "batch_size", "1", "seq_len", "1024", "optimizer", optimizer));
        return WorkloadParser.parse(keys);
    }

    private static long states(String optimizer, long trainable, int stateBytes) {
        return TrainingMemory.optimizer(LLAMA, workload(optimizer, "full"), trainable, stateBytes).value();
    }

    @Test
    void bytesPerParameterFollowTheLibrariesLayouts() {
        long n = 1 << 20; // a multiple of every block size
        assertThat(states("adamw", n, 2)).isEqualTo(4 * n); // pure bf16: bf16 states
        assertThat(states("paged_adamw_32bit", n, 2)).isEqualTo(8 * n); // fp32 states even for bf16 parameters
        assertThat(states("adamw-8bit", n, 2)).isEqualTo(2 * n + 2 * 4 * n / 256);
        assertThat(states("adamw_torch_8bit", n, 2)).isEqualTo(2 * n + 2 * 4 * n / 256);
        assertThat(states("adamw_torch_4bit", n, 2)).isEqualTo(2 * (n / 2 + 4 * n / 128));
        assertThat(states("lion_8bit", n, 2)).isEqualTo(n + 4 * n / 256);
        assertThat(states("lion", n, 2)).isEqualTo(2 * n);
    }

    @Test
    void trainerOptimNamesParse() {
        assertThat(workload("paged_adamw_32bit", "full").optimizer()).isEqualTo(OptimizerKind.PAGED_ADAMW);
        assertThat(workload("adamw_torch_4bit", "full").optimizer()).isEqualTo(OptimizerKind.ADAMW_4BIT);
        assertThat(workload("adamw_bnb_8bit", "full").optimizer()).isEqualTo(OptimizerKind.ADAMW_8BIT);
        assertThat(workload("paged_adamw_8bit", "full").optimizer()).isEqualTo(OptimizerKind.PAGED_ADAMW_8BIT);
    }

    @Test
    void pagedStatesShowInNvidiaSmiButNotInTorchsPeakNorInTheFitTest() {
        var gpu = GpuCatalog.builtIn().find("RTX-4090");
        Estimate plain = Estimator.estimateMemory("x", LLAMA, workload("adamw_bnb_8bit", "qlora"), gpu);
        Estimate paged = Estimator.estimateMemory("x", LLAMA, workload("paged_adamw_8bit", "qlora"), gpu);
        long states = paged.memory().bytes("optimizer");
        assertThat(states).isEqualTo(plain.memory().bytes("optimizer")).isPositive();
        assertThat(paged.memory().peakAllocated()).isEqualTo(plain.memory().peakAllocated() - states);
        assertThat(paged.fit().orElseThrow().requiredBytes()).isEqualTo(paged.memory().deviceUsed() - states);

        Estimate paged32 = Estimator.estimateMemory("x", LLAMA, workload("paged_adamw_32bit", "qlora"), Optional.empty());
        // LoRA adapters are fp32 under PEFT, so the 32-bit states are 8 bytes per adapter parameter either way
        Estimate torch = Estimator.estimateMemory("x", LLAMA, workload("adamw", "qlora"), Optional.empty());
        assertThat(paged32.memory().bytes("optimizer")).isEqualTo(torch.memory().bytes("optimizer"));
        assertThat(paged32.memory().peakAllocated()).isLessThan(torch.memory().peakAllocated());
    }
}
