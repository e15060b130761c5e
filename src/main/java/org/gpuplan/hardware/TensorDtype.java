package org.gpuplan.hardware;

/** The arithmetic a matmul runs in; the GPU catalog gives one dense peak per dtype. */
public enum TensorDtype {
    FP32("fp32_tflops"),
    TF32("tf32_dense_tflops"),
    BF16("bf16_dense_tflops"),
    FP16("fp16_dense_tflops"),
    FP8("fp8_dense_tflops"),
    INT8("int8_dense_tops"),
    FP4("fp4_dense_tflops");

    private final String column;

    TensorDtype(String column) {
        this.column = column;
    }

    /** The catalog column holding this dtype's peak. */
    public String column() {
        return column;
    }
}
