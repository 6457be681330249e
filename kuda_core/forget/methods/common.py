"""Pieces shared by the methods whose losses are defined on the model's output (GA, GD, NPO, SimNPO).

    >>> seq, lengths, v = sequence_logp(ctx, cached)    # (B,) summed answer log-p, (B,) token counts, MLP outs
    >>> nll_retain(ctx, cached, weight=1.0)             # (weight · NLL on retain data, retain drift)
"""
from __future__ import annotations

import torch

from kuda_core.forget import objectives as obj
from kuda_core.forget.context import StepContext, deviation, drift_only
from kuda_core.forget.replay import Cached, answer_logprobs


def sequence_logp(ctx: StepContext, cached: Cached):
    """Replay every block above the first trained one: (log p of the scored tokens per row (B,),
    number of scored tokens (B,), {layer: MLP output (B, T, d)})."""
    h_top, v = ctx.replay.run(cached)
    seq, lengths = answer_logprobs(ctx.replay, h_top, cached.batch)    # (B,), (B,)
    return seq, lengths, v


def nll_retain(ctx: StepContext, cached: Cached, weight: float) -> tuple[torch.Tensor, float]:
    """weight · NLL of the retain answers and texts (0 weight: no loss, drift only)."""
    if weight <= 0:
        return drift_only(ctx, cached)
    seq, lengths, v = sequence_logp(ctx, cached)
    return weight * obj.nll_loss(seq, lengths), deviation(v, cached, cached.batch.real)


def output_loss_defaults() -> dict:
    """Shared settings the output-loss baselines start from: lr 1e-4 was chosen for GA, GD and SimNPO
    on capitals over 3e-4 (bench/dev_search.py) and kept on the six dev topics over 3e-5 (GA, GD) and
    3e-4 (SimNPO); NPO starts from 3e-4, kept there over 1e-4 (bench/dev_rounds.py, eighth round)."""
    return {"tau": None, "lr": 1e-4, "retain_batch": 8}
