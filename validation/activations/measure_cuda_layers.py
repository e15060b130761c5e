#!/usr/bin/env python3
"""What autograd saves for one transformers layer on CUDA: the real GPT2Block, BertLayer and LlamaDecoderLayer.

measure_saved_tensors.py checks gpuplan's per-layer activation formulas against op-for-op re-implementations on CPU
(torch 1.13). This script runs the real transformers modules on a CUDA GPU with the installed torch, where a few ops
save differently (dropout keeps a bool mask, autocast runs softmax and LayerNorm in fp32). One forward of one layer in
train() mode runs inside torch.autograd.graph.saved_tensors_hooks; every saved tensor is grouped by storage and each
storage counts once:

    param       the layer's own parameters (excluded)
    param_cast  16-bit copies of parameters made by autocast (same shape as a parameter; excluded, counted elsewhere)
    input       the layer input
    shared      RoPE cos/sin and the 4-D mask passed in from outside (shared by all layers)
    activation  everything else

Output: one JSON line per case with the bytes per category and the saved tensors (op-agnostic: shape, dtype, bytes).

Usage: python3 validation/activations/measure_cuda_layers.py > validation/activations/cuda-<gpu>.jsonl
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOG = os.path.join(HERE, "..", "..", "src", "main", "resources", "gpuplan", "models")

MODELS = [("gpt2", "openai-community/gpt2"), ("bert", "google-bert/bert-base-uncased"),
          ("llama", "meta-llama/Llama-3.2-1B-Instruct")]
# Llama-style decoder layers of other families (module, layer class, rotary class): Gemma 2's fp32-scaled sandwich norms
# and capped scores, Gemma 3's q/k norms, Qwen3's q/k norms
ROPE_LAYERS = {"gemma2": ("google/gemma-2-2b", "gemma2", "Gemma2DecoderLayer", "Gemma2RotaryEmbedding"),
               "gemma3": ("google/gemma-3-1b-it", "gemma3", "Gemma3DecoderLayer", "Gemma3RotaryEmbedding"),
               "qwen3": ("Qwen/Qwen3-0.6B", "qwen3", "Qwen3DecoderLayer", "Qwen3RotaryEmbedding")}
ONLY = os.environ.get("FAMILIES")  # e.g. FAMILIES=gemma2,qwen3 measures those only
MODES = ["fp32", "bf16", "bf16-mixed"]
ATTENTION = ["eager", "sdpa"]
B, S = 2, 256


def load_config(transformers, model_id, attention):
    with open(os.path.join(CATALOG, model_id.replace("/", "--") + ".json")) as f:
        raw = json.load(f)
    raw.pop("_comment", None)
    config = transformers.AutoConfig.for_model(**raw)
    config._attn_implementation = attention
    return config


def build(torch, transformers, family, config):
    if family == "gpt2":
        from transformers.models.gpt2.modeling_gpt2 import GPT2Block
        layer = GPT2Block(config, layer_idx=0)
        return layer, lambda x, extra: layer(x)
    if family == "bert":
        from transformers.models.bert.modeling_bert import BertLayer
        layer = BertLayer(config)
        return layer, lambda x, extra: layer(x)
    if family in ROPE_LAYERS:
        import importlib
        import inspect
        module = importlib.import_module(f"transformers.models.{ROPE_LAYERS[family][1]}.modeling_{ROPE_LAYERS[family][1]}")
        layer = getattr(module, ROPE_LAYERS[family][2])(config, layer_idx=0)
        params = inspect.signature(layer.forward).parameters
        if "position_embeddings_global" in params:  # Gemma 3 before transformers 4.57: one RoPE per layer kind
            return layer, lambda x, extra: layer(x, position_embeddings_global=extra["rope"],
                                                 position_embeddings_local=extra["rope"],
                                                 attention_mask=extra.get("mask"), position_ids=extra["position_ids"])
    else:
        from transformers.models.llama.modeling_llama import LlamaDecoderLayer
        layer = LlamaDecoderLayer(config, layer_idx=0)
    return layer, lambda x, extra: layer(x, attention_mask=extra.get("mask"), position_embeddings=extra["rope"],
                                         position_ids=extra["position_ids"])


def rotary(transformers, family, config):
    if family in ROPE_LAYERS:
        import importlib
        module = importlib.import_module(f"transformers.models.{ROPE_LAYERS[family][1]}.modeling_{ROPE_LAYERS[family][1]}")
        cls = getattr(module, ROPE_LAYERS[family][3])
        try:
            return cls(config=config)
        except TypeError:  # versions that build one RoPE per layer kind
            return cls(config=config, layer_type=config.layer_types[0])
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    return LlamaRotaryEmbedding(config=config)


def measure(torch, transformers, family, model_id, mode, attention):
    with_mask = attention.endswith("+mask")
    attention = attention.removesuffix("+mask")
    config = load_config(transformers, model_id, attention)
    layer, call = build(torch, transformers, family, config)
    weight_dtype = torch.bfloat16 if mode == "bf16" else torch.float32
    layer = layer.to(device="cuda", dtype=weight_dtype)
    layer.train()
    h = config.hidden_size
    # the layer input is the output of the layer before (not a leaf): autocast caches casts of leaves only, so a leaf
    # input would share one 16-bit cast between q, k and v and hide two of the three copies a real model keeps
    leaf = torch.randn(B, S, h, device="cuda", dtype=weight_dtype, requires_grad=True)
    x = leaf * 1.0
    extra = {}
    shared = set()
    if family != "llama" and with_mask:
        raise ValueError("the 4-D mask variant is measured for Llama only")
    if family == "llama" or family in ROPE_LAYERS:
        rope = rotary(transformers, family, config).to("cuda")
        position_ids = torch.arange(S, device="cuda").unsqueeze(0).expand(B, -1)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mode == "bf16-mixed"):
            try:
                cos, sin = rope(x, position_ids)
            except TypeError:  # Gemma 3 (transformers 5): one rotary module, told the layer kind at each call
                cos, sin = rope(x, position_ids, layer_type=config.layer_types[0])
        if mode == "bf16":
            cos, sin = cos.to(torch.bfloat16), sin.to(torch.bfloat16)
        extra = {"rope": (cos, sin), "position_ids": position_ids}
        if with_mask:
            # a padded batch: the 4-D additive causal mask HF builds, shared by all layers
            dtype = torch.bfloat16 if mode != "fp32" else torch.float32
            mask = torch.full((S, S), torch.finfo(dtype).min, device="cuda", dtype=dtype).triu(1)
            extra["mask"] = mask[None, None].expand(B, 1, S, S).contiguous()
            shared.add(extra["mask"].untyped_storage().data_ptr())
        shared = {cos.untyped_storage().data_ptr(), sin.untyped_storage().data_ptr()}
    packed = []

    def pack(t):
        packed.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mode == "bf16-mixed"):
            out = call(x, extra)
    params = {p.untyped_storage().data_ptr() for p in layer.parameters()}
    buffers = {bf.untyped_storage().data_ptr() for bf in layer.buffers()}
    param_shapes = {tuple(p.shape) for p in layer.parameters()}
    storages = {}
    for t in packed:
        if not isinstance(t, torch.Tensor):
            continue
        st = t.untyped_storage()
        key = st.data_ptr()
        if key in storages:
            continue
        if key in params or key in buffers:
            cat = "param"
        elif key == x.untyped_storage().data_ptr():
            cat = "input"
        elif key in shared:
            cat = "shared"
        elif mode == "bf16-mixed" and t.dtype == torch.bfloat16 and tuple(t.shape) in param_shapes \
                and t.numel() * 2 == st.nbytes() and t.dim() <= 2:
            cat = "param_cast"
        else:
            cat = "activation"
        storages[key] = {"cat": cat, "bytes": st.nbytes(), "shape": list(t.shape), "dtype": str(t.dtype)}
    sums = {}
    for v in storages.values():
        sums[v["cat"]] = sums.get(v["cat"], 0) + v["bytes"]
    del out
    return {"family": family, "model": model_id, "mode": mode, "attention": attention, "mask_4d": with_mask,
            "batch_size": B,
            "seq_len": S, "hidden_size": h, "activation_bytes": sums.get("activation", 0),
            "input_bytes": sums.get("input", 0), "shared_bytes": sums.get("shared", 0),
            "param_cast_bytes": sums.get("param_cast", 0), "torch": torch.__version__,
            "transformers": transformers.__version__, "gpu": torch.cuda.get_device_name(0),
            "tensors": sorted((v for v in storages.values() if v["cat"] != "param"), key=lambda v: -v["bytes"])}


def main():
    import torch
    import transformers
    torch.manual_seed(0)
    for family, model_id in MODELS + [(f, v[0]) for f, v in ROPE_LAYERS.items()]:
        if ONLY and family not in ONLY.split(","):
            continue
        for mode in MODES:
            for attention in ATTENTION + (["eager+mask", "sdpa+mask"] if family == "llama" else []):
                try:
                    print(json.dumps(measure(torch, transformers, family, model_id, mode, attention)), flush=True)
                except Exception as e:  # one case's problem must not cost the others
                    print(f"{family} {mode} {attention}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
