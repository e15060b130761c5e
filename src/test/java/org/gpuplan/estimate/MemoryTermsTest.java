package org.gpuplan.estimate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.memory.KvCache;
import org.gpuplan.memory.LinearModules;
import org.gpuplan.memory.LoraAdapters;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Framework;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
import org.junit.jupiter.api.Test;

/** Parameter-derived memory terms, exact where the source is exact. */
class MemoryTermsTest {

    static ModelSpec spec(String id) {
        ModelCatalog c = ModelCatalog.builtIn();
        return HfConfigParser.parse(c.config(c.find(id).orElseThrow()), id, id).spec();
    }

    static Workload workload(String... kv) {
        Map<String, String> m = new HashMap<>();
        m.put("model", "x");
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return WorkloadParser.parse(m);
    }

    static Estimate estimate(String id, String gpu, String... kv) {
        Workload w = workload(kv);
        return Estimator.estimate(id, spec(id), w, Optional.ofNullable(gpu).or(w::gpu)
                .map(g -> GpuCatalog.builtIn().require(g)));
    }

    @Test
    void loraParametersMatchPeftsTrainableCounts() {
        // PEFT MetaMathQA results: Llama-3.2-3B LoRA r32 on q_proj,v_proj trains 9,175,040 parameters; r64 18,350,080
        ModelSpec m = spec("meta-llama/Llama-3.2-3B");
        assertThat(LoraAdapters.parameters(m, workload("task", "train", "method", "lora", "lora_rank", "32",
                "lora_targets", "q_proj,v_proj"))).isEqualTo(9_175_040L);
        assertThat(LoraAdapters.parameters(m, workload("task", "train", "method", "lora", "lora_rank", "64")))
                .isEqualTo(18_350_080L);
    }

    @Test
    void paddedBatchesMakeSdpaRepeatKvAndKeepTheMask() {
        // Llama-3.2-1B (a 32, g 8, d 64, 16 layers), LoRA on q/v, bf16, SDPA, 4 × 1,024 tokens. A padded batch's 4-D
        // mask makes transformers repeat K and V to all heads (2·c·(a − g)·d more per token and layer) and SDPA keep
        // an additive mask copy (c·s per token and layer), plus the shared [b, 1, s, s] mask; without padding SDPA
        // runs causal with native GQA (measured: calibration/results/h200-2026-11-26.jsonl, within 0.1 %)
        String[] common = {"task", "train", "method", "lora", "lora_rank", "8", "lora_targets", "q_proj,v_proj",
                "precision", "bf16", "attention", "sdpa", "batch_size", "4", "seq_len", "1024"};
        long padded = estimate("meta-llama/Llama-3.2-1B", "H100-SXM-80GB", common).memory().bytes("activations");
        long packed = estimate("meta-llama/Llama-3.2-1B", "H100-SXM-80GB", concat(common, "padded_batches",
                "false")).memory().bytes("activations");
        long n = 4 * 1024;
        assertThat(padded - packed).isEqualTo((2L * 2 * (32 - 8) * 64 + 2L * 1024) * n * 16 + 2L * 4 * 1024 * 1024);
        // one sequence has no padding either way
        String[] one = concat(common, "batch_size", "1");
        assertThat(estimate("meta-llama/Llama-3.2-1B", "H100-SXM-80GB", concat(one, "padded_batches", "false"))
                .memory().bytes("activations")).isEqualTo(estimate("meta-llama/Llama-3.2-1B", "H100-SXM-80GB", one)
                .memory().bytes("activations"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "padded_batches", "maybe"))
                .hasMessage("padded_batches: expected true or false, got 'maybe'");
    }

    @Test
    void doraAddsOneMagnitudePerOutputFeatureAndKeepsTwoOutputWideTensors() {
        // PEFT MetaMathQA lora--llama-3.2-3B-rank32-dora.json: use_dora on q_proj,v_proj, r 32, trains 9,289,728
        // parameters = LoRA's 9,175,040 + 28 layers × (3,072 + 1,024) magnitudes
        ModelSpec m = spec("meta-llama/Llama-3.2-3B");
        Workload dora = workload("task", "train", "method", "dora", "lora_rank", "32", "lora_targets", "q_proj,v_proj");
        assertThat(dora.useDora()).isTrue();
        assertThat(dora.method()).isEqualTo(org.gpuplan.workload.Method.LORA);
        assertThat(LoraAdapters.parameters(m, dora)).isEqualTo(9_289_728L);
        assertThat(workload("task", "train", "method", "qdora").method()).isEqualTo(org.gpuplan.workload.Method.QLORA);
        // saved for backward beyond LoRA, per token and adapted Linear: the bf16 base output (2·out) and the fp32
        // adapter output (4·out): 6 × (3,072 + 1,024) × 28 layers × 4 × 768 tokens
        String[] common = {"task", "train", "lora_rank", "32", "lora_targets", "q_proj,v_proj", "precision", "bf16",
                "batch_size", "4", "seq_len", "768"};
        long lora = estimate("meta-llama/Llama-3.2-3B", "L40S", concat(common, "method", "lora")).memory()
                .bytes("activations");
        long withDora = estimate("meta-llama/Llama-3.2-3B", "L40S", concat(common, "method", "lora", "use_dora",
                "true")).memory().bytes("activations");
        assertThat(withDora - lora).isEqualTo(6L * (3072 + 1024) * 28 * 4 * 768);
        // lora_dropout keeps a 1-byte mask per input feature (the dropped fp32 copy replaces the cast one), and makes
        // DoRA recompute the base output in fp32 from the dropped input
        long dropout = estimate("meta-llama/Llama-3.2-3B", "L40S", concat(common, "method", "lora", "lora_dropout",
                "0.05")).memory().bytes("activations");
        assertThat(dropout - lora).isEqualTo(1L * (3072 + 3072) * 28 * 4 * 768);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "method", "full",
                "use_dora", "true")).hasMessageStartingWith("use_dora: DoRA is a LoRA variant");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "method", "dora",
                "use_dora", "false")).hasMessageStartingWith("use_dora: false contradicts method dora");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "method", "lora",
                "lora_dropout", "1.5")).hasMessageStartingWith("lora_dropout: expected a probability in [0, 1)");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "method", "bogus"))
                .hasMessageContaining("accepted: full, lora, qlora, dora");
    }

    @Test
    void ligerKernelsFuseTheNormsAndTheGatedMlpAndTheLoss() {
        // transformers' use_liger_kernel patches RMSNorm (keeps its input and rstd), SwiGLU (keeps gate and up) and the
        // loss (fused linear cross-entropy): what torch.compile's fused kernels and the fused-linear loss keep
        String[] common = {"task", "train", "method", "lora", "precision", "bf16", "batch_size", "2", "seq_len", "2048"};
        Estimate liger = estimate("meta-llama/Llama-3.1-8B", "A100-SXM-80GB", concat(common, "use_liger_kernel",
                "true"));
        assertThat(liger.workload().lossImpl()).isEqualTo(org.gpuplan.workload.LossImpl.FUSED_LINEAR);
        Estimate compiledFused = estimate("meta-llama/Llama-3.1-8B", "A100-SXM-80GB", concat(common, "compile", "true",
                "loss_impl", "fused-linear"));
        assertThat(liger.memory().bytes("activations")).isEqualTo(compiledFused.memory().bytes("activations"));
        assertThat(liger.memory().bytes("activations")).isLessThan(estimate("meta-llama/Llama-3.1-8B",
                "A100-SXM-80GB", common).memory().bytes("activations"));
        // an explicit loss_impl wins over Liger's default; inference has nothing to patch
        assertThat(workload(concat(common, "liger_kernel", "true", "loss_impl", "eager")).lossImpl())
                .isEqualTo(org.gpuplan.workload.LossImpl.EAGER);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "infer", "use_liger_kernel",
                "true")).hasMessageStartingWith("use_liger_kernel: Liger's kernels patch training");
        // a model type Liger has no kernels for is left as it is, with a warning
        Estimate gpt2 = estimate("openai-community/gpt2", "L4", "task", "train", "use_liger_kernel", "true");
        assertThat(gpt2.warnings()).anySatisfy(w -> assertThat(w).startsWith("use_liger_kernel: Liger has no kernels"));
        assertThat(gpt2.memory().bytes("activations")).isEqualTo(estimate("openai-community/gpt2", "L4", "task",
                "train").memory().bytes("activations"));
    }

    @Test
    void modulesToSaveTrainFullCopiesInTheModelDtype() {
        // gemma-2-2b's embedding is 256,000 × 2,304 = 589,824,000 parameters; as a bf16 modules_to_save copy it adds
        // the copy, its gradient and two bf16 AdamW states: 8 B each = 4.39 GiB (PEFT's trainable-tokens docs report
        // "~4 GiB" saved against fully fine-tuning that matrix)
        String[] common = {"task", "train", "method", "lora", "precision", "bf16", "batch_size", "1", "seq_len", "512"};
        Estimate lora = estimate("google/gemma-2-2b", "A100-SXM-80GB", common);
        Estimate saved = estimate("google/gemma-2-2b", "A100-SXM-80GB", concat(common, "modules_to_save",
                "embed_tokens"));
        long matrix = 256_000L * 2304;
        for (String term : new String[] {"weights", "gradients"}) {
            assertThat(saved.memory().bytes(term) - lora.memory().bytes(term)).isEqualTo(2 * matrix);
        }
        assertThat(saved.memory().bytes("optimizer") - lora.memory().bytes("optimizer")).isEqualTo(4 * matrix);
        // a trainable LM head (Llama-3.1-8B, untied) keeps its bf16 input for its weight gradient, which appears at the
        // start of backward
        String[] llama = {"task", "train", "method", "lora", "precision", "bf16", "batch_size", "2", "seq_len",
            "1024"};
        long base = estimate("meta-llama/Llama-3.1-8B", null, llama).memory().bytes("activations");
        long head = estimate("meta-llama/Llama-3.1-8B", null, concat(llama, "lora_modules_to_save", "lm_head"))
                .memory().bytes("activations");
        assertThat(head - base).isEqualTo(2L * 4096 * 2 * 1024);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> estimate("google-bert/bert-base-uncased", null,
                "task", "train", "method", "lora", "modules_to_save", "lm_head"))
                .hasMessageStartingWith("modules_to_save: 'lm_head' is not modelled for this bert model");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "method", "full",
                "modules_to_save", "embed_tokens")).hasMessageStartingWith("modules_to_save: PEFT trains");
    }

    @Test
    void vllmPadsMxfp4ExpertsToItsMoeKernelsAlignment() {
        // gpt-oss-20b: 24 layers × 32 experts × 3 × 2,880 × 2,880 weights in MXFP4 (4.25 bits). Marlin (A100, no native
        // FP4) pads the intermediate size to 2,944 (128) and the hidden size to 3,072 (256); FlashInfer (B200) both to
        // 3,072; triton_kernels (H100) keeps 2,880 (a multiple of 64)
        long experts = (long) Math.ceil(24L * 32 * 3 * 2880 * 2880 * 4.25 / 8);
        String[] common = {"task", "infer", "framework", "vllm", "seq_len", "4096", "quant", "mxfp4"};
        long plain = estimate("openai/gpt-oss-20b", "H100-SXM-80GB", common).memory().bytes("weights");
        long marlin = estimate("openai/gpt-oss-20b", "A100-SXM-80GB", common).memory().bytes("weights");
        assertThat((double) (marlin - plain)).isCloseTo(experts * (2944.0 * 3072 / (2880.0 * 2880) - 1), within(2.0));
        long flashinfer = estimate("openai/gpt-oss-20b", "B200-SXM-180GB", common).memory().bytes("weights");
        assertThat((double) (flashinfer - plain)).isCloseTo(experts * (3072.0 * 3072 / (2880.0 * 2880) - 1),
                within(2.0));
        // the backend can be named (VLLM_MXFP4_USE_MARLIN=1 on an H100, as vLLM 0.10.1 logged it)
        assertThat(estimate("openai/gpt-oss-20b", "H100-SXM-80GB", concat(common, "mxfp4_backend", "marlin"))
                .memory().bytes("weights")).isEqualTo(marlin);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "mxfp4_backend",
                "marlin")).hasMessageStartingWith("mxfp4_backend: vLLM's MXFP4 MoE kernel choice applies");
    }

    @Test
    void preferenceTrainersRunChosenAndRejectedSequencesAndDpoItsReference() {
        // TRL's DPOTrainer concatenates each example's chosen and rejected completions: 2 examples are 4 sequences,
        // whose log-probabilities come from a row-wise log-softmax in the logits' dtype
        String[] lora = {"task", "train", "method", "lora", "batch_size", "2", "seq_len", "1024"};
        Estimate dpo = estimate("meta-llama/Llama-3.2-3B", "H100-SXM-80GB", concat(lora, "trainer", "dpo"));
        Estimate fourSequences = estimate("meta-llama/Llama-3.2-3B", "H100-SXM-80GB", "task", "train", "method",
                "lora", "batch_size", "4", "seq_len", "1024", "loss_impl", "rowwise");
        assertThat(dpo.memory().bytes("activations")).isEqualTo(fourSequences.memory().bytes("activations"));
        // LoRA's reference is the base with the adapters disabled: no weights, but its forward's 16-bit logits over
        // the 4 sequences while the policy's saved tensors are alive
        assertThat(dpo.memory().bytes("weights")).isEqualTo(fourSequences.memory().bytes("weights"));
        assertThat(dpo.memory().phases()).anySatisfy(p -> assertThat(p.name()).startsWith("reference forward"));
        Estimate orpo = estimate("meta-llama/Llama-3.2-3B", "H100-SXM-80GB", concat(lora, "trainer", "orpo"));
        assertThat(orpo.memory().phases()).noneSatisfy(p -> assertThat(p.name()).startsWith("reference forward"));
        // full fine-tuning keeps a frozen copy of the model as the reference, unless its log-probabilities are
        // precomputed
        String[] full = {"task", "train", "batch_size", "1", "seq_len", "512", "trainer", "dpo"};
        long sft = estimate("meta-llama/Llama-3.2-3B", "H100-SXM-80GB", "task", "train", "batch_size", "1")
                .memory().bytes("weights");
        assertThat(estimate("meta-llama/Llama-3.2-3B", "H100-SXM-80GB", full).memory().bytes("weights"))
                .isEqualTo(2 * sft);
        assertThat(estimate("meta-llama/Llama-3.2-3B", "H100-SXM-80GB", concat(full, "precompute_ref_log_probs",
                "true")).memory().bytes("weights")).isEqualTo(sft);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "infer", "trainer", "dpo"))
                .hasMessageStartingWith("trainer: dpo is a TRL trainer");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "trainer", "orpo",
                "precompute_ref_log_probs", "true")).hasMessageStartingWith("precompute_ref_log_probs: applies to");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "trainer", "dpo", "gpus",
                "2", "fsdp", "full_shard")).hasMessageStartingWith("trainer: dpo with a separate reference model");
    }

    @Test
    void grpoGeneratesTheBatchFirstAndScoresCompletionTokensOnly() {
        // TRL GRPOConfig names: max_prompt_length + max_completion_length make the sequence; defaults 512 + 256
        Workload w = workload("task", "train", "trainer", "grpo", "max_prompt_length", "512",
                "max_completion_length", "1024");
        assertThat(w.seqLen()).isEqualTo(1536);
        assertThat(w.logitTokens()).isEqualTo(1024);
        assertThat(workload("task", "train", "trainer", "grpo").seqLen()).isEqualTo(768);
        // the loss region covers completion tokens only: against the same sequences scored row-wise over all 1,536
        // tokens, the saved 16-bit logits shrink by c · V · b · prompt = 2 × 152,064 × 8 × 512 bytes
        String[] common = {"task", "train", "method", "lora", "batch_size", "8", "grad_accum", "4",
            "checkpointing", "full"};
        Estimate grpo = estimate("Qwen/Qwen2.5-7B", "H100-SXM-80GB", concat(common, "trainer", "grpo",
                "prompt_len", "512", "output_len", "1024"));
        Estimate rowwise = estimate("Qwen/Qwen2.5-7B", "H100-SXM-80GB", concat(common, "seq_len", "1536",
                "loss_impl", "rowwise"));
        assertThat(rowwise.memory().bytes("activations") - grpo.memory().bytes("activations"))
                .isEqualTo(2L * 152_064 * 8 * 512);
        // transformers generate holds the KV cache of the whole generation batch (8 × 4 completions) at full length:
        // 28 layers × 2 × 4 KV heads × 128 × 2 B = 57,344 B per token × 32 × 1,536 tokens
        assertThat(grpo.memory().bytes("kv_cache")).isEqualTo(57_344L * 32 * 1536);
        assertThat(grpo.memory().phases()).anySatisfy(p -> assertThat(p.name()).startsWith("generation"));
        // a colocated vLLM engine takes vllm_gpu_memory_utilization of the GPU through training (no sleep mode)
        long total = GpuCatalog.builtIn().find("H100-SXM-80GB").orElseThrow().cudaTotalBytes();
        String[] grpoArgs = concat(common, "trainer", "grpo", "prompt_len", "512", "output_len", "1024");
        Estimate colocate = estimate("Qwen/Qwen2.5-7B", "H100-SXM-80GB", concat(grpoArgs, "use_vllm", "true"));
        Estimate server = estimate("Qwen/Qwen2.5-7B", "H100-SXM-80GB", concat(grpoArgs, "use_vllm", "true",
                "vllm_mode", "server"));
        long engine = (long) Math.floor(0.3 * total);
        assertThat(colocate.memory().bytes("generation_engine")).isEqualTo(engine);
        assertThat(colocate.memory().peakAllocated()).isEqualTo(server.memory().peakAllocated() + engine);
        // with sleep mode the engine is there only while it generates: weights + optimizer + engine, or training
        Estimate asleep = estimate("Qwen/Qwen2.5-7B", "H100-SXM-80GB", concat(grpoArgs, "use_vllm", "true",
                "vllm_enable_sleep_mode", "true"));
        long resident = asleep.memory().bytes("weights") + asleep.memory().bytes("optimizer");
        assertThat(asleep.memory().peakPhase().bytes()).isEqualTo(Math.max(server.memory().peakPhase().bytes(),
                resident + engine));
        // the step waits for the generation: transformers generate of the 32 completions, the same figure a serving
        // estimate of that batch gives (c·O / output tokens/s)
        var perf = grpo.perf().orElseThrow();
        var serving = estimate("Qwen/Qwen2.5-7B", "H100-SXM-80GB", "task", "infer", "framework", "hf", "precision",
                "bf16", "batch_size", "32", "prompt_len", "512", "output_len", "1024").perf().orElseThrow();
        assertThat(perf.figure("generation_s")).isCloseTo(32 * 1024 / serving.outputTokensPerS(), within(1e-9));
        assertThat(perf.stepTimeS()).isGreaterThan(perf.figure("generation_s"));
        assertThat(colocate.perf().orElseThrow().figure("generation_s")).isLessThan(perf.figure("generation_s"));
        // num_iterations 2 reuses each generation for two optimizer steps: half the generation time per step
        var reused = estimate("Qwen/Qwen2.5-7B", "H100-SXM-80GB", concat(grpoArgs, "num_iterations", "2")).perf()
                .orElseThrow();
        assertThat(reused.figure("generation_s")).isCloseTo(perf.figure("generation_s") / 2, within(1e-9));
        // steps_per_generation 2 generates 8 × 2 completions at a time, twice per step of 4 micro-batches
        Estimate halves = estimate("Qwen/Qwen2.5-7B", "H100-SXM-80GB", concat(grpoArgs, "steps_per_generation", "2"));
        assertThat(halves.memory().bytes("kv_cache")).isEqualTo(57_344L * 16 * 1536);
        // a server on other GPUs adds nothing to the training GPU beyond the completion-only loss
        assertThat(server.memory().phases()).noneSatisfy(p -> assertThat(p.name()).startsWith("generation"));
        // beta > 0 keeps a reference model: a frozen copy for full fine-tuning
        String[] full = {"task", "train", "batch_size", "1", "trainer", "grpo"};
        long sft = estimate("Qwen/Qwen2.5-0.5B", "H100-SXM-80GB", full).memory().bytes("weights");
        assertThat(estimate("Qwen/Qwen2.5-0.5B", "H100-SXM-80GB", concat(full, "beta", "0.04")).memory()
                .bytes("weights")).isEqualTo(2 * sft);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "beta", "0.04"))
                .hasMessageStartingWith("beta, use_vllm");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "trainer", "grpo",
                "vllm_mode", "remote")).hasMessageStartingWith("vllm_mode: 'remote' is not accepted");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "trainer", "grpo",
                "use_vllm", "false", "vllm_mode", "server")).hasMessageStartingWith("use_vllm: false");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "trainer", "grpo",
                "use_vllm", "true", "vllm_mode", "server", "vllm_enable_sleep_mode", "true"))
                .hasMessageStartingWith("vllm_enable_sleep_mode: applies to vllm_mode colocate");
    }

    @Test
    void vllmVersionSelectsTheReleasesStartUpBehaviour() {
        assertThat(org.gpuplan.workload.VllmVersion.parse("v0.6.3.post1")).hasToString("0.6.3");
        assertThat(org.gpuplan.workload.VllmVersion.parse("0.11.0rc1").v0()).isFalse();
        assertThat(org.gpuplan.workload.VllmVersion.parse("0.10").v0()).isFalse();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> org.gpuplan.workload.VllmVersion.parse("latest"))
                .hasMessageStartingWith("vllm_version: 'latest' is not a vLLM release");
        // the V0 engine (before 0.8) samples with PyTorch's sort unless the sampler is given
        assertThat(workload("task", "infer", "framework", "vllm", "vllm_version", "0.7.3").sampler())
                .isEqualTo(org.gpuplan.workload.Sampler.TORCH);
        assertThat(workload("task", "infer", "framework", "vllm", "vllm_version", "0.9.2").sampler())
                .isEqualTo(org.gpuplan.workload.Sampler.FLASHINFER);
        // V0's max_num_batched_tokens: max(max_model_len, 2048); chunked prefill above 32K from 0.5.4 (512 tokens,
        // 2048 from 0.6.5)
        org.gpuplan.workload.VllmVersion v063 = org.gpuplan.workload.VllmVersion.parse("0.6.3");
        assertThat(v063.v0BatchedTokens(4096)).isEqualTo(4096);
        assertThat(v063.v0BatchedTokens(1024)).isEqualTo(2048);
        assertThat(v063.v0BatchedTokens(131_072)).isEqualTo(512);
        assertThat(org.gpuplan.workload.VllmVersion.parse("0.7.0").v0BatchedTokens(131_072)).isEqualTo(2048);
        assertThat(org.gpuplan.workload.VllmVersion.parse("0.5.0").v0BatchedTokens(65_536)).isEqualTo(65_536);
        // 0.2.5-0.2.6 at TP 4: every all-reduce output of the 4,096-token profile forward stays cached, (2 × 80 + 1)
        // outputs of 4,096 × 8,192 × 2 B for Llama-2-70B; 0.2.7 set TORCH_NCCL_AVOID_RECORD_STREAMS
        String[] tp4 = {"task", "infer", "framework", "vllm", "gpus", "4", "tp", "4", "seq_len", "4096",
            "max_num_seqs", "256"};
        Estimate v025 = estimate("meta-llama/Llama-2-70b-hf", "A100-SXM-80GB", concat(tp4, "vllm_version", "0.2.5"));
        Estimate v027 = estimate("meta-llama/Llama-2-70b-hf", "A100-SXM-80GB", concat(tp4, "vllm_version", "0.2.7"));
        assertThat(v025.memory().bytes("activations") - v027.memory().bytes("activations"))
                .isEqualTo(161L * 4096 * 8192 * 2);
        // both measure the whole device, so the CUDA context leaves the budget that 0.6.4 and later do not charge
        Estimate v064 = estimate("meta-llama/Llama-2-70b-hf", "A100-SXM-80GB", concat(tp4, "vllm_version", "0.6.4",
                "max_num_batched_tokens", "4096", "sampler", "torch"));
        assertThat(v064.memory().pool().orElseThrow().poolBytes() - v027.memory().pool().orElseThrow().poolBytes())
                .isBetween(300L << 20, 700L << 20);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "infer", "framework", "sglang",
                "vllm_version", "0.6.3")).hasMessageStartingWith("vllm_version: applies to --framework vllm");
    }

    @Test
    void vllmLoraServingPreallocatesAdapterSlotsInEveryLoraCapableLayer() {
        // Llama-3.1-8B, --enable-lora --max-loras 4 --max-lora-rank 64: per layer and adapter r × Σ(in + out) over
        // q (4096+4096), k and v (4096+1024 each), o (4096+4096), gate and up (4096+14336 each), down (14336+4096)
        // = 64 × 81,920; × 32 layers × 4 adapters × 2 B (bf16) = 1,342,177,280 B
        String[] common = {"task", "infer", "framework", "vllm", "seq_len", "8192"};
        long plain = estimate("meta-llama/Llama-3.1-8B", "L40S", common).memory().bytes("weights");
        long lora = estimate("meta-llama/Llama-3.1-8B", "L40S", concat(common, "enable_lora", "true", "max_loras", "4",
                "max_lora_rank", "64")).memory().bytes("weights");
        assertThat(lora - plain).isEqualTo(64L * 81_920 * 32 * 4 * 2);
        // naming a slot setting enables it; vLLM's defaults are one adapter of rank 16
        assertThat(workload(concat(common, "max_lora_rank", "32")).loraSlots().maxLoras()).isEqualTo(1);
        assertThat(workload(concat(common, "enable_lora", "true")).loraSlots().maxRank()).isEqualTo(16);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "train", "enable_lora", "true"))
                .hasMessageStartingWith("enable_lora: vLLM's multi-LoRA serving applies");
    }

    @Test
    void vllmKvCacheMemoryGivesThePoolInsteadOfTheUtilizationRule() {
        // vLLM --kv-cache-memory: the pool's bytes per GPU, taken as given (20 GiB of 128 KiB tokens: 163,840)
        Estimate e = estimate("meta-llama/Llama-3.1-8B", "L40S", "task", "infer", "framework", "vllm",
                "kv_cache_memory", "20GiB");
        assertThat(e.memory().bytes("kv_pool")).isEqualTo(20L << 30);
        assertThat(e.memory().pool().orElseThrow().capacityTokens()).isEqualTo(163_840);
        assertThat(workload("task", "infer", "framework", "vllm", "kv_cache_memory", "21474836480").kvCacheMemory())
                .isEqualTo(20L << 30);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> workload("task", "infer", "framework", "sglang",
                "kv_cache_memory", "1GiB")).hasMessageStartingWith("kv_cache_memory: vLLM's --kv-cache-memory");
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void theLmHeadIsAdaptedOnlyWhenNamed() {
        // lora_A (h×r) + lora_B (r×V) on the output layer: 8 × (4,096 + 32,000) for Llama-2-7B; torchtune calls it
        // output (apply_lora_to_output); all-linear leaves it out as PEFT does
        ModelSpec m = spec("meta-llama/Llama-2-7b-hf");
        long qv = LoraAdapters.parameters(m, workload("task", "train", "method", "lora", "lora_rank", "8",
                "lora_targets", "q_proj,v_proj"));
        assertThat(qv).isEqualTo(4_194_304L); // LitGPT's resource table: 4,194,304 trainable parameters
        for (String head : new String[] {"lm_head", "output"}) {
            assertThat(LoraAdapters.parameters(m, workload("task", "train", "method", "lora", "lora_rank", "8",
                    "lora_targets", "q_proj,v_proj," + head)) - qv).isEqualTo(8L * (4096 + 32000));
        }
        long allLinear = LoraAdapters.parameters(m, workload("task", "train", "method", "lora", "lora_rank", "8",
                "lora_targets", "all-linear"));
        assertThat(LoraAdapters.parameters(m, workload("task", "train", "method", "lora", "lora_rank", "8",
                "lora_targets", "all-linear,lm_head")) - allLinear).isEqualTo(8L * (4096 + 32000));
        // encoders have no LM head to adapt
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> LoraAdapters.parameters(
                spec("google-bert/bert-base-uncased"),
                workload("task", "train", "method", "lora", "lora_targets", "lm_head")))
                .hasMessageStartingWith("lora_targets: 'lm_head' is not a Linear module of this bert model");
    }

    @Test
    void mlaCachesTheLatentOrPerHeadKeysAndValuesByLayout() {
        // DeepSeek-V2-Lite (27 layers, 16 heads, kv_lora_rank 512, rope 64, q/k head 192, v head 128), f16, per token:
        // llama.cpp logs 'K (f16)' + 'V (f16)' of 276,480 B per token with a GGUF converted before MLA support (16 ×
        // (192 + 128) × 2 B × 27); vLLM 0.5 padded V to 192: 331,776 B; the MLA latent 576 × 2 B × 27 = 31,104 B;
        // llama.cpp b5331 kept a 512-wide V beside it: 1,088 × 2 B per layer (DeepSeek-V3 61 layers: 132,736 B)
        ModelSpec lite = spec("deepseek-ai/DeepSeek-V2-Lite");
        java.util.function.BiFunction<String, String, Long> perToken = (framework, layout) -> KvCache.bytes(lite,
                workload("task", "infer", "framework", framework, "kv_layout", layout), 1, 1, 2.0);
        assertThat(perToken.apply("llama.cpp", "per-head")).isEqualTo(276_480L);
        assertThat(perToken.apply("vllm", "per-head")).isEqualTo(331_776L);
        assertThat(perToken.apply("vllm", "auto")).isEqualTo(perToken.apply("llama.cpp", "latent"))
                .isEqualTo(31_104L);
        assertThat(perToken.apply("hf", "auto")).isEqualTo(276_480L);
        assertThat(KvCache.bytes(spec("deepseek-ai/DeepSeek-V3"), workload("task", "infer", "framework", "llama.cpp",
                "kv_layout", "latent+v"), 1, 1, 2.0)).isEqualTo(132_736L);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> KvCache.bytes(spec("meta-llama/Llama-3.1-8B"),
                workload("task", "infer", "framework", "vllm", "kv_layout", "latent"), 1, 1, 2.0))
                .hasMessageStartingWith("kv_layout: 'latent' applies to multi-head latent attention models");
    }

    @Test
    void linearParametersAreWhatQuantizationReplaces() {
        // Llama-3-8B: 6.98 G parameters in nn.Linear; embeddings, LM head and norms stay unquantized
        assertThat(LinearModules.linearParameters(spec("meta-llama/Llama-3.1-8B"))).isEqualTo(6_979_321_856L);
    }

    @Test
    void nf4WeightsFollowBitsandbytesLayout() {
        Estimate e = estimate("meta-llama/Llama-3.1-8B", null, "task", "infer", "quant", "nf4", "double_quant",
                "true");
        double perLinear = 0.5 + 1.0 / 64 + 4.0 / (64 * 256);
        long expected = (long) Math.ceil(6_979_321_856L * perLinear) + (8_030_261_248L - 6_979_321_856L) * 2;
        assertThat(e.memory().bytes("weights")).isEqualTo(expected);
    }

    @Test
    void ggufQ4_0MatchesLlamaCppModelSize() {
        // ollama PR #6279 log: Llama 3.1 70B Q4_0 "model size = 37.22 GiB (4.53 BPW)"
        Estimate e = estimate("meta-llama/Llama-3.1-70B-Instruct", null, "task", "infer", "quant", "q4_0");
        assertThat(e.memory().bytes("weights") / (double) (1L << 30)).isCloseTo(37.22, within(0.005));
    }

    @Test
    void kvCacheBytesPerTokenMatchTheReference() {
        // 16-bit K+V per token: Llama-2-7B 512 KiB, Llama-3.1-8B 128 KiB, Qwen2.5-7B 56 KiB; DeepSeek-V3 MLA latent
        // (512 + 64) · 61 · 2 = 70,272 B in vLLM
        assertThat(KvCache.bytes(spec("meta-llama/Llama-2-7b-hf"), workload("task", "infer", "framework", "vllm"), 1, 1, 2)).isEqualTo(512 * 1024);
        assertThat(KvCache.bytes(spec("meta-llama/Llama-3.1-8B"), workload("task", "infer", "framework", "vllm"), 1, 1, 2)).isEqualTo(128 * 1024);
        assertThat(KvCache.bytes(spec("Qwen/Qwen2.5-7B"), workload("task", "infer", "framework", "vllm"), 1, 1, 2)).isEqualTo(56 * 1024);
        assertThat(KvCache.bytes(spec("deepseek-ai/DeepSeek-V3"), workload("task", "infer", "framework", "vllm"), 1, 1, 2)).isEqualTo(70_272);
    }

    @Test
    void slidingWindowLayersHoldOnlyTheWindow() {
        ModelSpec gemma = spec("google/gemma-2-9b"); // 42 layers, half sliding with window 4096
        long perLayerToken = 2L * 8 * 256 * 2;
        assertThat(KvCache.bytes(gemma, workload("task", "infer"), 1, 8192, 2))
                .isEqualTo(21 * 8192 * perLayerToken + 21 * 4096 * perLayerToken);
    }

    @Test
    void vllmPoolIsTheBudgetMinusWeightsActivationsAndContext() {
        Estimate e = estimate("meta-llama/Meta-Llama-3-8B", "H100-SXM-80GB", "task", "infer", "framework", "vllm",
                "seq_len", "8192");
        var pool = e.memory().pool().orElseThrow();
        long budget = (long) (GpuCatalog.builtIn().require("H100-SXM-80GB").cudaTotalBytes() * 0.9);
        // current vLLM (0.21+) also takes its CUDA-graph estimate (512 MiB assumed) from the budget
        long expected = budget - 16_060_522_496L - pool.activationPeak() - pool.nonTorchBytes() - (512L << 20);
        long block = 16L * 128 * 1024;
        assertThat(pool.poolBytes()).isEqualTo(expected / block * block);
        assertThat(pool.capacityTokens()).isEqualTo(expected / block * 16);
        // before 0.21 the graphs come on top of the budget
        var v019 = estimate("meta-llama/Meta-Llama-3-8B", "H100-SXM-80GB", "task", "infer", "framework", "vllm",
                "seq_len", "8192", "vllm_version", "0.19.0").memory().pool().orElseThrow();
        long older = budget - 16_060_522_496L - v019.activationPeak() - v019.nonTorchBytes();
        assertThat(v019.poolBytes()).isEqualTo(older / block * block);
    }

    @Test
    void pureBf16AdamWHoldsTenBytesPerParameterAtTheStep() {
        // weights 2 + grads 2 + exp_avg 2 + exp_avg_sq 2 + foreach temporary 2 (framework notes §1)
        Estimate e = estimate("Qwen/Qwen2.5-0.5B", null, "task", "train", "precision", "bf16", "seq_len", "8",
                "batch_size", "1");
        var step = e.memory().phases().stream().filter(p -> p.name().equals("optimizer step")).findFirst()
                .orElseThrow();
        assertThat(step.bytes()).isEqualTo(10L * 494_032_768L);
    }

    @Test
    void peaksAreOrdered() {
        Estimate e = estimate("meta-llama/Llama-3.1-8B", "RTX-4090", "task", "train", "method", "qlora",
                "batch_size", "2", "seq_len", "2048");
        assertThat(e.memory().peakAllocated()).isLessThanOrEqualTo(e.memory().peakReserved());
        assertThat(e.memory().peakReserved()).isLessThan(e.memory().deviceUsed());
        assertThat(e.fit()).isPresent();
    }
}
