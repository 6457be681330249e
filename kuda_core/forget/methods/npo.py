"""NPO (Zhang et al. 2024): (2/beta)·E softplus(beta·(log pi_theta − log pi_ref)) on forget answers,
the reference log-probabilities cached before training; optional lam · NLL on retain data."""
from __future__ import annotations

import torch
from pydantic import Field

from kuda_core.forget import objectives as obj
from kuda_core.forget.context import deviation
from kuda_core.forget.methods.base import Method, Options, register
from kuda_core.forget.methods.common import nll_retain, output_loss_defaults, sequence_logp


class NPOOptions(Options):
    beta: float = Field(0.1, gt=0, description="NPO inverse temperature (Zhang et al. 2024: 0.1)")
    lam: float = Field(1.0, ge=0, description="weight of the NLL on retain data; 0 = no retain term")


def prepare(ctx) -> None:
    with torch.no_grad():
        ctx.extras["ref"] = {id(c): sequence_logp(ctx, c)[0] for c in ctx.forget}


def forget_term(ctx, cached):
    seq, _, v = sequence_logp(ctx, cached)
    loss = obj.npo_loss(seq, ctx.extras["ref"][id(cached)], ctx.options.beta)
    return loss, deviation(v, cached, cached.batch.focus)


def retain_term(ctx, cached):
    return nll_retain(ctx, cached, ctx.options.lam)


NPO = register(Method(
    name="npo", title="NPO", description="negative preference optimisation: like GA but bounded, relative to the "
                                         "original model",
    options=NPOOptions, forget_term=forget_term, retain_term=retain_term, prepare=prepare,
    shared_defaults={**output_loss_defaults(), "lr": 3e-4},   # chosen on the dev topics (bench/dev_rounds.py)
))
