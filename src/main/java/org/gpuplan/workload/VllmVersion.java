package org.gpuplan.workload;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.gpuplan.model.InvalidInputException;

/**
 * The vLLM release a serving estimate follows (vllm_version), for the start-up behaviours that changed between
 * releases; absent, the estimate follows current vLLM (the V1 engine).
 */
public record VllmVersion(int major, int minor, int patch) implements Comparable<VllmVersion> {

    private static final Pattern FORM = Pattern.compile("^v?(\\d{1,3})\\.(\\d{1,3})(?:\\.(\\d{1,3}))?"
            + "(?:[.+-]?(?:post|rc|dev)\\d*)*(?:\\+[A-Za-z0-9.]+)?$");

    public VllmVersion {
        if (major < 0 || minor < 0 || patch < 0) {
            throw new InvalidInputException("vllm_version: expected a release such as 0.6.3 or 0.10.1");
        }
    }

    /** Parses 0.6.3, v0.6.3, 0.6.3.post1, 0.10, 0.11.0rc1; anything else is an error naming the form. */
    public static VllmVersion parse(String text) {
        Matcher m = FORM.matcher(text.trim());
        if (!m.matches()) {
            throw new InvalidInputException("vllm_version: '" + text + "' is not a vLLM release (expected the form "
                    + "0.6.3, v0.10.1 or 0.8.5.post1)");
        }
        return new VllmVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                m.group(3) == null ? 0 : Integer.parseInt(m.group(3)));
    }

    @Override
    public int compareTo(VllmVersion o) {
        return major != o.major ? Integer.compare(major, o.major) : minor != o.minor ? Integer.compare(minor, o.minor)
                : Integer.compare(patch, o.patch);
    }

    private boolean before(int maj, int min, int pat) {
        return compareTo(new VllmVersion(maj, min, pat)) < 0;
    }

    /** The V0 engine: the only one before 0.8.0 (V1 became the default in 0.8.0). */
    public boolean v0() {
        return before(0, 8, 0);
    }

    /**
     * Whether the start-up profile measures the whole device (total − free memory after the profile run, PR #2031,
     * 0.2.5) rather than PyTorch's peak plus non-torch growth (PR #9352, 0.6.4): the CUDA context, cuBLAS and NCCL
     * memory and the caching allocator's cached blocks are then all taken from the budget.
     */
    public boolean profileSeesDevice() {
        return !before(0, 2, 5) && before(0, 6, 4);
    }

    /**
     * Whether, with tensor parallelism, every all-reduce's output block stays cached until the profile ends: NCCL's
     * record_stream kept PyTorch's allocator from reusing them (vLLM issue #2150) until vLLM set
     * TORCH_NCCL_AVOID_RECORD_STREAMS (PR #2151, in 0.2.7).
     */
    public boolean allReduceOutputsCached() {
        return before(0, 2, 7);
    }

    /**
     * Whether the KV budget leaves room for the CUDA graphs: VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS, on by default
     * from 0.21.0 (PR #30515 added it, opt-in).
     */
    public boolean profilesCudaGraphs() {
        return !before(0, 21, 0);
    }

    /**
     * V0's default max_num_batched_tokens: max(max_model_len, 2048), or with chunked prefill, which V0 turns on by
     * default above 32K of context from 0.5.4 (PR #6666), 512 tokens (2048 from 0.6.5, PR #10544).
     */
    public int v0BatchedTokens(int maxModelLen) {
        if (maxModelLen > 32_768 && !before(0, 5, 4)) {
            return before(0, 6, 5) ? 512 : 2048;
        }
        return Math.max(maxModelLen, 2048);
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + patch;
    }
}
