package org.gpuplan.workload;

/**
 * The kernel vLLM runs MXFP4 MoE layers with (gpt-oss); each pads the expert matrices to its own alignment when it
 * creates the weights (vllm model_executor/layers/quantization/mxfp4.py, Mxfp4MoEMethod.create_weights).
 */
public enum Mxfp4Backend implements Choice {
    /** By GPU: Marlin before Hopper (no native FP4), triton_kernels on Hopper, FlashInfer on Blackwell. */
    AUTO("auto", 1, 1),
    /** Marlin weight-only FP4 (VLLM_MXFP4_USE_MARLIN=1, or no FP4 support): n % 256 and k % 128 per GEMM. */
    MARLIN("marlin", 128, 256),
    /** OpenAI's triton_kernels matmul_ogs: the intermediate size per partition padded to 64 only. */
    TRITON("triton", 64, 1),
    /** FlashInfer's MXFP4 MoE (Blackwell; VLLM_USE_FLASHINFER_MOE_MXFP4_*): both sizes padded to 256. */
    FLASHINFER("flashinfer", 256, 256);

    private final String key;
    private final int intermediateMultiple;
    private final int hiddenMultiple;

    Mxfp4Backend(String key, int intermediateMultiple, int hiddenMultiple) {
        this.key = key;
        this.intermediateMultiple = intermediateMultiple;
        this.hiddenMultiple = hiddenMultiple;
    }

    @Override
    public String key() {
        return key;
    }

    /** The backend vLLM picks on a GPU of this CUDA compute capability major version. */
    public Mxfp4Backend resolve(int computeMajor) {
        if (this != AUTO) {
            return this;
        }
        return computeMajor >= 10 ? FLASHINFER : computeMajor == 9 ? TRITON : MARLIN;
    }

    /** The multiple the intermediate size per partition is padded to. */
    public int intermediateMultiple() {
        return intermediateMultiple;
    }

    /** The multiple the hidden size is padded to (1: not padded). */
    public int hiddenMultiple() {
        return hiddenMultiple;
    }
}
