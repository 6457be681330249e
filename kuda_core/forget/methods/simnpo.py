"""SimNPO (Fan et al. 2024): (2/beta)·E softplus((beta/|y|)·log pi_theta(y|x) + margin), no reference
model; optional lam · NLL on retain data."""
from __future__ import annotations

from pydantic import Field

from kuda_core.forget import objectives as obj
from kuda_core.forget.context import deviation
from kuda_core.forget.methods.base import Method, Options, register
from kuda_core.forget.methods.common import nll_retain, output_loss_defaults, sequence_logp


class SimNPOOptions(Options):
    beta: float = Field(2.5, gt=0, description="SimNPO inverse temperature (Fan et al. 2024: 2.5)")
    margin: float = Field(0.0, description="the reward margin gamma")
    lam: float = Field(1.0, ge=0, description="weight of the NLL on retain data; 0 = no retain term")


def forget_term(ctx, cached):
    seq, lengths, v = sequence_logp(ctx, cached)
    loss = obj.simnpo_loss(seq, lengths, ctx.options.beta, ctx.options.margin)
    return loss, deviation(v, cached, cached.batch.focus)


def retain_term(ctx, cached):
    return nll_retain(ctx, cached, ctx.options.lam)


SIMNPO = register(Method(
    name="simnpo", title="SimNPO", description="NPO without a reference model, length-normalised",
    options=SimNPOOptions, forget_term=forget_term, retain_term=retain_term, shared_defaults=output_loss_defaults(),
))
