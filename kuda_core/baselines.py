"""Baselines through the same loop as KUDA: GA, GD, NPO, SimNPO, RMU.

    >>> config = baseline_config("npo", steps=40)          # UnlearnConfig with this method's defaults
    >>> for record in iter_unlearn(lm, forget, retain, texts, config, snapshot): ...

Definitions (METHOD.md): GA minimises −NLL(answer | prompt) on forget facts; GD adds λ·NLL on
retain data (fact answers and general texts); NPO (2/β)·E softplus(β(log π_θ − log π_ref)) with
the reference cached before training; SimNPO (2/β)·E softplus((β/|y|)·log π_θ + γ); RMU pushes
the output of layer ℓ = max(layers) on forget tokens towards c·u (u a fixed random unit vector)
and keeps retain outputs with α·MSE, training the down projections of ℓ−2..ℓ. All share the
trained layers, step budget and data of a KUDA run; the null-space projection is off by default
(tau=None) but can be switched on for any of them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from kuda_core import objectives as obj
from kuda_core.replay import Cached, answer_logprobs

if TYPE_CHECKING:
    from kuda_core.unlearn import UnlearnConfig
    from kuda_core.unlearn_steps import StepContext

# Defaults per method for the default model (SmolLM2-135M, layers 4-6, 40 Adam steps), measured
# with bench/unlearn_quality.py on the landmarks topic: GA at lr 3e-4 dropped held-out retain
# accuracy to 85%, at 1e-4 it forgot everything and kept 98%, so the output losses use 1e-4.
# RMU: ‖c·u‖ = 3 × the mean norm of layer-ℓ outputs; α = 1000 left 12% forget accuracy.
DEFAULTS: dict[str, dict] = {
    "kuda": {},
    "ga": {"tau": None, "lr": 1e-4, "retain_batch": 8},
    "gd": {"tau": None, "lr": 1e-4, "lam": 1.0, "retain_batch": 8},
    "npo": {"tau": None, "lr": 1e-4, "npo_beta": 0.1, "retain_nll": True, "lam": 1.0, "retain_batch": 8},
    "simnpo": {"tau": None, "lr": 1e-4, "simnpo_beta": 2.5, "simnpo_gamma": 0.0, "retain_nll": True, "lam": 1.0,
               "retain_batch": 8},
    "rmu": {"tau": None, "lr": 1e-3, "rmu_coeff": 3.0, "rmu_alpha": 100.0, "forget_tokens": "all"},
}


def baseline_config(method: str, **overrides) -> "UnlearnConfig":
    """UnlearnConfig(method=method) with the method's defaults, then `overrides`."""
    from kuda_core.unlearn import UnlearnConfig  # late: unlearn imports this module

    if method not in DEFAULTS:
        raise ValueError(f"Unknown method {method!r}; choose one of {list(DEFAULTS)}")
    if method == "rmu" and "layers" in overrides:
        top = max(overrides["layers"])
        overrides = {**overrides, "layers": tuple(range(max(0, top - 2), top + 1))}
    return UnlearnConfig(method=method, **{**DEFAULTS[method], **overrides})


def prepare(ctx: "StepContext") -> None:
    """Per-method state computed once before training (NPO reference, RMU direction)."""
    method = ctx.config.method
    if method == "npo":
        with torch.no_grad():
            ctx.extras["ref"] = {id(c): _sequence_logp(ctx, c)[0] for c in ctx.forget}
    if method == "rmu":
        top = ctx.top
        d = ctx.forget[0].h0[top].shape[-1]
        u = torch.rand(d, generator=ctx.generator)                         # (d,) as in WMDP
        u = u / u.norm()
        norms = torch.cat([c.h0[top][c.batch.focus].float().norm(dim=-1) for c in ctx.forget])
        ctx.extras["control"] = (ctx.config.rmu_coeff * norms.mean()).to(ctx.lm.device) * u.to(ctx.lm.device)


def _sequence_logp(ctx: "StepContext", cached: Cached):
    h_top, v = ctx.replay.run(cached)
    seq, lengths = answer_logprobs(ctx.replay, h_top, cached.batch)    # (B,), (B,)
    return seq, lengths, v


def _deviation(v, cached: Cached, mask: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.stack([obj.krd(v[i], cached.v0[i], mask) for i in v]).mean())


def forget_term(ctx: "StepContext", cached: Cached) -> tuple[torch.Tensor, float]:
    """(forget loss, KRD on forget tokens) for ga / gd / npo / simnpo / rmu."""
    c = ctx.config
    if c.method == "rmu":
        h, v = ctx.replay.run(cached, stop=ctx.top + 1)                   # h: output of layer ℓ (B, T, d)
        loss = obj.rmu_forget_loss(h, ctx.extras["control"], ctx.forget_mask(cached))
        return loss, _deviation(v, cached, cached.batch.focus)
    seq, lengths, v = _sequence_logp(ctx, cached)
    if c.method in ("ga", "gd"):
        loss = obj.ga_loss(seq, lengths)
    elif c.method == "npo":
        loss = obj.npo_loss(seq, ctx.extras["ref"][id(cached)], c.npo_beta)
    elif c.method == "simnpo":
        loss = obj.simnpo_loss(seq, lengths, c.simnpo_beta, c.simnpo_gamma)
    else:
        raise ValueError(f"No forget term for method {c.method!r}")
    return loss, _deviation(v, cached, cached.batch.focus)


def retain_term(ctx: "StepContext", cached: Cached) -> tuple[torch.Tensor, float]:
    """(weighted retain loss, retain drift) for the baselines; zero loss when they have none."""
    c = ctx.config
    real = cached.batch.real
    if c.method == "rmu":
        h, v = ctx.replay.run(cached, stop=ctx.top + 1)
        loss = c.rmu_alpha * obj.rmu_retain_loss(h, cached.h0[ctx.top], real)
        return loss, _deviation(v, cached, real)
    if c.method == "gd" or (c.retain_nll and c.lam > 0):
        seq, lengths, v = _sequence_logp(ctx, cached)
        return c.lam * obj.nll_loss(seq, lengths), _deviation(v, cached, real)
    with torch.no_grad():
        _, v = ctx.replay.run(cached, stop=ctx.top + 1)
    return torch.zeros((), device=ctx.lm.device), _deviation(v, cached, real)
