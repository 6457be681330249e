"""RMU (Li et al. 2024, WMDP): steer the output of layer l = max(layers) on forget tokens towards c·u
(u a fixed random unit vector), keep retain outputs with alpha · MSE; trains layers l−2..l."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from kuda_core.forget import objectives as obj
from kuda_core.forget.context import deviation
from kuda_core.forget.methods.base import Method, Options, register


class RMUOptions(Options):
    coeff: float = Field(3.0, gt=0, description="|c·u| as a multiple of the mean norm of layer-l outputs on "
                                                "forget tokens")
    alpha: float = Field(100.0, ge=0, description="weight of the retain MSE (layer-l outputs stay in place)")
    forget_tokens: Literal["subject+last", "subject", "last", "prompt", "all"] = Field(
        "all", description="forget-fact tokens steered to the random direction")


def prepare(ctx) -> None:
    top = ctx.top
    d = ctx.forget[0].h0[top].shape[-1]
    u = torch.rand(d, generator=ctx.generator)                         # (d,) as in WMDP
    u = u / u.norm()
    norms = torch.cat([c.h0[top][c.batch.focus].float().norm(dim=-1) for c in ctx.forget])
    ctx.extras["control"] = (ctx.options.coeff * norms.mean()).to(ctx.lm.device) * u.to(ctx.lm.device)


def forget_term(ctx, cached):
    h, v = ctx.replay.run(cached, stop=ctx.top + 1)                   # h: output of layer l (B, T, d)
    loss = obj.rmu_forget_loss(h, ctx.extras["control"], cached.batch.focus)
    return loss, deviation(v, cached, cached.batch.focus)


def retain_term(ctx, cached):
    h, v = ctx.replay.run(cached, stop=ctx.top + 1)
    loss = ctx.options.alpha * obj.rmu_retain_loss(h, cached.h0[ctx.top], cached.batch.real)
    return loss, deviation(v, cached, cached.batch.real)


def _layers_for(layers: tuple[int, ...]) -> tuple[int, ...]:
    top = max(layers)
    return tuple(range(max(0, top - 2), top + 1))


def _block_outputs(options: RMUOptions, top: int, n_layers: int) -> tuple[int, ...]:
    return (top,)


RMU = register(Method(
    name="rmu", title="RMU", description="RMU (WMDP): steer layer outputs on forget tokens to a random direction, "
                                         "keep retain outputs",
    options=RMUOptions, forget_term=forget_term, retain_term=retain_term, prepare=prepare,
    shared_defaults={"tau": None, "lr": 1e-3}, layers_for=_layers_for, block_outputs=_block_outputs,
))
