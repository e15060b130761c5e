package org.gpuplan.io;

import org.gpuplan.model.GgmlType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

/**
 * Header-reader speed on realistic sizes: a safetensors header with the tensor count of a large MoE checkpoint shard
 * set (20,000 tensors) and a GGUF header with a 150,000-entry tokenizer vocabulary and 1,000 tensors.
 * Run: {@code mvn -B -ntp test-compile exec:java -Dexec.args="HeaderBenchmark"}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class HeaderBenchmark {

    private byte[] safetensors;
    private byte[] gguf;

    @Setup
    public void setUp() {
        List<TestFiles.Tensor> tensors = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            tensors.add(new TestFiles.Tensor("model.layers." + (i / 400) + ".mlp.experts." + (i % 400)
                    + ".down_proj.weight", "BF16", 2, 2));
        }
        safetensors = TestFiles.safetensors(tensors);
        String[] vocab = new String[150_000];
        for (int i = 0; i < vocab.length; i++) {
            vocab[i] = "token" + i;
        }
        TestFiles.Gguf g = new TestFiles.Gguf().kv("general.architecture", "llama")
                .kv("tokenizer.ggml.tokens", vocab);
        for (int i = 0; i < 1000; i++) {
            g.tensor("blk." + i + ".ffn_up.weight", GgmlType.Q4_K, 256, 4);
        }
        gguf = g.build();
    }

    @Benchmark
    public long safetensorsHeader20kTensors() {
        return SafetensorsReader.read(ByteSource.of(safetensors), "b", -1).totalElements();
    }

    @Benchmark
    public long ggufHeader150kVocab() {
        return GgufReader.read(ByteSource.of(gguf), "b").tensors().totalElements();
    }
}
