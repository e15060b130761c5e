#!/usr/bin/env python3
"""Measure real GPU memory and step times for gpuplan's calibration matrix.

Each case of ``calibration/matrix.jsonl`` is a gpuplan workload (the keys of ``gpuplan estimate --workload``).
The harness builds the model from its config.json with random weights (no downloads), runs a few training steps or a
``generate`` call, and writes JSON lines in the format of gpuplan's validation set, one line per measured metric:

    peak_allocated_bytes   torch.cuda.max_memory_allocated()
    peak_reserved_bytes    torch.cuda.max_memory_reserved()
    device_used_bytes      NVML used memory of this process (the CUDA context included)

Every line also carries the environment (GPU, driver, CUDA, torch, transformers, peft versions), the CUDA context
measured alone, and the timings (step_time_s for training; ttft_s and tpot_s for inference), so that

    ./gpuplan validate --measured calibration/results/<file>.jsonl

compares predictions with them. Cases run cheapest first (by gpuplan's own prediction in predictions.json), results
are flushed as each case completes, a case is skipped when its predicted footprint exceeds the free GPU memory, and
the run stops cleanly when the time budget is spent.

Usage:
    python3 calibration/measure.py --dry-run                    # list the plan; needs neither torch nor a GPU
    python3 calibration/measure.py --out calibration/results/h100.jsonl --budget-s 450
    python3 calibration/measure.py --write-predictions          # refresh predictions.json (needs ./gpuplan)
"""

import argparse
import datetime
import gc
import json
import os
import re
import subprocess
import traceback
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CATALOG = os.path.join(ROOT, "src", "main", "resources", "gpuplan", "models")
MATRIX = os.path.join(HERE, "matrix.jsonl")
PREDICTIONS = os.path.join(HERE, "predictions.json")
TRAIN_STEPS = 4  # default --steps: the first step allocates optimizer state; timings average the later ones
SAFETY = 1.15  # a case runs only if predicted device memory × SAFETY fits in the free memory


def read_matrix(path):
    cases = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                cases.append(json.loads(line))
    return cases


def config_path(model):
    """A path to a config.json (relative to the repository root), or a catalog id (org/name)."""
    local = model if os.path.isabs(model) else os.path.join(ROOT, model)
    if model.endswith(".json") or os.path.isfile(local):
        return local
    return os.path.join(CATALOG, model.replace("/", "--") + ".json")


def load_predictions():
    if not os.path.exists(PREDICTIONS):
        return {}
    with open(PREDICTIONS) as f:
        return json.load(f)


def write_predictions(cases):
    """Runs ./gpuplan estimate on every case and stores its peaks, for ordering and the memory guard."""
    out = {}
    for case in cases:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
            json.dump(case["workload"], tmp)
        try:
            res = subprocess.run([os.path.join(ROOT, "gpuplan"), "estimate", "--workload", tmp.name, "--json"],
                                 cwd=ROOT, capture_output=True, text=True, check=True)
            mem = json.loads(res.stdout)["memory"]
            out[case["id"]] = {k: mem[k] for k in ("peak_allocated_bytes", "peak_reserved_bytes",
                                                   "device_used_bytes")}
        finally:
            os.unlink(tmp.name)
    with open(PREDICTIONS, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print(f"wrote {len(out)} predictions to {PREDICTIONS}")


def plan(cases, predictions):
    """Cheapest first, by predicted device memory (unknown ones last)."""
    return sorted(cases, key=lambda c: predictions.get(c["id"], {}).get("device_used_bytes", float("inf")))


# ----------------------------------------------------------------------------------------------------------------
# GPU side: imported lazily so that --dry-run works anywhere


def environment(torch):
    import transformers
    env = {
        "gpu": torch.cuda.get_device_name(0),
        "cuda_total_bytes": torch.cuda.get_device_properties(0).total_memory,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "python": sys.version.split()[0],
    }
    try:
        import peft
        env["peft"] = peft.__version__
    except ImportError:
        env["peft"] = None
    try:
        import bitsandbytes
        env["bitsandbytes"] = bitsandbytes.__version__
    except ImportError:
        env["bitsandbytes"] = None
    try:
        import pynvml
        pynvml.nvmlInit()
        env["driver"] = pynvml.nvmlSystemGetDriverVersion()
        if isinstance(env["driver"], bytes):
            env["driver"] = env["driver"].decode()
    except Exception:  # NVML is optional: device_used is then not recorded
        env["driver"] = None
    return env


def nvml_process_used():
    """Bytes NVML attributes to this process on GPU 0, or None without NVML."""
    try:
        import pynvml
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if proc.pid == os.getpid():
                return int(proc.usedGpuMemory)
    except Exception:
        return None
    return None


# torch.cuda.get_device_name() → gpuplan GPU id, so that each case is predicted for the GPU that ran it
GPU_IDS = [("H200", "H200-SXM-141GB"), ("H100 NVL", "H100-NVL-94GB"), ("H100 PCIe", "H100-PCIe-80GB"),
           ("H100", "H100-SXM-80GB"), ("A100-SXM4-80GB", "A100-SXM-80GB"), ("A100-SXM4-40GB", "A100-SXM-40GB"),
           ("A100 80GB PCIe", "A100-PCIe-80GB"), ("L40S", "L40S"), ("L4", "L4"), ("RTX 4090", "RTX-4090")]


def gpu_id(name):
    for needle, ident in GPU_IDS:
        if needle in name:
            return ident
    return None


def dtype_kwarg(transformers):
    """transformers 4.56 renamed from_config's torch_dtype to dtype (the old name is deprecated in 5)."""
    major, minor = (int(x) for x in re.findall(r"\d+", transformers.__version__)[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def dtype_of(torch, precision):
    return {"fp32": torch.float32, "fp16-mixed": torch.float32, "bf16-mixed": torch.float32,
            "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast_of(torch, precision):
    if precision == "bf16-mixed":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if precision == "fp16-mixed":
        return torch.autocast("cuda", dtype=torch.float16)
    import contextlib
    return contextlib.nullcontext()


def build_model(torch, w):
    """Random-weight model on the GPU from the case's config.json (no download)."""
    import transformers
    with open(config_path(w["model"])) as f:
        raw = json.load(f)
    raw.pop("_comment", None)
    config = transformers.AutoConfig.for_model(**raw)
    kwargs = {"attn_implementation": {"flash": "flash_attention_2"}.get(w.get("attention", "sdpa"),
                                                                        w.get("attention", "sdpa"))}
    precision = w.get("precision", "bf16-mixed" if w.get("task") == "train" and w.get("method", "full") == "full"
                      else "bf16")
    dtype = dtype_of(torch, precision)
    is_encoder = raw.get("model_type") in ("bert", "roberta")
    auto = transformers.AutoModelForMaskedLM if is_encoder else transformers.AutoModelForCausalLM
    dkw = dtype_kwarg(transformers)
    if w.get("method") == "qlora" or w.get("quant") in ("nf4", "fp4"):
        import bitsandbytes  # noqa: F401  (skipped by the caller when missing)
        # build in bf16, then quantize Linear layers the way from_pretrained would
        with torch.device("cuda"):
            model = auto.from_config(config, **{dkw: torch.bfloat16}, **kwargs)
        model = quantize_4bit(torch, model, w)
    else:
        with torch.device("cuda"):
            model = auto.from_config(config, **{dkw: dtype}, **kwargs)
    return model, precision, is_encoder


def quantize_4bit(torch, model, w):
    import bitsandbytes as bnb
    quant_type = w.get("quant", "nf4")
    double = str(w.get("double_quant", True)).lower() == "true"
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear) and not name.endswith("lm_head") and child_name != "lm_head":
                q = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=child.bias is not None,
                                      compute_dtype=torch.bfloat16, compress_statistics=double, quant_type=quant_type)
                q.weight = bnb.nn.Params4bit(child.weight.data.cpu(), requires_grad=False,
                                             compress_statistics=double, quant_type=quant_type)
                if child.bias is not None:
                    q.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
                setattr(module, child_name, q.cuda())
                del child
    model.is_loaded_in_4bit = True  # what from_pretrained(load_in_4bit=True) sets; peft reads it
    torch.cuda.empty_cache()
    return model


def make_optimizer(torch, params, name):
    params = [p for p in params if p.requires_grad]
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-5)
    if name == "adamw-fused":
        return torch.optim.AdamW(params, lr=1e-5, fused=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=1e-5)
    if name == "sgd-momentum":
        return torch.optim.SGD(params, lr=1e-5, momentum=0.9)
    if name == "adafactor":
        from transformers.optimization import Adafactor
        return Adafactor(params, lr=1e-5, relative_step=False, scale_parameter=False)
    if name in ("adamw-8bit", "paged-adamw-8bit"):
        import bitsandbytes as bnb
        cls = bnb.optim.PagedAdamW8bit if name.startswith("paged") else bnb.optim.AdamW8bit
        return cls(params, lr=1e-5)
    raise ValueError(f"optimizer {name} is not supported by the harness")


# kernel name fragments → what the runtime model calls them (cuBLAS/CUTLASS GEMMs, fused attention, the optimizer's
# multi-tensor kernels); everything else is elementwise, reductions, copies and casts
KERNEL_KINDS = [("gemm", ("gemm", "xmma", "cutlass", "nvjet", "cublas", "gemv", "splitk")),
                ("attention", ("flash", "fmha", "attention", "sdpa", "efficient_attention")),
                ("optimizer", ("multi_tensor", "foreach", "adam", "fused_sgd")),
                ("memcpy_memset", ("memcpy", "memset"))]


def kernel_kind(name):
    low = name.lower()
    for kind, fragments in KERNEL_KINDS:
        if any(f in low for f in fragments):
            return kind
    return "elementwise"


def kernel_profile(torch, fn):
    """GPU kernel time of fn() by the PyTorch profiler: (total seconds, seconds by kind, kernel count), or None.

    Step time minus kernel time is the host's share: Python, dispatch and launch overhead that eager PyTorch adds
    when kernels are too small to hide it."""
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        kinds, count = {}, 0
        for e in prof.key_averages():
            t = getattr(e, "self_device_time_total", 0) or 0
            if t > 0:
                kinds[kernel_kind(e.key)] = kinds.get(kernel_kind(e.key), 0) + t / 1e6
                count += e.count
        total = sum(kinds.values())
        return (total, {k: round(v, 6) for k, v in kinds.items()}, count) if total > 0 else None
    except Exception as e:  # the profiler is optional evidence
        print(f"profiler failed: {e}", flush=True)
        return None


def kernel_seconds(torch, fn, timing=None, prefix=""):
    """Total kernel time of fn() (seconds) or None; with timing, also records its split by kind and kernel count."""
    prof = kernel_profile(torch, fn)
    if prof is None:
        return None
    total, kinds, count = prof
    if timing is not None:
        timing[prefix + "kernel_split_s"] = kinds
        timing[prefix + "kernel_count"] = count
    return total


def host_op_us(torch):
    """Host time to dispatch one tiny eager op (microseconds): the floor under every eager kernel."""
    x = torch.ones(1, device="cuda")
    for _ in range(200):
        x.add_(1)
    torch.cuda.synchronize()
    n = 5000
    start = time.perf_counter()
    for _ in range(n):
        x.add_(1)
    host = time.perf_counter() - start
    torch.cuda.synchronize()
    return host / n * 1e6


def run_training(torch, w, steps):
    model, precision, is_encoder = build_model(torch, w)
    method = w.get("method", "full")
    if method in ("lora", "qlora"):
        import peft
        if method == "qlora":
            model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        targets = w.get("lora_targets") or None
        if targets == ["all-linear"]:
            targets = "all-linear"
        config = peft.LoraConfig(r=int(w.get("lora_rank", 16)), lora_alpha=float(w.get("lora_alpha", 32)),
                                 target_modules=targets, lora_dropout=0.0, task_type=None if is_encoder else "CAUSAL_LM",
                                 use_dora=str(w.get("use_dora", False)).lower() == "true",
                                 modules_to_save=w.get("modules_to_save") or None)
        model = peft.get_peft_model(model, config)
    if w.get("checkpointing", "none") != "none" or method == "qlora":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": method == "qlora"})
        if method == "qlora" and hasattr(model, "enable_input_require_grads"):
            model.enable_input_require_grads()
    model.train()
    optimizer = make_optimizer(torch, model.parameters(), w.get("optimizer", "adamw"))
    if str(w.get("compile", False)).lower() == "true":
        model = torch.compile(model)  # what the HF Trainer's torch_compile does: the loss inside forward compiles too
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16-mixed" else None
    b, s = int(w.get("batch_size", 1)), int(w.get("seq_len", 2048))
    vocab = model.config.vocab_size
    accum = int(w.get("grad_accum", 1))
    # gpuplan's padded_batches (default true): more than one sequence with a padding mask; false feeds no mask
    padded = b > 1 and str(w.get("padded_batches", True)).lower() == "true"
    times = []

    def step():
        for _ in range(accum):
            ids = torch.randint(0, vocab, (b, s), device="cuda")
            kwargs = {"labels": ids}
            if padded:
                # a padded batch as HF's collators make it: the last sequence is 1/8 shorter, its tail masked out
                mask = torch.ones_like(ids)
                mask[-1, s - s // 8:] = 0
                kwargs = {"attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}
            with autocast_of(torch, precision):
                out = model(input_ids=ids, **kwargs)
            loss = out.loss / accum
            del out
            if scaler:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            del loss
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    used = nvml_process_used()
    timing = {"step_time_s": sum(times[1:]) / max(1, len(times) - 1)}
    kernels = kernel_seconds(torch, step, timing)
    if kernels is not None:
        timing["kernel_time_s"] = kernels
    del model, optimizer
    return timing, used


def run_inference(torch, w, steps):
    model, precision, _ = build_model(torch, w)
    model.eval()
    b, p, o = int(w.get("batch_size", 1)), int(w.get("prompt_len", 512)), int(w.get("output_len", 64))
    ids = torch.randint(0, model.config.vocab_size, (b, p), device="cuda")
    mask = torch.ones_like(ids)
    kwargs = dict(attention_mask=mask, do_sample=False, pad_token_id=0, eos_token_id=None)
    with torch.no_grad():
        # warm-up with the full length: the first call at each new KV length builds attention plans (cuDNN SDPA on
        # Hopper) and cuBLAS heuristics, about 40 ms per token on an H200 (calibration/generate_overhead.py)
        model.generate(ids, max_new_tokens=o, min_new_tokens=o, **kwargs)
        torch.cuda.synchronize()
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=1, min_new_tokens=1, **kwargs)
        torch.cuda.synchronize()
        ttft = time.perf_counter() - start
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=o, min_new_tokens=o, **kwargs)
        torch.cuda.synchronize()
        total = time.perf_counter() - start
        used = nvml_process_used()
        timing = {"ttft_s": ttft, "tpot_s": (total - ttft) / max(1, o - 1)}
        prefill = kernel_seconds(torch, lambda: model.generate(ids, max_new_tokens=1, min_new_tokens=1, **kwargs),
                                 timing, "prefill_")
        whole = kernel_seconds(torch, lambda: model.generate(ids, max_new_tokens=o, min_new_tokens=o, **kwargs),
                               timing, "generate_")
        if prefill is not None and whole is not None:
            timing["prefill_kernel_time_s"] = prefill
            timing["decode_kernel_time_s"] = (whole - prefill) / max(1, o - 1)
    del model
    return timing, used


def measure(args):
    import torch
    if not torch.cuda.is_available():
        sys.exit("measure.py: no CUDA device; use --dry-run to see the plan")
    env = environment(torch)  # initialises NVML
    env["gpu_id"] = gpu_id(env["gpu"])
    env["host_op_us"] = round(host_op_us(torch), 2)
    torch.ones(1, device="cuda")
    context = nvml_process_used()  # the CUDA context alone, before any model
    env["cuda_context_bytes"] = context
    predictions = load_predictions()
    cases = plan(read_matrix(args.matrix), predictions)
    started = time.time()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    source = f"calibration/measure.py on {env['gpu']} ({date}; torch {env['torch']}, transformers " \
             f"{env['transformers']})"
    with open(args.out, "a") as out:
        for case in cases:
            w = dict(case["workload"])
            if env.get("gpu_id"):
                w["gpu"] = env["gpu_id"]
            elapsed = time.time() - started
            if elapsed > args.budget_s:
                print(f"time budget spent after {elapsed:.0f} s; stopping before {case['id']}", flush=True)
                break
            needs_bnb = w.get("method") == "qlora" or w.get("quant") in ("nf4", "fp4") or "8bit" in w.get(
                "optimizer", "")
            if needs_bnb and env["bitsandbytes"] is None:
                print(f"skip {case['id']}: bitsandbytes is not installed", flush=True)
                continue
            free, _ = torch.cuda.mem_get_info()
            need = predictions.get(case["id"], {}).get("device_used_bytes")
            if need is not None and need * SAFETY > free:
                print(f"skip {case['id']}: predicted {need / 2**30:.1f} GiB does not fit the {free / 2**30:.1f} "
                      f"GiB free", flush=True)
                continue
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            t0 = time.time()
            try:
                timing, used = (run_training if w.get("task") == "train" else run_inference)(torch, w,
                                                                                               args.steps)
            except torch.cuda.OutOfMemoryError as e:
                print(f"oom {case['id']}: {str(e).splitlines()[0]}", flush=True)
                gc.collect()
                torch.cuda.empty_cache()
                continue
            except Exception as e:  # a harness or library problem in one case must not cost the others
                last = traceback.format_exception_only(type(e), e)[-1].strip()
                print(f"error {case['id']}: {last}", flush=True)
                traceback.print_exc(limit=3)
                gc.collect()
                torch.cuda.empty_cache()
                continue
            allocated = torch.cuda.max_memory_allocated()
            reserved = torch.cuda.max_memory_reserved()
            gc.collect()
            torch.cuda.empty_cache()
            common = {"kind": case.get("kind", "calibration"), "source": source, "confidence": "H",
                      "environment": env, **{k: round(v, 6) if isinstance(v, float) else v for k, v in timing.items()}}
            rows = [("peak_allocated_bytes", allocated), ("peak_reserved_bytes", reserved)]
            if used is not None:
                # nvidia-smi's view includes this process's CUDA context, measured alone at the start
                rows.append(("device_used_bytes", used))
                if context:
                    w = dict(w, cuda_context_mib=max(1, round(context / 2**20)))
            # the timings also as runtime metrics, so that `gpuplan validate --measured` checks the runtime model too
            rows += [("perf." + k, v) for k, v in timing.items() if k.endswith("_s") and isinstance(v, float)]
            for metric, value in rows:
                line = dict(id=f"{case['id']}-{metric.replace('_bytes', '').replace('perf.', '')}", metric=metric,
                            measured=value,
                            workload=w, **common,
                            notes=f"random weights from config.json; {args.steps} steps" if w.get(
                                "task") == "train" else "random weights from config.json; greedy generate")
                out.write(json.dumps(line) + "\n")
            out.flush()
            print(f"done {case['id']} in {time.time() - t0:.1f} s: allocated {allocated / 2**30:.2f} GiB, "
                  f"reserved {reserved / 2**30:.2f} GiB, timing {timing}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", default=MATRIX)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "measured.jsonl"))
    parser.add_argument("--budget-s", type=float, default=450.0, help="stop starting new cases after this long")
    parser.add_argument("--steps", type=int, default=TRAIN_STEPS, help="training steps per case (timings skip the first)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; no torch, no GPU")
    parser.add_argument("--write-predictions", action="store_true", help="refresh predictions.json with ./gpuplan")
    args = parser.parse_args()
    cases = read_matrix(args.matrix)
    if args.write_predictions:
        write_predictions(cases)
        return
    if args.dry_run:
        predictions = load_predictions()
        print(f"{len(cases)} cases, cheapest first (predicted by gpuplan; the run skips what does not fit):")
        for case in plan(cases, predictions):
            w = case["workload"]
            p = predictions.get(case["id"], {}).get("device_used_bytes")
            shape = f"b={w.get('batch_size', 1)} " + (f"s={w.get('seq_len')}" if w.get("task") == "train"
                                                      else f"p={w.get('prompt_len')} o={w.get('output_len')}")
            print(f"  {case['id']:<46} {case.get('kind', ''):<12} {shape:<16} "
                  f"{'?' if p is None else f'{p / 2**30:6.2f} GiB'}  config {os.path.relpath(config_path(w['model']), ROOT)}")
        missing = [c["id"] for c in cases if not os.path.exists(config_path(c["workload"]["model"]))]
        if missing:
            sys.exit(f"missing config.json for: {', '.join(missing)}")
        return
    measure(args)


if __name__ == "__main__":
    main()
