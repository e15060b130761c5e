#!/usr/bin/env python3
"""The GPU kernels of one training step of matrix cases, by total time: which kernels a workload's time goes to.

measure.py records the kernel time split into four kinds; this names the kernels (top N by device time, with call
counts), so that a runtime term can be written for what really runs, e.g. the per-expert loop of transformers' MoE
blocks or DoRA's weight-norm kernels.

Usage: python3 calibration/profile_kernels.py --out results/kernels-top-<gpu>-<date>.jsonl CASE [CASE ...]
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import measure  # noqa: E402


def profile_case(torch, case, top):
    w = dict(case["workload"])
    model, precision, _ = measure.build_model(torch, w)
    method = w.get("method", "full")
    if method == "lora":
        import peft
        targets = w.get("lora_targets") or None
        if targets == ["all-linear"]:
            targets = "all-linear"
        model = peft.get_peft_model(model, peft.LoraConfig(
            r=int(w.get("lora_rank", 16)), lora_alpha=float(w.get("lora_alpha", 32)), target_modules=targets,
            lora_dropout=0.0, task_type="CAUSAL_LM", use_dora=str(w.get("use_dora", False)).lower() == "true"))
    if w.get("checkpointing", "none") != "none":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    optimizer = measure.make_optimizer(torch, model.parameters(), w.get("optimizer", "adamw"))
    b, s = int(w.get("batch_size", 1)), int(w.get("seq_len", 2048))
    vocab = model.config.vocab_size

    def step():
        ids = torch.randint(0, vocab, (b, s), device="cuda")
        with measure.autocast_of(torch, precision):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    torch.cuda.synchronize()
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        t = getattr(e, "self_device_time_total", 0) or 0
        if t > 0:
            rows.append({"kernel": e.key[:160], "count": e.count, "ms": round(t / 1e3, 3),
                         "kind": measure.kernel_kind(e.key)})
    rows.sort(key=lambda r: -r["ms"])
    total = sum(r["ms"] for r in rows)
    del model, optimizer
    return {"id": case["id"], "workload": w, "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
            "kernel_ms": round(total, 3), "kernels": sum(r["count"] for r in rows), "top": rows[:top]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    import torch
    cases = {c["id"]: c for c in measure.read_matrix(measure.MATRIX)}
    for cid in args.cases:
        try:
            result = profile_case(torch, cases[cid], args.top)
        except Exception as e:  # one case's problem must not cost the others
            print(f"error {cid}: {type(e).__name__}: {e}", flush=True)
            continue
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")
        print(f"{cid}: {result['kernel_ms']:.1f} ms in {result['kernels']} kernels", flush=True)
        for r in result["top"][:12]:
            print(f"   {r['ms']:9.3f} ms x{r['count']:6d} {r['kind']:10s} {r['kernel'][:90]}", flush=True)
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
