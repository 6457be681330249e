"""GD (gradient difference): gradient ascent on forget answers plus lam · NLL on retain data."""
from __future__ import annotations

from pydantic import Field

from kuda_core.forget.methods.base import Method, Options, register
from kuda_core.forget.methods.common import nll_retain, output_loss_defaults
from kuda_core.forget.methods.ga import forget_term as ga_forget_term


class GDOptions(Options):
    lam: float = Field(1.0, ge=0, description="weight of the ordinary training (NLL) on retain facts and texts")


def retain_term(ctx, cached):
    return nll_retain(ctx, cached, ctx.options.lam)


GD = register(Method(
    name="gd", title="GD", description="gradient difference: gradient ascent on forget answers plus ordinary "
                                       "training on retain data",
    options=GDOptions, forget_term=ga_forget_term, retain_term=retain_term, shared_defaults=output_loss_defaults(),
))
