#!/usr/bin/env python3
"""Where HF generate spends its time per output token: a manual greedy decode loop (model forward with the KV cache)
against model.generate on the same random-weight model, and the host-side profile of a few generate steps.

Usage: python3 calibration/generate_overhead.py [model-id] > calibration/results/generate-overhead-<gpu>.txt
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOG = os.path.join(HERE, "..", "src", "main", "resources", "gpuplan", "models")


def main():
    import torch
    import transformers
    model_id = sys.argv[1] if len(sys.argv) > 1 else "openai-community/gpt2"
    with open(os.path.join(CATALOG, model_id.replace("/", "--") + ".json")) as f:
        raw = json.load(f)
    raw.pop("_comment", None)
    config = transformers.AutoConfig.for_model(**raw)
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).eval()
    b, p, o = 8, 256, 32
    ids = torch.randint(0, config.vocab_size, (b, p), device="cuda")
    kw = dict(attention_mask=torch.ones_like(ids), do_sample=False, pad_token_id=0, eos_token_id=None)
    print(f"model {model_id}; torch {torch.__version__}; transformers {transformers.__version__}; "
          f"gpu {torch.cuda.get_device_name(0)}; batch {b}, prompt {p}, output {o}")
    with torch.no_grad():
        for variant, extra in (("generate min_new_tokens", dict(min_new_tokens=o)), ("generate", {})):
            model.generate(ids, max_new_tokens=o, **kw, **extra)
            torch.cuda.synchronize()
            t = time.perf_counter()
            model.generate(ids, max_new_tokens=1, **kw)
            torch.cuda.synchronize()
            one = time.perf_counter() - t
            t = time.perf_counter()
            model.generate(ids, max_new_tokens=o, **kw, **extra)
            torch.cuda.synchronize()
            total = time.perf_counter() - t
            print(f"{variant}: first token {one * 1e3:.1f} ms, per later token {(total - one) / (o - 1) * 1e3:.2f} ms")
        # manual greedy loop with the model's own cache
        out = model(ids, use_cache=True)
        past = out.past_key_values
        nxt = out.logits[:, -1:].argmax(-1)
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(o - 1):
            out = model(nxt, past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = out.logits[:, -1:].argmax(-1)
        torch.cuda.synchronize()
        print(f"manual loop: per token {(time.perf_counter() - t) / (o - 1) * 1e3:.2f} ms")
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            model.generate(ids, max_new_tokens=8, **kw)
            torch.cuda.synchronize()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=60))


if __name__ == "__main__":
    main()
