package org.gpuplan.workload;

/** The software that runs the job; decides dtypes, buffers and allocator behaviour. */
public enum Framework implements Choice {
    HF("hf"),
    TORCHTUNE("torchtune"),
    FSDP("fsdp"),
    DEEPSPEED("deepspeed"),
    MEGATRON("megatron"),
    VLLM("vllm"),
    SGLANG("sglang"),
    TENSORRT_LLM("tensorrt-llm"),
    LLAMA_CPP("llama.cpp");

    private final String key;

    Framework(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    /** Serving engines that pre-allocate a KV-cache pool from a memory-utilization budget. */
    public boolean poolsKvCache() {
        return this == VLLM || this == SGLANG || this == TENSORRT_LLM;
    }

    public boolean servingOnly() {
        return poolsKvCache() || this == LLAMA_CPP;
    }
}
