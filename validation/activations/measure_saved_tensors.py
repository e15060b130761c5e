#!/usr/bin/env python3
"""Measure what PyTorch autograd really saves for backward in one transformer block.

Independent check of gpuplan's per-layer activation formulas.  Runs on CPU, needs only
torch (tested with Debian's python3-torch 1.13.1); HuggingFace transformers is NOT needed:
the two blocks are re-implemented below in plain torch, op for op, following

  * LlamaDecoderLayer (eager attention):
      huggingface/transformers  src/transformers/models/llama/modeling_llama.py
      commit 5dd4a63548857797727ae73eeb6a6e886ea02a3e  (v4.48-era code: LlamaRMSNorm,
      LlamaRotaryEmbedding, rotate_half, apply_rotary_pos_emb, repeat_kv,
      eager_attention_forward, LlamaAttention, LlamaMLP, LlamaDecoderLayer,
      LlamaModel._prepare_4d_causal_attention_mask_with_cache_position)
  * GPT2Block (eager attention, GPT2Attention._attn):
      huggingface/transformers  src/transformers/models/gpt2/modeling_gpt2.py
      commit c44b2d9976e8eafbdcb89cb2710141b2bc9b138f  (v4.4x-era code: GPT2Attention with
      _attn/_split_heads/_merge_heads, GPT2MLP, GPT2Block)
    Conv1D from src/transformers/pytorch_utils.py (commit 3009a8a4b92d0d63b18d11575a413a4b78a55776),
    NewGELUActivation ("gelu_new") from src/transformers/activations.py (same formula in all versions).
    Later GPT-2 refactors (module-level eager_attention_forward) keep the same autograd-relevant ops:
    matmul, / torch.full([]), torch.where(bool bias buffer), softmax (no dtype), .type(), dropout,
    matmul, transpose+contiguous, Conv1D.

Method: torch.autograd.graph.saved_tensors_hooks(pack, unpack) around ONE forward of ONE block in
train() mode with a requires_grad input.  Every tensor that autograd saves goes through `pack`; we keep
it, then attribute it to the graph node(s) that saved it by walking the graph and reading each node's
`_saved_*` attributes (reading them calls `unpack`, which tells us which packed tensor it was).
Saved tensors are grouped by underlying storage (storage().data_ptr()), so a tensor saved by two ops
(or two views of one buffer) is counted once, with the storage's full nbytes.
Storages are classified as: parameter / buffer of the block (excluded), block input (reported as
input_bytes), RoPE cos/sin (rope_bytes; shared by all layers), the Llama 4-D float causal mask (mask_bytes;
shared by all layers), low-precision copies of parameters made by autocast (param_cast_bytes), and
everything else = the activations of this layer (saved_bytes_excluding_input_and_params).

For every case the script also evaluates the formulas documented in README.md and checks that
  (1) the sum of the per-tensor formula terms (llama_formula / gpt2_formula) equals the measured bytes,
  (2) the multiset of measured per-storage sizes equals the multiset of formula terms
      (and reports whether they also match one to one in forward order; if so each tensor gets its term),
  (3) the closed-form polynomial (llama_closed_form / gpt2_closed_form) equals the measured bytes,
  (4) the separately reported buckets (input, rope, mask, param_cast, buffer) have their expected sizes,
  (5) backward through the hooked graph works and reaches the input and every parameter.
It exits non-zero if any case fails.

Usage:
  python3 validation/activations/measure_saved_tensors.py > validation/activations/measured.json
  python3 validation/activations/measure_saved_tensors.py --verbose   # per saved tensor on stderr
(If `python3` on PATH has no torch, use /usr/bin/python3, i.e. Debian's python with python3-torch.)
"""

import argparse
import contextlib
import json
import math
import subprocess
import sys
from collections import OrderedDict, defaultdict

import torch
from torch import nn

TRANSFORMERS_REFS = {
    "llama": "huggingface/transformers@5dd4a63548857797727ae73eeb6a6e886ea02a3e "
             "src/transformers/models/llama/modeling_llama.py",
    "gpt2": "huggingface/transformers@c44b2d9976e8eafbdcb89cb2710141b2bc9b138f "
            "src/transformers/models/gpt2/modeling_gpt2.py (+ pytorch_utils.Conv1D, activations.NewGELUActivation)",
}

CLOSED_FORMS_TEXT = OrderedDict([
    ("symbols", "b batch, s seq, h hidden, a heads, g kv heads, d=h/a head dim, f intermediate; "
                "e element bytes (4 fp32, 2 bf16); delta=1 if e!=4 else 0; pi=1 if dropout p>0 else 0"),
    ("llama_eager", "bsh*(12 + 8e + 4*delta) + 8bs + 4bsf*e + bas^2*(4 + delta*e) + 8   [g does not appear]"),
    ("llama_eager_autocast_cpu_bf16", "38bsh + 8bs + 8bsf + 6bas^2 + 8"),
    ("llama_excluded", "input_bytes = 4bsh if fp32 else 0; rope_bytes = 2*s*d*e (cos+sin [1,s,d] with default "
                       "position_ids, shared by all layers); autocast param_cast_bytes = 2*(2h*a*d + 2h*g*d + 3h*f)"),
    ("gpt2_eager", "bsh*e*(7 + 2pi) + 5bsf*e + bas^2*e*(1 + 2pi) + 4bs*e + e + 24"),
    ("gpt2_eager_autocast_cpu_bf16", "bsh*(16 + 4pi) + 10bsf + 2bas^2*(1 + 2pi) + 16bs + 26"),
    ("gpt2_excluded", "input_bytes = bsh*e (4bsh under autocast); bool causal `bias` buffer (n_positions^2 bytes, "
                      "model state); autocast param_cast_bytes = 2*(3h^2 + h^2 + 2hf)"),
])

# Size in bytes of the 0-dim "wrapped number" tensor that autograd saves when a tensor that
# requires grad is multiplied by a Python float (tensor * 0.5 -> MulBackward0 saves `other`,
# a 0-dim float64 tensor).  Observed in torch 1.13.
PY_SCALAR_BYTES = 8


# =====================================================================================
# Llama (modeling_llama.py @ 5dd4a635)
# =====================================================================================
class LlamaConfigLite:
    def __init__(self, hidden_size, num_attention_heads, num_key_value_heads, intermediate_size,
                 rms_norm_eps=1e-6, rope_theta=10000.0, attention_dropout=0.0):
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.intermediate_size = intermediate_size
        self.rms_norm_eps = rms_norm_eps
        self.rope_theta = rope_theta
        self.attention_dropout = attention_dropout
        self.attention_bias = False
        self.mlp_bias = False
        self.hidden_act = "silu"  # ACT2FN["silu"] == nn.SiLU
        self.head_dim = hidden_size // num_attention_heads


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        # verbatim from transformers
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class LlamaRotaryEmbedding(nn.Module):
    """rope_type == "default" (attention_scaling == 1.0).  Lives in LlamaModel, NOT in the layer:
    cos/sin are computed once per forward and passed to every decoder layer."""

    def __init__(self, config):
        super().__init__()
        dim = config.head_dim
        inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.attention_scaling = 1.0

    @torch.no_grad()
    def forward(self, x, position_ids):
        inv_freq_expanded = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        position_ids_expanded = position_ids[:, None, :].float()
        with torch.autocast(device_type="cpu", enabled=False):
            freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos = emb.cos()
            sin = emb.sin()
        cos = cos * self.attention_scaling
        sin = sin * self.attention_scaling
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1):
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    q_embed = (q * cos) + (rotate_half(q) * sin)
    k_embed = (k * cos) + (rotate_half(k) * sin)
    return q_embed, k_embed


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


def llama_eager_attention_forward(module, query, key, value, attention_mask, scaling, dropout=0.0):
    key_states = repeat_kv(key, module.num_key_value_groups)
    value_states = repeat_kv(value, module.num_key_value_groups)

    attn_weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    if attention_mask is not None:
        causal_mask = attention_mask[:, :, :, : key_states.shape[-2]]
        attn_weights = attn_weights + causal_mask

    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value_states)
    attn_output = attn_output.transpose(1, 2).contiguous()
    return attn_output, attn_weights


class LlamaAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.head_dim = config.head_dim
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        self.scaling = self.head_dim ** -0.5
        self.attention_dropout = config.attention_dropout
        self.q_proj = nn.Linear(config.hidden_size, config.num_attention_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(config.num_attention_heads * self.head_dim, config.hidden_size, bias=False)

    def forward(self, hidden_states, position_embeddings, attention_mask):
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)

        query_states = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        key_states = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        value_states = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)

        cos, sin = position_embeddings
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)

        attn_output, attn_weights = llama_eager_attention_forward(
            self, query_states, key_states, value_states, attention_mask,
            dropout=0.0 if not self.training else self.attention_dropout,
            scaling=self.scaling,
        )
        attn_output = attn_output.reshape(*input_shape, -1).contiguous()
        attn_output = self.o_proj(attn_output)
        return attn_output, attn_weights


class LlamaMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self_attn = LlamaAttention(config)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden_states, attention_mask, position_embeddings):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states, _ = self.self_attn(hidden_states=hidden_states, position_embeddings=position_embeddings,
                                          attention_mask=attention_mask)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        hidden_states = residual + hidden_states
        return (hidden_states,)


def llama_causal_mask(batch_size, sequence_length, dtype):
    """LlamaModel._update_causal_mask for eager attention with attention_mask=None and no cache:
    target_length = past_seen_tokens + sequence_length + 1, then
    _prepare_4d_causal_attention_mask_with_cache_position.  Built outside the layer, shared by all layers."""
    target_length = sequence_length + 1
    cache_position = torch.arange(sequence_length)
    min_dtype = torch.finfo(dtype).min
    causal_mask = torch.full((sequence_length, target_length), fill_value=min_dtype, dtype=dtype)
    if sequence_length != 1:
        causal_mask = torch.triu(causal_mask, diagonal=1)
    causal_mask *= torch.arange(target_length) > cache_position.reshape(-1, 1)
    causal_mask = causal_mask[None, None, :, :].expand(batch_size, 1, -1, -1)
    return causal_mask


# =====================================================================================
# GPT-2 (modeling_gpt2.py @ c44b2d99)
# =====================================================================================
class GPT2ConfigLite:
    def __init__(self, n_embd, n_head, n_inner, n_positions=1024, pdrop=0.1, layer_norm_epsilon=1e-5):
        self.hidden_size = n_embd
        self.num_attention_heads = n_head
        self.n_inner = n_inner
        self.max_position_embeddings = n_positions
        self.attn_pdrop = pdrop
        self.resid_pdrop = pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.scale_attn_weights = True
        self.scale_attn_by_inverse_layer_idx = False
        self.reorder_and_upcast_attn = False
        self.activation_function = "gelu_new"


class Conv1D(nn.Module):
    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        x = x.view(size_out)
        return x


class NewGELUActivation(nn.Module):
    def forward(self, input):
        return 0.5 * input * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (input + 0.044715 * torch.pow(input, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, config, layer_idx=0):
        super().__init__()
        max_positions = config.max_position_embeddings
        self.register_buffer(
            "bias",
            torch.tril(torch.ones((max_positions, max_positions), dtype=torch.bool)).view(
                1, 1, max_positions, max_positions),
            persistent=False,
        )
        self.register_buffer("masked_bias", torch.tensor(-1e4), persistent=False)
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.split_size = self.embed_dim
        self.scale_attn_weights = config.scale_attn_weights
        self.is_cross_attention = False
        self.scale_attn_by_inverse_layer_idx = config.scale_attn_by_inverse_layer_idx
        self.layer_idx = layer_idx
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def _attn(self, query, key, value, attention_mask=None, head_mask=None):
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        if self.scale_attn_weights:
            attn_weights = attn_weights / torch.full(
                [], value.size(-1) ** 0.5, dtype=attn_weights.dtype, device=attn_weights.device)
        if self.scale_attn_by_inverse_layer_idx:
            attn_weights = attn_weights / float(self.layer_idx + 1)
        if not self.is_cross_attention:
            query_length, key_length = query.size(-2), key.size(-2)
            causal_mask = self.bias[:, :, key_length - query_length: key_length, :key_length]
            mask_value = torch.finfo(attn_weights.dtype).min
            mask_value = torch.full([], mask_value, dtype=attn_weights.dtype, device=attn_weights.device)
            attn_weights = torch.where(causal_mask, attn_weights.to(attn_weights.dtype), mask_value)
        if attention_mask is not None:
            attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_weights = attn_weights.type(value.dtype)
        attn_weights = self.attn_dropout(attn_weights)
        if head_mask is not None:
            attn_weights = attn_weights * head_mask
        attn_output = torch.matmul(attn_weights, value)
        return attn_output, attn_weights

    def _split_heads(self, tensor, num_heads, attn_head_size):
        new_shape = tensor.size()[:-1] + (num_heads, attn_head_size)
        tensor = tensor.view(new_shape)
        return tensor.permute(0, 2, 1, 3)

    def _merge_heads(self, tensor, num_heads, attn_head_size):
        tensor = tensor.permute(0, 2, 1, 3).contiguous()
        new_shape = tensor.size()[:-2] + (num_heads * attn_head_size,)
        return tensor.view(new_shape)

    def forward(self, hidden_states):
        query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
        query = self._split_heads(query, self.num_heads, self.head_dim)
        key = self._split_heads(key, self.num_heads, self.head_dim)
        value = self._split_heads(value, self.num_heads, self.head_dim)
        attn_output, attn_weights = self._attn(query, key, value, None, None)
        attn_output = self._merge_heads(attn_output, self.num_heads, self.head_dim)
        attn_output = self.c_proj(attn_output)
        attn_output = self.resid_dropout(attn_output)
        return (attn_output, None)


class GPT2MLP(nn.Module):
    def __init__(self, intermediate_size, config):
        super().__init__()
        embed_dim = config.hidden_size
        self.c_fc = Conv1D(intermediate_size, embed_dim)
        self.c_proj = Conv1D(embed_dim, intermediate_size)
        self.act = NewGELUActivation()
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states):
        hidden_states = self.c_fc(hidden_states)
        hidden_states = self.act(hidden_states)
        hidden_states = self.c_proj(hidden_states)
        hidden_states = self.dropout(hidden_states)
        return hidden_states


class GPT2Block(nn.Module):
    def __init__(self, config, layer_idx=0):
        super().__init__()
        hidden_size = config.hidden_size
        inner_dim = config.n_inner if config.n_inner is not None else 4 * hidden_size
        self.ln_1 = nn.LayerNorm(hidden_size, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config=config, layer_idx=layer_idx)
        self.ln_2 = nn.LayerNorm(hidden_size, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(inner_dim, config)

    def forward(self, hidden_states):
        residual = hidden_states
        hidden_states = self.ln_1(hidden_states)
        attn_outputs = self.attn(hidden_states)
        attn_output = attn_outputs[0]
        hidden_states = attn_output + residual
        residual = hidden_states
        hidden_states = self.ln_2(hidden_states)
        feed_forward_hidden_states = self.mlp(hidden_states)
        hidden_states = residual + feed_forward_hidden_states
        return (hidden_states,)


# =====================================================================================
# Measurement
# =====================================================================================
def storage_key(t):
    return t.storage().data_ptr()


def storage_nbytes(t):
    return t.storage().nbytes()


def storage_as_flat_tensor(t):
    st = t.storage()
    return torch.empty(0, dtype=t.dtype).set_(st, 0, (st.size(),), (1,))


def dtype_name(dt):
    return str(dt).replace("torch.", "")


def measure_block(block, run_forward, special, autocast):
    """special: dict category -> list of tensors (input / rope / mask) whose storages get their own bucket."""
    records = []      # packed tensors, kept alive so storages cannot be recycled
    producers = []    # grad_fn name of each packed tensor at pack time
    unpacked = []

    def pack(t):
        records.append(t)
        producers.append(type(t.grad_fn).__name__ if t.grad_fn is not None else ("leaf" if t.requires_grad else "no-grad"))
        return len(records) - 1

    def unpack(i):
        unpacked.append(i)
        return records[i]

    ctx = torch.autocast(device_type="cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        with ctx:
            out = run_forward()[0]

    # --- attribute each packed tensor to the node(s) + attribute name that saved it
    saved_by = defaultdict(list)
    seen = set()
    stack = [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        for name in dir(node):
            if not name.startswith("_saved_"):
                continue
            unpacked.clear()
            try:
                getattr(node, name)
            except Exception:
                continue
            for i in unpacked:
                saved_by[i].append(f"{type(node).__name__}.{name[len('_saved_'):]}")
        for nxt, _ in node.next_functions:
            stack.append(nxt)

    # --- storages of special tensors
    param_ptrs = {storage_key(p): n for n, p in block.named_parameters()}
    buffer_ptrs = {storage_key(bf): n for n, bf in block.named_buffers()}
    special_ptrs = {}
    for cat, ts in special.items():
        for t in ts:
            special_ptrs[storage_key(t)] = cat

    params = list(block.named_parameters())

    def is_param_cast(t):
        n = t.storage().size()
        for pname, p in params:
            if p.numel() == n and p.dtype != t.dtype:
                if torch.equal(storage_as_flat_tensor(t), p.detach().to(t.dtype).reshape(-1)):
                    return pname
        return None

    storages = OrderedDict()
    per_tensor = []
    for i, t in enumerate(records):
        key = storage_key(t)
        if key in param_ptrs:
            cat, what = "param", param_ptrs[key]
        elif key in buffer_ptrs:
            cat, what = "buffer", buffer_ptrs[key]
        elif key in special_ptrs:
            cat, what = special_ptrs[key], special_ptrs[key]
        else:
            pc = is_param_cast(t)
            cat, what = ("param_cast", pc) if pc else ("activation", None)
        entry = {
            "index": i,
            "shape": list(t.shape),
            "stride": list(t.stride()),
            "dtype": dtype_name(t.dtype),
            "storage": key,
            "storage_bytes": storage_nbytes(t),
            "category": cat,
            "what": what,
            "produced_by": producers[i],
            "saved_by": saved_by.get(i, ["<not found in graph>"]),
        }
        per_tensor.append(entry)
        if key not in storages:
            storages[key] = {"category": cat, "bytes": storage_nbytes(t), "dtype": dtype_name(t.dtype),
                             "shape": list(t.shape), "storage_numel": t.storage().size(),
                             "produced_by": producers[i], "ops": []}
        storages[key]["ops"].extend(saved_by.get(i, ["<not found in graph>"]))

    sums = defaultdict(int)
    for st in storages.values():
        sums[st["category"]] += st["bytes"]

    # sanity check: the graph really is trainable through the hooks (unpack is called by backward)
    out.float().sum().backward()
    inp = special["input"][0]
    backward_ok = inp.grad is not None and all(p.grad is not None for _, p in params)
    return storages, per_tensor, sums, backward_ok


# =====================================================================================
# Closed-form formulas (see README.md for the derivation of every term)
# =====================================================================================
def llama_formula(b, s, h, a, g, d, f, e, autocast):
    """List of (term, bytes), one per saved storage, excluding block input, params, cos/sin and mask.

    Without autocast, e = element bytes of the block dtype (4 fp32, 2 bf16).  With autocast
    (CPU, bf16, torch 1.13) weights and block input are fp32 and matmuls run in bf16 (c = 2 bytes).
    Note: with GQA (g < a) eager attention still saves K and V with a heads (repeat_kv copies), so g
    does not appear in any term.
    """
    T = []
    if not autocast:
        # --- input_layernorm (LlamaRMSNorm)
        if e != 4:
            T.append(("ln1.x_fp32: hidden_states.to(float32) copy of block input (pow/mul operand)", b * s * h * 4))
        T.append(("ln1.x_sq: pow(2) output fp32 (saved by MeanBackward1 in torch 1.13)", b * s * h * 4))
        T.append(("ln1.rsqrt [b,s,1] fp32", b * s * 4))
        T.append(("ln1.x_normed: (x*rsqrt).to(dtype) (mul-by-weight operand)", b * s * h * e))
        T.append(("ln1.out: weight*x_normed (q/k/v_proj input)", b * s * h * e))
        # --- attention
        T.append(("q after RoPE (matmul operand) [b,a,s,d]", b * a * s * d * e))
        T.append(("k after RoPE + repeat_kv (matmul operand) [b,a,s,d]", b * a * s * d * e))
        T.append(("scaling: Python float as 0-dim float64 (MulBackward0.other)", PY_SCALAR_BYTES))
        T.append(("softmax(dtype=float32) output [b,a,s,s] fp32", b * a * s * s * 4))
        if e != 4:
            T.append(("softmax output .to(dtype) (matmul operand)", b * a * s * s * e))
        T.append(("v after repeat_kv (matmul operand) [b,a,s,d]", b * a * s * d * e))
        T.append(("attn output transposed+contiguous (o_proj input)", b * s * h * e))
        # --- post_attention_layernorm
        T.append(("ln2.x_fp32: residual sum (fp32 model) or its fp32 copy", b * s * h * 4))
        T.append(("ln2.x_sq: pow(2) output fp32 (saved by MeanBackward1 in torch 1.13)", b * s * h * 4))
        T.append(("ln2.rsqrt [b,s,1] fp32", b * s * 4))
        T.append(("ln2.x_normed: (x*rsqrt).to(dtype)", b * s * h * e))
        T.append(("ln2.out: weight*x_normed (gate/up_proj input)", b * s * h * e))
        # --- MLP
        T.append(("gate_proj output (SiLU input)", b * s * f * e))
        T.append(("SiLU output (mul operand)", b * s * f * e))
        T.append(("up_proj output (mul operand)", b * s * f * e))
        T.append(("act*up (down_proj input)", b * s * f * e))
        return T
    # --- autocast(cpu, bf16) with fp32 weights and fp32 block input (torch 1.13 CPU autocast policy:
    #     linear/matmul/bmm cast to bf16; pow/rsqrt/mul/softmax/silu/add are not autocast ops)
    c = 2
    T.append(("ln1.x_sq: pow(2) output fp32 (MeanBackward1, torch 1.13)", b * s * h * 4))
    T.append(("ln1.rsqrt [b,s,1] fp32", b * s * 4))
    T.append(("ln1.x_normed fp32", b * s * h * 4))
    for n in ("q", "k", "v"):
        T.append((f"ln1.out bf16 cast made by autocast for {n}_proj (one per linear, not cached)", b * s * h * c))
    T.append(("q after RoPE (fp32 by promotion with fp32 cos) -> bf16 cast for matmul", b * a * s * d * c))
    T.append(("k after RoPE + repeat_kv -> bf16 cast for matmul", b * a * s * d * c))
    T.append(("scaling: Python float as 0-dim float64", PY_SCALAR_BYTES))
    T.append(("softmax output fp32 (input is fp32 after + fp32 mask)", b * a * s * s * 4))
    T.append(("softmax output bf16 cast for matmul", b * a * s * s * c))
    T.append(("v (bf16 from v_proj) after repeat_kv (matmul operand)", b * a * s * d * c))
    T.append(("o_proj input bf16", b * s * h * c))
    T.append(("ln2.x: residual sum fp32 (fp32 residual + bf16 o_proj out)", b * s * h * 4))
    T.append(("ln2.x_sq: pow(2) output fp32 (MeanBackward1, torch 1.13)", b * s * h * 4))
    T.append(("ln2.rsqrt [b,s,1] fp32", b * s * 4))
    T.append(("ln2.x_normed fp32", b * s * h * 4))
    # forward (= first-save) order: cast for gate_proj, gate output (SiLU input), cast for up_proj, ...
    T.append(("ln2.out bf16 cast made by autocast for gate_proj", b * s * h * c))
    T.append(("gate_proj output bf16 (SiLU input)", b * s * f * c))
    T.append(("ln2.out bf16 cast made by autocast for up_proj", b * s * h * c))
    T.append(("SiLU output bf16", b * s * f * c))
    T.append(("up_proj output bf16", b * s * f * c))
    T.append(("act*up bf16 (down_proj input)", b * s * f * c))
    return T


def gpt2_formula(b, s, h, a, d, f, e, p, autocast):
    """List of (term, bytes), one per saved storage, excluding block input, params and the bool `bias` buffer.

    e = element bytes of the compute dtype (4 fp32, 2 bf16; 2 under bf16 autocast).
    st = bytes of LayerNorm mean/rstd: torch 1.13 CPU uses the input dtype (CUDA uses fp32).
    r = bytes of the residual stream entering ln_2 (fp32 under autocast).
    """
    if autocast:
        e, st, r = 2, 4, 4   # LayerNorm runs in fp32 (input fp32), everything after c_attn in bf16
    else:
        st, r = e, e
    T = []
    T.append(("ln_1.mean [b,s,1]", b * s * st))
    T.append(("ln_1.rstd [b,s,1]", b * s * st))
    T.append(("ln_1 output (c_attn addmm mat1)" + (" bf16 cast" if autocast else ""), b * s * h * e))
    if b == 1:
        # with b == 1 the permuted q/k/v views can be reshaped to 3-D without a copy, so bmm saves
        # views of the c_attn output itself: one storage of 3*b*s*h elements
        T.append(("c_attn output [b,s,3h] (q, k^T, v views; no copy when b == 1)", 3 * b * s * h * e))
    else:
        T.append(("q contiguous copy (bmm operand)", b * s * h * e))
        T.append(("k^T contiguous copy (bmm operand)", b * s * h * e))
    T.append(("divisor torch.full([], sqrt(d)) 0-dim (DivBackward0.other)", e))
    T.append(("softmax output [b,a,s,s]", b * a * s * s * e))
    if p > 0:
        T.append(("attn_dropout noise [b,a,s,s] (CPU: dtype, not bool)", b * a * s * s * e))
        T.append(("attn_dropout output (bmm operand)", b * a * s * s * e))
    if b != 1:
        T.append(("v contiguous copy (bmm operand)", b * s * h * e))
    T.append(("merged heads (attn c_proj addmm mat1)", b * s * h * e))
    if p > 0:
        T.append(("resid_dropout noise [b,s,h]", b * s * h * e))
    T.append(("ln_2 input = residual sum", b * s * h * r))
    T.append(("ln_2.mean [b,s,1]", b * s * st))
    T.append(("ln_2.rstd [b,s,1]", b * s * st))
    T.append(("ln_2 output (c_fc addmm mat1)" + (" bf16 cast" if autocast else ""), b * s * h * e))
    # NewGELU: 0.5*x saves the Python float; pow(x, 3.0) saves x; 0.044715*... and sqrt(2/pi)*... save
    # their Python floats; tanh saves its result; (0.5*x)*(1+tanh) saves both operands
    T.append(("gelu: Python float 0.5 as 0-dim float64", PY_SCALAR_BYTES))
    T.append(("c_fc output x (gelu input; PowBackward0.self)", b * s * f * e))
    T.append(("gelu: Python float 0.044715 as 0-dim float64", PY_SCALAR_BYTES))
    T.append(("gelu: Python float sqrt(2/pi) as 0-dim float64", PY_SCALAR_BYTES))
    T.append(("gelu: tanh output (TanhBackward0.result)", b * s * f * e))
    T.append(("gelu: 0.5*x (MulBackward0.self)", b * s * f * e))
    T.append(("gelu: 1+tanh (MulBackward0.other)", b * s * f * e))
    T.append(("gelu output (mlp c_proj addmm mat1)", b * s * f * e))
    if p > 0:
        T.append(("mlp dropout noise [b,s,h]", b * s * h * e))
    return T


def llama_closed_form(b, s, h, a, d, f, e, autocast):
    """Sum of llama_formula as one polynomial (a*d == h, so every [b,a,s,d] tensor is b*s*h elements)."""
    if autocast:
        return 38 * b * s * h + 8 * b * s + 8 * b * s * f + 6 * b * a * s * s + 8
    delta = 1 if e != 4 else 0   # 1 when the block dtype is not fp32 (extra fp32 copy / extra cast of probs)
    return (b * s * h * (12 + 8 * e + 4 * delta) + 8 * b * s + 4 * b * s * f * e
            + b * a * s * s * (4 + delta * e) + 8)


def gpt2_closed_form(b, s, h, a, d, f, e, p, autocast):
    """Sum of gpt2_formula as one polynomial."""
    pi = 1 if p > 0 else 0
    if autocast:
        return (b * s * h * (2 * (6 + 2 * pi) + 4) + 10 * b * s * f + 2 * b * a * s * s * (1 + 2 * pi)
                + 16 * b * s + 2 + 24)
    return (b * s * h * e * (7 + 2 * pi) + 5 * b * s * f * e + b * a * s * s * e * (1 + 2 * pi)
            + 4 * b * s * e + e + 24)


# =====================================================================================
# Cases
# =====================================================================================
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def run_llama(b, s, h, a, g, f, dtype_name_, autocast):
    torch.manual_seed(0)
    cfg = LlamaConfigLite(hidden_size=h, num_attention_heads=a, num_key_value_heads=g, intermediate_size=f)
    dt = DTYPES[dtype_name_]
    layer = LlamaDecoderLayer(cfg).to(dt)
    layer.train()
    rotary = LlamaRotaryEmbedding(cfg)
    x = torch.randn(b, s, h, dtype=dt, requires_grad=True)
    position_ids = torch.arange(s).unsqueeze(0)
    cos, sin = rotary(x, position_ids)          # computed outside the layer (LlamaModel), shared by layers
    mask = llama_causal_mask(b, s, dt)          # idem
    storages, per_tensor, sums, backward_ok = measure_block(
        layer, lambda: layer(x, attention_mask=mask, position_embeddings=(cos, sin)),
        {"input": [x], "rope": [cos, sin], "mask": [mask]}, autocast)
    e = 4 if dt == torch.float32 else 2
    terms = llama_formula(b, s, h, a, g, h // a, f, e, autocast)
    closed = llama_closed_form(b, s, h, a, h // a, f, e, autocast)
    d = h // a
    excluded = {  # expected sizes of the separately reported buckets (e = dtype of block input & weights)
        "input": b * s * h * 4 if e == 4 else 0,   # bf16: input not saved, its fp32 copy is (counted above)
        # LlamaModel's default position_ids = cache_position.unsqueeze(0) has batch 1, so cos/sin are
        # [1, s, d] whatever b is (they would be [b, s, d] if the caller passed batched position_ids)
        "rope": 2 * s * d * e,
        "mask": 0,
        "param_cast": 2 * (2 * h * a * d + 2 * h * g * d + 3 * h * f) if autocast else 0,
        "buffer": 0,
    }
    return storages, per_tensor, sums, terms, closed, excluded, backward_ok


def run_gpt2(b, s, h, a, f, dtype_name_, autocast, p):
    torch.manual_seed(0)
    cfg = GPT2ConfigLite(n_embd=h, n_head=a, n_inner=f, pdrop=p)
    dt = DTYPES[dtype_name_]
    block = GPT2Block(cfg).to(dt)
    block.train()
    x = torch.randn(b, s, h, dtype=dt, requires_grad=True)
    storages, per_tensor, sums, backward_ok = measure_block(block, lambda: block(x), {"input": [x]}, autocast)
    e = 4 if dt == torch.float32 else 2
    terms = gpt2_formula(b, s, h, a, h // a, f, e, p, autocast)
    closed = gpt2_closed_form(b, s, h, a, h // a, f, e, p, autocast)
    excluded = {
        "input": b * s * h * e,
        "rope": 0,
        "mask": 0,
        "param_cast": 2 * (3 * h * h + h * h + 2 * h * f) if autocast else 0,
        "buffer": cfg.max_position_embeddings ** 2,   # bool tril `bias` buffer, viewed by torch.where
    }
    return storages, per_tensor, sums, terms, closed, excluded, backward_ok


def build_case(block, dtype_name_, autocast, b, s, h, a, g, f, result, extra):
    storages, per_tensor, sums, terms, closed, excluded, backward_ok = result
    acts = [st for st in storages.values() if st["category"] == "activation"]
    measured = sums.get("activation", 0)
    formula_total = sum(t[1] for t in terms)
    multiset_ok = sorted(st["bytes"] for st in acts) == sorted(t[1] for t in terms)
    # storages are listed in first-save (= forward) order and the formula terms are written in forward
    # order too, so they should also match one to one; if so each saved storage gets its term's name
    order_ok = [st["bytes"] for st in acts] == [t[1] for t in terms]
    if order_ok:
        for st, (name, _) in zip(acts, terms):
            st["term"] = name
    case = OrderedDict()
    case["block"] = block
    case["dtype"] = dtype_name_
    case["autocast"] = autocast
    if autocast:
        case["autocast_note"] = ("torch.autocast(device_type='cpu', dtype=bfloat16) on torch 1.13: CPU autocast op "
                                 "lists differ from CUDA autocast; weights and block input are fp32")
    case["batch"] = b
    case["seq"] = s
    case["hidden"] = h
    case["heads"] = a
    case["kv_heads"] = g
    case["head_dim"] = h // a
    case["intermediate"] = f
    case["vocab"] = None
    case.update(extra)
    case["saved_bytes_excluding_input_and_params"] = measured
    case["input_bytes"] = sums.get("input", 0)
    case["rope_bytes"] = sums.get("rope", 0)
    case["mask_bytes"] = sums.get("mask", 0)
    case["param_cast_bytes"] = sums.get("param_cast", 0)
    case["buffer_bytes"] = sums.get("buffer", 0)
    case["formula_bytes"] = formula_total
    case["closed_form_bytes"] = closed
    excluded_ok = all(sums.get(k, 0) == v for k, v in excluded.items())
    case["excluded_buckets_match"] = excluded_ok
    case["formula_matches"] = (formula_total == measured) and multiset_ok and closed == measured and excluded_ok
    case["formula_matches_in_forward_order"] = order_ok
    case["backward_ok"] = backward_ok
    case["formula_terms"] = [{"term": n, "bytes": v} for n, v in terms]
    case["tensors"] = [
        {"shape": st["shape"], "storage_numel": st["storage_numel"], "dtype": st["dtype"], "bytes": st["bytes"],
         "category": st["category"], "term": st.get("term"), "produced_by": st["produced_by"],
         "op": ", ".join(st["ops"])}
        for st in storages.values() if st["category"] != "param"
    ]
    return case


def probe(fn, dtype=torch.float32):
    """Tensors autograd saves for fn(x), x a small [4,8] tensor that requires grad."""
    x = torch.randn(4, 8, dtype=dtype, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: (saved.append(t), t)[1], lambda t: t):
        fn(x)
    return [{"shape": list(t.shape), "dtype": dtype_name(t.dtype), "bytes": storage_nbytes(t),
             "is_input": storage_key(t) == storage_key(x)} for t in saved]


def torch_probes():
    """Micro-checks of the torch behaviours the formulas depend on (x is a [4,8] tensor)."""
    return OrderedDict([
        ("dropout_p0_train", probe(lambda x: nn.functional.dropout(x, p=0.0, training=True))),
        ("dropout_p0.1_train_fp32", probe(lambda x: nn.functional.dropout(x, p=0.1, training=True))),
        ("dropout_p0.1_train_bf16", probe(lambda x: nn.functional.dropout(x, p=0.1, training=True),
                                          torch.bfloat16)),
        ("mean_dim_keepdim", probe(lambda x: x.mean(-1, keepdim=True))),
        ("mul_python_float", probe(lambda x: x * 0.5)),
        ("softmax_dtype_fp32_on_bf16", probe(lambda x: nn.functional.softmax(x, dim=-1, dtype=torch.float32),
                                             torch.bfloat16)),
    ])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--verbose", action="store_true", help="print every saved tensor to stderr")
    args = ap.parse_args()

    h, a, f_llama, f_gpt2 = 256, 8, 688, 1024
    cases = []
    modes = [("float32", False), ("bfloat16", False), ("float32", True)]
    for dtype_name_, autocast in modes:
        for b in (1, 2):
            for s in (16, 64):
                for g in (8, 2):
                    result = run_llama(b, s, h, a, g, f_llama, dtype_name_, autocast)
                    cases.append((build_case("llama", dtype_name_, autocast, b, s, h, a, g, f_llama,
                                             result, {"dropout": 0.0}), result[1]))
    gpt2_modes = [("float32", False, 0.1), ("bfloat16", False, 0.1), ("float32", True, 0.1),
                  ("float32", False, 0.0), ("bfloat16", False, 0.0)]
    for dtype_name_, autocast, p in gpt2_modes:
        for b in (1, 2):
            for s in (16, 64):
                result = run_gpt2(b, s, h, a, f_gpt2, dtype_name_, autocast, p)
                cases.append((build_case("gpt2", dtype_name_, autocast, b, s, h, a, a, f_gpt2,
                                         result, {"dropout": p}), result[1]))

    ok = True
    for case, per_tensor in cases:
        tag = (f"{case['block']:5s} {case['dtype']:8s} autocast={str(case['autocast']):5s} p={case['dropout']} "
               f"b={case['batch']} s={case['seq']} g={case['kv_heads']}")
        print(f"{tag}: measured={case['saved_bytes_excluding_input_and_params']} formula={case['formula_bytes']} "
              f"closed={case['closed_form_bytes']} "
              f"{'OK' if case['formula_matches'] else 'MISMATCH'}  input={case['input_bytes']} "
              f"rope={case['rope_bytes']} mask={case['mask_bytes']} param_cast={case['param_cast_bytes']} "
              f"buffer={case['buffer_bytes']}", file=sys.stderr)
        ok = ok and case["formula_matches"] and case["backward_ok"]
        if args.verbose or not case["formula_matches"]:
            for t in per_tensor:
                print(f"    #{t['index']:3d} {t['category']:10s} {str(t['shape']):22s} {t['dtype']:8s} "
                      f"stor={t['storage'] % 10**6:06d} {t['storage_bytes']:9d}B  by={t['produced_by']:24s} "
                      f"saved_by={','.join(t['saved_by'])}", file=sys.stderr)
            if not case["formula_matches"]:
                print("    measured storages:", sorted(st["bytes"] for st in case["tensors"]
                                                       if st["category"] == "activation"), file=sys.stderr)
                print("    formula terms    :", sorted(t["bytes"] for t in case["formula_terms"]), file=sys.stderr)

    try:
        deb = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-torch"], capture_output=True,
                             text=True, check=False).stdout.strip() or None
    except OSError:
        deb = None
    out = OrderedDict()
    out["header"] = OrderedDict([
        ("torch_version", torch.__version__),
        ("debian_python3_torch", deb),
        ("python", sys.version.split()[0]),
        ("device", "cpu"),
        ("command", "python3 validation/activations/measure_saved_tensors.py > validation/activations/measured.json"),
        ("mirrors", TRANSFORMERS_REFS),
        ("all_formulas_match", ok),
        ("closed_forms", CLOSED_FORMS_TEXT),
        ("torch_probes", torch_probes()),
        ("notes", [
            "bytes are per unique storage (storage().nbytes()); a tensor saved by several ops counts once",
            "saved_bytes_excluding_input_and_params excludes: block parameters and buffers, the block input, "
            "RoPE cos/sin (rope_bytes), the Llama 4-D causal mask (mask_bytes), autocast bf16 copies of "
            "parameters (param_cast_bytes)",
            "torch 1.13 CPU: dropout(p>0) saves a full-size noise tensor in the input dtype (CUDA: a bool mask); "
            "LayerNorm mean/rstd are in the input dtype (CUDA: fp32)",
        ]),
    ])
    out["cases"] = [c for c, _ in cases]
    write_json(out, sys.stdout)
    return 0 if ok else 1


def write_json(out, fh):
    """JSON with one line per tensor / formula term (keeps measured.json readable and diffable)."""
    fh.write('{\n "header": ' + json.dumps(out["header"], indent=1).replace("\n", "\n ") + ',\n "cases": [\n')
    for i, c in enumerate(out["cases"]):
        lines = []
        for k, v in c.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                inner = ",\n".join("    " + json.dumps(x) for x in v)
                lines.append(f"   {json.dumps(k)}: [\n{inner}\n   ]")
            else:
                lines.append(f"   {json.dumps(k)}: {json.dumps(v)}")
        fh.write("  {\n" + ",\n".join(lines) + "\n  }" + ("," if i < len(out["cases"]) - 1 else "") + "\n")
    fh.write(" ]\n}\n")


if __name__ == "__main__":
    sys.exit(main())
