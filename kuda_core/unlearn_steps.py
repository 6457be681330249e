"""Loss terms of one unlearning step, per method, on cached batches (used by unlearn.iter_unlearn).

    >>> loss, krd_value = forget_term(ctx, ctx.forget[0])      # scalar tensor, float
    >>> loss, drift = retain_term(ctx, ctx.next_retain())      # scalar tensor (0 if none), float

KUDA's terms live here; the baselines' (GA, GD, NPO, SimNPO, RMU) in baselines.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from kuda_core import baselines
from kuda_core import objectives as obj
from kuda_core.nullspace import Projector, project_step
from kuda_core.replay import Cached, Replay


@dataclass
class StepContext:
    lm: object                                 # LoadedModel
    config: object                             # UnlearnConfig
    replay: Replay
    forget: list[Cached]                       # forget batches (facts)
    retain: list[Cached]                       # retain batches (facts, then texts)
    projectors: dict[str, Projector]           # trained module -> relaxed null-space projector
    transposed: dict[str, bool]                # trained module -> weight stored (in, out)
    modules: list[str]                         # trained modules, in parameter order
    generator: torch.Generator                 # CPU generator for every random draw
    note: str = ""                             # one line on the setup, for the first record
    extras: dict = field(default_factory=dict)  # per-method state (NPO reference, RMU direction)
    _order: list[int] = field(default_factory=list)

    @property
    def top(self) -> int:
        return max(self.config.layers)

    def next_retain(self) -> Cached | None:
        """The next retain batch of a seeded shuffled cycle; None without retain data."""
        if not self.retain:
            return None
        if not self._order:
            self._order = torch.randperm(len(self.retain), generator=self.generator).tolist()
        return self.retain[self._order.pop()]

    def project(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        """A weight change (or gradient) of module `name` projected on its null space (as is if none)."""
        if name not in self.projectors:
            return tensor
        return project_step(tensor, self.projectors[name], self.transposed[name])

    def forget_mask(self, cached: Cached) -> torch.Tensor:
        """(B, T) forget tokens of this step: all, or a random share ~ U[ρ, 1] of them."""
        focus = cached.batch.focus
        if self.config.rho >= 1.0:
            return focus
        ratio = self.config.rho + (1.0 - self.config.rho) * float(torch.rand((), generator=self.generator))
        draw = torch.rand(focus.shape, generator=self.generator).to(focus.device)  # (B, T)
        sampled = focus & (draw < ratio)
        return sampled if bool(sampled.any()) else focus


def layer_mean(values: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(values).mean()


def deviation(v: dict[int, torch.Tensor], cached: Cached, mask: torch.Tensor) -> float:
    """KRD over the layers of v (float, no gradient)."""
    with torch.no_grad():
        return float(layer_mean([obj.krd(v[i], cached.v0[i], mask) for i in v]))


def forget_term(ctx: StepContext, cached: Cached) -> tuple[torch.Tensor, float]:
    """(forget loss, KRD on the forget tokens) for the configured method."""
    if ctx.config.method != "kuda":
        return baselines.forget_term(ctx, cached)
    c = ctx.config
    _, v = ctx.replay.run(cached, stop=ctx.top + 1)
    mask = ctx.forget_mask(cached)
    loss = layer_mean([
        obj.kuda_forget_loss(v[i], cached.v0[i], mask, c.beta, c.margin, c.forget_form, c.norm_weight) for i in v
    ])
    return loss, deviation(v, cached, cached.batch.focus)


def retain_term(ctx: StepContext, cached: Cached | None) -> tuple[torch.Tensor, float]:
    """(λ-weighted retain loss, retain drift) for the configured method; zero loss without data."""
    zero = torch.zeros((), device=ctx.lm.device)
    if cached is None:
        return zero, float("nan")
    if ctx.config.method != "kuda":
        return baselines.retain_term(ctx, cached)
    c = ctx.config
    real = cached.batch.real
    if c.lam == 0 and c.retain_kl == 0:
        return zero, drift_only(ctx, cached)
    if c.retain_kl:
        h_top, v = ctx.replay.run(cached)
    else:
        _, v = ctx.replay.run(cached, stop=ctx.top + 1)
    loss = c.lam * layer_mean([obj.retain_repr_loss(v[i], cached.v0[i], real) for i in v])
    if c.retain_kl:
        loss = loss + c.retain_kl * kl_on_real(ctx, cached, h_top)
    return loss, deviation(v, cached, real)


def kl_on_real(ctx: StepContext, cached: Cached, h_top: torch.Tensor) -> torch.Tensor:
    """KL(original ‖ current) of next-token distributions on the real tokens of a batch."""
    rows, cols = cached.batch.real.nonzero(as_tuple=True)                  # (N,), (N,)
    logits = ctx.replay.head(h_top, rows, cols)                            # (N, V)
    with torch.no_grad():
        ref = ctx.replay.head(cached.h0[ctx.lm.n_layers - 1], rows, cols)  # (N, V)
    return obj.kl_retain_loss(logits, ref, torch.ones_like(rows, dtype=torch.bool))


def drift_only(ctx: StepContext, cached: Cached) -> float:
    """Retain drift without a retain loss (no gradient)."""
    with torch.no_grad():
        _, v = ctx.replay.run(cached, stop=ctx.top + 1)
    return deviation(v, cached, cached.batch.real)
