"""The engine on a GPU: correctness on the tiny models, speed and memory on a 7B-shaped Llama.

    $ python bench/gpu_check.py                                   # on a machine with CUDA
    $ python bench/gpu_check.py --device cpu --big-hidden 128 --big-layers 4 --big-intermediate 256 \\
          --big-heads 4 --big-vocab 1000                          # a dry run of the same script

1. Tiny GPT-2 and Llama moved to the device in float32: fast tracing vs the reference for every
   kind (must agree within 1e-4), no hooks left after closing a trace early, and a short KUDA run
   whose reset is bit-exact. The same in bfloat16, reporting the fast-vs-reference difference.
2. A randomly initialised Llama of the 7B shape (4096 wide, 32 layers, 11008 MLP, 32 heads) in
   bfloat16: fast and reference traces of every kind side by side (time, ratio, difference),
   one float32 MLP trace for agreement at that size, and KUDA steps on layers 4-6 (time per step,
   peak memory, reset). Random weights say nothing about knowledge; they measure the machinery, so
   the KUDA runs make a fixed number of steps (stop_at=None): "until forgotten" would find nothing
   the random models answer and make no step at all.
Writes gpu_check.json to $OUT when that is set.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from kuda_core.model.architectures import spec_for  # noqa: E402
from kuda_core.model.loading import LoadedModel  # noqa: E402
from kuda_core.data.facts import Fact  # noqa: E402
from kuda_core.model.snapshot import WeightSnapshot  # noqa: E402
from kuda_core.model.tiny import tiny_model, tiny_tokenizer  # noqa: E402
from kuda_core.locate.tracing import KINDS, TraceConfig, iter_trace, trace, trace_reference  # noqa: E402
from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.forget.loop import reset, unlearn as run_unlearn  # noqa: E402

PROMPT, SUBJECT = "The Eiffel Tower is located in the city of", "Eiffel Tower"
FORGET = [Fact("Microsoft was founded by", "Microsoft", " Bill"),
          Fact("The Eiffel Tower is located in the", "The Eiffel Tower", " city")]
RETAIN = [Fact("The quick brown fox jumps over the lazy", "quick brown fox", " dog"),
          Fact("Water boils at one hundred", "Water", " degrees"),
          Fact("The river flows through the old", "river", " town"),
          Fact("A cup of tea in the morning helps many", "cup of tea", " people")]
TEXTS = ["The capital of France is Paris. The capital of Japan is Tokyo.", "The official language of Brazil is Portuguese."]
REPORT: dict = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--big-hidden", type=int, default=4096)
    parser.add_argument("--big-layers", type=int, default=32)
    parser.add_argument("--big-intermediate", type=int, default=11008)
    parser.add_argument("--big-heads", type=int, default=32)
    parser.add_argument("--big-vocab", type=int, default=32000)
    parser.add_argument("--unlearn-steps", type=int, default=10)
    args = parser.parse_args()
    device = torch.device(args.device)
    REPORT["environment"] = {"torch": torch.__version__, "device": str(device),
                             "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}
    print(REPORT["environment"], flush=True)
    for family in ("gpt2", "llama"):
        tiny_checks(family, device, torch.float32, strict=True)
        tiny_checks(family, device, torch.bfloat16, strict=False)
    big_checks(args, device)
    out = os.environ.get("OUT")
    if out:
        Path(out, "gpu_check.json").write_text(json.dumps(REPORT, indent=1, default=str))


def on_device(lm: LoadedModel, device: torch.device, dtype: torch.dtype) -> LoadedModel:
    lm.model.to(device=device, dtype=dtype)
    return replace(lm, device=device, dtype=dtype)


def hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def synced(function, *args, **kwargs):
    """(result, seconds) with the GPU's queue drained before and after."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = function(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def compare(lm: LoadedModel, config: TraceConfig) -> dict:
    """Fast and reference traces of PROMPT side by side: times, ratio, max |difference|."""
    fast, fast_s = synced(trace, lm, PROMPT, SUBJECT, None, config)
    slow, slow_s = synced(trace_reference, lm, PROMPT, SUBJECT, None, config)
    return {"fast_s": round(fast_s, 3), "reference_s": round(slow_s, 3), "ratio": round(slow_s / fast_s, 1),
            "max_abs_diff": float(np.nanmax(np.abs(fast.scores - slow.scores))),
            "p_clean": round(fast.p_clean, 4), "p_corrupt": round(fast.p_corrupt, 4), "tokens": len(fast.tokens),
            "warnings": list(fast.warnings)}


def tiny_checks(family: str, device: torch.device, dtype: torch.dtype, strict: bool) -> None:
    name = f"tiny-{family}-{str(dtype).replace('torch.', '')}"
    lm = on_device(tiny_model(family), device, dtype)
    rows = {}
    for kind in KINDS:
        rows[kind] = compare(lm, TraceConfig(kind=kind, samples=3, window=2))
        if strict:
            assert rows[kind]["max_abs_diff"] < 1e-4, (name, kind, rows[kind])
    generator = iter_trace(lm, PROMPT, SUBJECT, config=TraceConfig(kind="mlp", samples=3))
    next(generator)
    generator.close()
    rows["hooks_after_early_close"] = hook_count(lm.model)
    assert rows["hooks_after_early_close"] == 0
    snapshot = WeightSnapshot.take(lm.model, [])
    records = run_unlearn(lm, FORGET, RETAIN, TEXTS, UnlearnConfig(layers=(1, 2), steps=5, lr=1e-2, stop_at=None), snapshot)
    rows["unlearn_last_status"] = records[-1].status
    rows["modified_before_reset"] = snapshot.is_modified(lm.model)
    reset(lm, snapshot)
    rows["modified_after_reset"] = snapshot.is_modified(lm.model)
    assert rows["modified_before_reset"] and not rows["modified_after_reset"], rows
    REPORT[name] = rows
    print(name, json.dumps(rows), flush=True)


def _edited(lm: LoadedModel) -> tuple[int, ...]:
    """Layers 4-6, or the last three of a model too shallow for them (the dry run's 4 layers: 1-3)."""
    start = max(0, min(4, lm.n_layers - 3))
    return tuple(range(start, min(start + 3, lm.n_layers)))


def big_model(args, device: torch.device, dtype: torch.dtype) -> LoadedModel:
    tokenizer = tiny_tokenizer("metaspace")
    config = LlamaConfig(
        vocab_size=args.big_vocab, hidden_size=args.big_hidden, intermediate_size=args.big_intermediate,
        num_hidden_layers=args.big_layers, num_attention_heads=args.big_heads, num_key_value_heads=args.big_heads,
        max_position_embeddings=4096, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, initializer_range=0.05,  # peakier than 0.02: p_clean well above 1/V
    )
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, spec=spec_for(model), name="random-llama-7b-shape",
                       device=device, dtype=dtype)


def peak_gib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


def big_checks(args, device: torch.device) -> None:
    for dtype, kinds in ((torch.bfloat16, KINDS), (torch.float32, ("mlp",))):
        name = f"llama-7b-shape-{str(dtype).replace('torch.', '')}"
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        lm, load_s = synced(big_model, args, device, dtype)
        rows = {"params_billion": round(lm.n_params / 1e9, 2), "init_s": round(load_s, 1),
                "weights_gib": peak_gib(device)}
        for kind in kinds:
            rows[kind] = compare(lm, TraceConfig(kind=kind, samples=args.samples))
            rows[kind]["peak_gib"] = peak_gib(device)
            print(name, kind, json.dumps(rows[kind]), flush=True)
        if dtype == torch.bfloat16:
            snapshot = WeightSnapshot.take(lm.model, [])
            records, unlearn_s = synced(run_unlearn, lm, FORGET, RETAIN, TEXTS,
                                        UnlearnConfig(layers=_edited(lm), steps=args.unlearn_steps, stop_at=None), snapshot)
            rows["unlearn"] = {"steps": records[-1].step, "status": records[-1].status, "seconds": round(unlearn_s, 1),
                               "seconds_per_step": round(unlearn_s / max(records[-1].step, 1), 2),
                               "peak_gib": peak_gib(device), "last_message": records[-1].message}
            reset(lm, snapshot)
            rows["unlearn"]["modified_after_reset"] = snapshot.is_modified(lm.model)
            assert not rows["unlearn"]["modified_after_reset"]
            print(name, "unlearn", json.dumps(rows["unlearn"]), flush=True)
        REPORT[name] = rows
        del lm
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
