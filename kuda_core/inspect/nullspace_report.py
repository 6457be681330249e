"""Inspect the relaxed null space of a run: spectrum, null dimension, and the measured leak.

    >>> report = nullspace_report(lm, snapshot, layers=[4, 5, 6], retain_texts=used, heldout_texts=held,
    ...                           tau=1e-2, tau_mode="relative")
    >>> report[0].eigenvalues, report[0].threshold, report[0].null_dim, report[0].leak
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kuda_core.forget import nullspace as ns
from kuda_core.model.hooks import Hooks
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.model.tokens import batch_encode


@dataclass(frozen=True)
class LayerNullSpace:
    layer: int
    eigenvalues: np.ndarray    # (d_ff,) of the retain key covariance, descending
    threshold: float           # absolute eigenvalue threshold: directions at or below it are "null"
    null_dim: int              # number of null directions
    n_keys: int                # retain keys behind the covariance
    leak: float                # mean |dW k| / |W0 k| on held-out retain keys (0 = untouched); NaN if unedited
    update_norm: float         # |dW| / |W0| (Frobenius)


@torch.no_grad()
def collect_keys(lm: LoadedModel, texts: Sequence[str], layers: Sequence[int], batch_size: int = 16,
                 max_tokens: int = 64) -> dict[int, torch.Tensor]:
    """Inputs of the MLP output projection for every real token of `texts`: layer -> (N, d_ff)."""
    names = {layer: lm.spec.mlp_out.format(layer) for layer in layers}
    keys: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for start in range(0, len(texts), batch_size):
        batch = batch_encode(lm.tokenizer, list(texts[start:start + batch_size]), lm.device)
        batch = {k: v[:, :max_tokens] for k, v in batch.items()}
        mask = batch["attention_mask"].bool()                                     # (B, T)
        with Hooks(lm.model, capture_inputs=names.values()) as rec:
            lm.model(**batch)
        for layer, name in names.items():
            keys[layer].append(rec.inputs[name][mask].to("cpu", torch.float64))  # (n, d_ff)
    return {layer: torch.cat(parts) if parts else torch.zeros(0) for layer, parts in keys.items()}


def _weight_delta(lm: LoadedModel, snapshot: WeightSnapshot | None, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_now, W_original) of the layer's output projection as (out, in) float64 CPU matrices."""
    name = lm.spec.mlp_out.format(layer) + ".weight"
    now = lm.model.get_parameter(name).detach().to("cpu", torch.float64)
    original = snapshot.originals.get(name, None) if snapshot is not None else None
    original = now if original is None else original.to(torch.float64)
    if lm.spec.out_transposed:  # GPT-2 Conv1D stores (in, out)
        now, original = now.T, original.T
    return now, original


def nullspace_report(lm: LoadedModel, snapshot: WeightSnapshot | None, layers: Sequence[int],
                     retain_texts: Sequence[str], heldout_texts: Sequence[str], tau: float = 1e-2,
                     tau_mode: str = "relative") -> list[LayerNullSpace]:
    """One LayerNullSpace per layer: spectrum and null dimension from `retain_texts` (original
    weights), leak of the current update on `heldout_texts` keys."""
    if not retain_texts:
        raise ValueError("The null space needs retain texts")
    context = snapshot.original(lm.model) if snapshot is not None else torch.no_grad()
    with context:
        keys = collect_keys(lm, retain_texts, layers)
        held = collect_keys(lm, heldout_texts, layers) if heldout_texts else {}
    out = []
    for layer in layers:
        accumulator = ns.KeyCovariance(keys[layer].shape[1])
        accumulator.add(keys[layer])
        spectrum = ns.eigen(accumulator.covariance(), accumulator.count)
        values = spectrum.values.numpy()[::-1].copy()                     # descending
        now, original = _weight_delta(lm, snapshot, layer)
        delta = now - original                                            # (out, in)
        leak = float("nan")
        if layer in held and held[layer].numel() and delta.abs().max() > 0:
            k = held[layer]                                               # (N, in)
            leak = float(((k @ delta.T).norm(dim=-1) / (k @ original.T).norm(dim=-1).clamp(min=1e-12)).mean())
        out.append(LayerNullSpace(
            layer=layer, eigenvalues=values, threshold=ns.threshold(spectrum, tau, tau_mode),
            null_dim=int(ns.null_mask(spectrum, tau, tau_mode).sum()),
            n_keys=accumulator.count, leak=leak, update_norm=float(delta.norm() / original.norm()),
        ))
    return out
