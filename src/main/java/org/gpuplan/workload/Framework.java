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

    @Override
    public java.util.List<String> aliases() {
        // the libraries users name: transformers' Trainer under PEFT and TRL, torchtitan runs FSDP2 (with TP/PP/CP), NeMo runs Megatron-Core
        return switch (this) {
            case HF -> java.util.List.of("transformers", "peft", "trl");
            case FSDP -> java.util.List.of("torchtitan", "fsdp2");
            case MEGATRON -> java.util.List.of("megatron-lm", "megatron-core", "nemo");
            case TENSORRT_LLM -> java.util.List.of("trtllm", "trt-llm");
            // ollama runs llama.cpp's runner (its logs print llama.cpp's buffers)
            case LLAMA_CPP -> java.util.List.of("llamacpp", "llama-cpp", "ollama");
            default -> java.util.List.of();
        };
    }

    /** Serving engines that pre-allocate a KV-cache pool from a memory-utilization budget. */
    public boolean poolsKvCache() {
        return this == VLLM || this == SGLANG || this == TENSORRT_LLM;
    }

    public boolean servingOnly() {
        return poolsKvCache() || this == LLAMA_CPP;
    }
}
