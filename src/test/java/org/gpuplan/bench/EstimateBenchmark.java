package org.gpuplan.bench;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.gpuplan.estimate.Estimator;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.io.HfConfigParser;
import org.gpuplan.io.ModelCatalog;
import org.gpuplan.model.ModelSpec;
import org.gpuplan.workload.Workload;
import org.gpuplan.workload.WorkloadParser;
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

/** One in-process memory estimate (model already parsed): training and serving. The promise is under 1 ms. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class EstimateBenchmark {

    private ModelSpec llama;
    private ModelSpec deepseek;
    private Workload qlora;
    private Workload serving;
    private Workload train;
    private Workload megatron70b;
    private Workload servingMax70b;
    private ModelSpec llama70;
    private Optional<Gpu> rtx4090;
    private Optional<Gpu> h100;
    private ModelSpec qwenNext;
    private Workload sglangTp2;
    private Workload llamaCppOffload;
    private Workload llamaCppFlash;
    private Workload generate;

    @Setup
    public void setUp() {
        ModelCatalog c = ModelCatalog.builtIn();
        llama = HfConfigParser.parse(c.config(c.find("meta-llama/Llama-3.1-8B").orElseThrow()), "l", "l").spec();
        deepseek = HfConfigParser.parse(c.config(c.find("deepseek-ai/DeepSeek-V3").orElseThrow()), "d", "d").spec();
        qlora = WorkloadParser.parse(Map.of("model", "x", "task", "train", "method", "qlora", "batch_size", "2",
                "seq_len", "2048"));
        train = WorkloadParser.parse(Map.of("model", "x", "task", "train", "batch_size", "1", "seq_len", "4096"));
        serving = WorkloadParser.parse(Map.of("model", "x", "task", "infer", "framework", "vllm", "seq_len",
                "8192"));
        llama70 = HfConfigParser.parse(c.config(c.find("meta-llama/Llama-3.1-70B-Instruct").orElseThrow()), "m", "m")
                .spec();
        megatron70b = WorkloadParser.parse(Map.ofEntries(Map.entry("model", "x"), Map.entry("task", "train"),
                Map.entry("framework", "megatron"), Map.entry("gpus", "768"), Map.entry("nodes", "96"),
                Map.entry("tp", "8"), Map.entry("pp", "2"), Map.entry("zero", "1"), Map.entry("global_batch_size", "384"),
                Map.entry("seq_len", "4096"), Map.entry("sequence_parallel", "true"), Map.entry("tokens", "1e12")));
        servingMax70b = WorkloadParser.parse(Map.of("model", "x", "task", "infer", "framework", "vllm", "gpus", "2",
                "tp", "2", "prompt_len", "1000", "output_len", "1000", "batch_size", "max"));
        rtx4090 = Optional.of(GpuCatalog.builtIn().require("RTX-4090"));
        h100 = Optional.of(GpuCatalog.builtIn().require("H100-SXM-80GB"));
        qwenNext = HfConfigParser.parse(c.config(c.find("Qwen/Qwen3-Next-80B-A3B-Instruct").orElseThrow()), "q", "q")
                .spec();
        sglangTp2 = WorkloadParser.parse(Map.of("model", "x", "task", "infer", "framework", "sglang", "gpus", "2",
                "tp", "2", "seq_len", "32768"));
        llamaCppOffload = WorkloadParser.parse(Map.of("model", "x", "task", "infer", "framework", "llama.cpp",
                "quant", "q4_k_m", "seq_len", "8192", "n_gpu_layers", "40", "n_cpu_moe", "0"));
        generate = WorkloadParser.parse(Map.of("model", "x", "task", "infer", "batch_size", "32", "prompt_len",
                "1024", "output_len", "128"));
        llamaCppFlash = WorkloadParser.parse(Map.of("model", "x", "task", "infer", "framework", "llama.cpp",
                "quant", "q4_k_m", "seq_len", "32768", "attention", "flash"));
    }

    /**
     * One-GPU training replays its tensors through the caching allocator for the reserved peak: Llama-3.1-70B QLoRA
     * (80 layers, gradient checkpointing) is the largest common case, about 9,500 allocations over two steps.
     */
    @Benchmark
    public long qloraLlama70bOnH100() {
        return Estimator.estimate("m", llama70, qlora, h100).memory().deviceUsed();
    }

    /** transformers generate(): the prefill and 32 replayed decoding steps through the caching allocator. */
    @Benchmark
    public long hfGenerateLlama8bOnH100() {
        return Estimator.estimate("l", llama, generate, h100).memory().deviceUsed();
    }

    /** llama.cpp with flash attention: ggml's graph allocator simulated over the 80 layers' 2,700 nodes. */
    @Benchmark
    public long llamaCpp70bFlashGraphAllocator() {
        return Estimator.estimate("m", llama70, llamaCppFlash, rtx4090).memory().deviceUsed();
    }

    /** llama.cpp with layers in host memory: the per-layer GGUF types and the -ngl split. */
    @Benchmark
    public long llamaCpp70bPartialOffloadOnRtx4090() {
        return Estimator.estimate("m", llama70, llamaCppOffload, rtx4090).memory().deviceUsed();
    }

    /** A hybrid model (Gated DeltaNet and MoE layers): the four per-layer kinds of saved activations. */
    @Benchmark
    public long qloraQwen3NextOnH100() {
        return Estimator.estimate("q", qwenNext, qlora, h100).memory().deviceUsed();
    }

    /** A hybrid model served by SGLang on two GPUs: its state pool beside the KV pool. */
    @Benchmark
    public long sglangQwen3NextTp2() {
        return Estimator.estimate("q", qwenNext, sglangTp2, h100).memory().deviceUsed();
    }

    @Benchmark
    public long qloraLlama8bOn4090() {
        return Estimator.estimate("l", llama, qlora, rtx4090).memory().deviceUsed();
    }

    @Benchmark
    public long fullFineTuneDeepSeekV3() {
        return Estimator.estimate("d", deepseek, train, h100).memory().deviceUsed();
    }

    @Benchmark
    public long vllmServingLlama8b() {
        return Estimator.estimate("l", llama, serving, h100).memory().deviceUsed();
    }

    @Benchmark
    public double megatronLlama70bOn768H100() {
        return Estimator.estimate("m", llama70, megatron70b, h100).perf().orElseThrow().stepTimeS();
    }

    @Benchmark
    public double vllmLlama70bTp2AtMaxConcurrency() {
        return Estimator.estimate("m", llama70, servingMax70b, h100).perf().orElseThrow().outputTokensPerS();
    }
}
