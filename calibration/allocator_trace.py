#!/usr/bin/env python3
"""Record PyTorch's caching-allocator events for a few training steps of a calibration workload.

For each case of calibration/matrix.jsonl named on the command line, in a fresh process per allocator setting, it
builds the model as measure.py does, runs --steps training steps under torch.cuda.memory._record_memory_history,
and writes one JSON object per line with: the peaks per step (allocated, reserved), the segments held at the end
(size, bytes in use), and the event trace as [action, size, address] triples, with marker allocations of
MARK_BYTES + 512·k bytes (k = phase number) between phases: 1 forward start, 2 forward end, 3 backward end,
4 optimizer end, 5 zero_grad end. The trace is the allocator's real input, so a model of reserved memory can be
checked against the sequence that produced it, not only against the peak.

Usage:
    python3 calibration/allocator_trace.py --out results/alloc.jsonl qwen25-0.5b-full-bf16-adamw-b1-s512 ...
    python3 calibration/allocator_trace.py --alloc-conf expandable_segments:True --out ... CASE ...
    python3 calibration/allocator_trace.py --summarize results/alloc.jsonl results/allocator-<gpu>-<date>.jsonl

The summary keeps the peaks per step and the segments by size, without the event trace (megabytes per case).
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import measure  # noqa: E402  (the same model builder and optimizers as the calibration matrix)

MARK_BYTES = 77 * 1024  # a size no model tensor of the matrix has
ACTIONS = {"alloc": 0, "free_requested": 1, "free_completed": 2, "segment_alloc": 3, "segment_free": 4,
           "segment_map": 5, "segment_unmap": 6, "snapshot": 7, "oom": 8}


def run_case(case, steps):
    import torch
    w = dict(case["workload"])
    torch.ones(1, device="cuda")
    model, precision, _ = measure.build_model(torch, w)
    model.train()
    optimizer = measure.make_optimizer(torch, model.parameters(), w.get("optimizer", "adamw"))
    if str(w.get("compile", False)).lower() == "true":
        model = torch.compile(model)
    b, s = int(w.get("batch_size", 1)), int(w.get("seq_len", 2048))
    vocab = model.config.vocab_size
    torch.cuda.reset_peak_memory_stats()
    torch.cuda.memory._record_memory_history(max_entries=400000)

    def mark(k):
        m = torch.empty(MARK_BYTES + 512 * k, dtype=torch.uint8, device="cuda")
        del m

    per_step = []
    for _ in range(steps):
        mark(1)
        ids = torch.randint(0, vocab, (b, s), device="cuda")
        with measure.autocast_of(torch, precision):
            out = model(input_ids=ids, labels=ids)
        loss = out.loss
        del out
        mark(2)
        loss.backward()
        del loss
        mark(3)
        optimizer.step()
        mark(4)
        optimizer.zero_grad(set_to_none=True)
        mark(5)
        torch.cuda.synchronize()
        per_step.append({"max_allocated": torch.cuda.max_memory_allocated(),
                         "max_reserved": torch.cuda.max_memory_reserved(),
                         "allocated": torch.cuda.memory_allocated(), "reserved": torch.cuda.memory_reserved()})
    snap = torch.cuda.memory._snapshot()
    torch.cuda.memory._record_memory_history(enabled=None)
    segments = [{"size": seg["total_size"], "in_use": seg["allocated_size"], "pool": seg.get("segment_type", "")}
                for seg in snap["segments"]]
    trace = []
    for dev in snap.get("device_traces", []):
        for e in dev:
            trace.append([ACTIONS.get(e["action"], 9), e["size"], e["addr"]])
    return {"id": case["id"], "workload": w, "alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", ""),
            "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "steps": per_step,
            "segments": segments, "trace": trace, "mark_bytes": MARK_BYTES}


def summarize(traces, out_path):
    """One line per traced case: peaks per step, segments held at the end (total, in use, count by size)."""
    with open(out_path, "a") as out:
        for line in open(traces):
            r = json.loads(line)
            sizes = {}
            for seg in r["segments"]:
                sizes[seg["size"]] = sizes.get(seg["size"], 0) + 1
            summary = {k: r[k] for k in ("id", "workload", "alloc_conf", "torch", "gpu", "steps")}
            summary["segments_total_bytes"] = sum(seg["size"] for seg in r["segments"])
            summary["segments_in_use_bytes"] = sum(seg["in_use"] for seg in r["segments"])
            summary["segment_sizes"] = {str(k): v for k, v in sorted(sizes.items(), reverse=True)}
            summary["trace_events"] = len(r["trace"])
            out.write(json.dumps(summary) + "\n")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--summarize":
        summarize(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--alloc-conf", default=None, help="PYTORCH_CUDA_ALLOC_CONF for the child processes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = {c["id"]: c for c in measure.read_matrix(measure.MATRIX)}
    if args.child:
        result = run_case(cases[args.cases[0]], args.steps)
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")
        return
    env = dict(os.environ)
    if args.alloc_conf:
        env["PYTORCH_CUDA_ALLOC_CONF"] = args.alloc_conf
    for cid in args.cases:
        if cid not in cases:
            sys.exit(f"unknown case {cid}")
        res = subprocess.run([sys.executable, __file__, "--child", "--out", args.out, "--steps", str(args.steps), cid],
                             env=env, timeout=240)
        print(f"{cid} ({args.alloc_conf or 'default allocator'}): exit {res.returncode}", flush=True)


if __name__ == "__main__":
    main()
