#!/usr/bin/env python3
"""Measure the GPU's achieved matrix-multiply throughput and memory bandwidth, for gpuplan's roofline model.

gpuplan's runtime model multiplies each GEMM's FLOPs by an efficiency that depends on the GPU generation and on the
matrix sizes (small matrices reach a smaller fraction of the dense peak). This script times torch.matmul for the
shapes a Transformer layer actually runs (tokens × hidden × intermediate, and one-token decode rows) plus a large
device-to-device copy, and writes one JSON line per measurement:

    {"op": "matmul", "dtype": "bf16", "m": 4096, "n": 4096, "k": 4096, "seconds": ..., "tflops": ..., "gpu": ...}
    {"op": "copy", "bytes": ..., "seconds": ..., "tb_per_s": ..., "gpu": ...}

Usage: python3 calibration/kernels.py --out calibration/results/kernels-<gpu>-<date>.jsonl
"""

import argparse
import datetime
import json

# (m, n, k): m is the number of tokens in the batch; n × k are weight shapes of real models
SHAPES = [
    (8192, 8192, 8192),  # the classic peak probe
    (4096, 4096, 4096), (2048, 4096, 4096), (1024, 4096, 4096), (512, 4096, 4096), (256, 4096, 4096),
    (128, 4096, 4096), (64, 4096, 4096), (16, 4096, 4096), (1, 4096, 4096),
    (4096, 14336, 4096), (4096, 4096, 14336), (4096, 1024, 4096),  # Llama-3-8B MLP and GQA K/V projections
    (2048, 4864, 896), (2048, 896, 4864), (2048, 896, 896),  # Qwen2.5-0.5B
    (2048, 3072, 768), (2048, 768, 3072), (2048, 768, 768),  # GPT-2 small
    (4096, 128256, 4096), (1, 128256, 4096),  # Llama-3 LM head, prefill and decode
    (16384, 8192, 8192), (16384, 28672, 8192),  # Llama-3-70B shapes at 16k tokens
]


def timed(torch, fn, repeat):
    for _ in range(3):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(repeat):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000 / repeat


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import torch
    gpu = torch.cuda.get_device_name(0)
    common = {"gpu": gpu, "torch": torch.__version__, "cuda": torch.version.cuda,
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")}
    with open(args.out, "w") as out:
        for dtype_name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16), ("fp32-tf32", torch.float32)):
            torch.backends.cuda.matmul.allow_tf32 = dtype == torch.float32
            for m, n, k in SHAPES:
                if dtype != torch.bfloat16 and (m, n, k) not in ((8192, 8192, 8192), (4096, 4096, 4096)):
                    continue
                a = torch.randn(m, k, device="cuda", dtype=dtype)
                b = torch.randn(k, n, device="cuda", dtype=dtype)
                flops = 2 * m * n * k
                repeat = max(5, min(200, int(2e13 / flops)))
                seconds = timed(torch, lambda: torch.matmul(a, b), repeat)
                line = dict(op="matmul", dtype=dtype_name, m=m, n=n, k=k, seconds=seconds,
                            tflops=flops / seconds / 1e12,
                            weight_bytes_per_s=(n * k * a.element_size()) / seconds, **common)
                out.write(json.dumps(line) + "\n")
                print(json.dumps(line), flush=True)
                del a, b
        n_bytes = 4 * 2**30
        src = torch.empty(n_bytes, dtype=torch.uint8, device="cuda")
        dst = torch.empty_like(src)
        seconds = timed(torch, lambda: dst.copy_(src), 10)
        line = dict(op="copy", bytes=n_bytes, seconds=seconds, tb_per_s=2 * n_bytes / seconds / 1e12,
                    note="bytes read plus bytes written", **common)
        out.write(json.dumps(line) + "\n")
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
