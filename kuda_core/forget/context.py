"""What one unlearning run's steps share: cached batches, projectors, the random generator.

    >>> ctx.forget[0], ctx.next_retain()           # cached forget / retain batches (replay.Cached)
    >>> ctx.forget_batch(step)                     # the forget batch a step trains on (cycled)
    >>> ctx.narrow_to_answered()                   # after a check: train only on the facts still answered
    >>> ctx.project(name, delta)                   # a weight change on the relaxed null space
    >>> ctx.forget_mask(cached)                    # (B, T) forget tokens of this step
    >>> ctx.forget_mask(cached, remaining_only=True)   # ... of the facts still answered at the last check
    >>> deviation(v, cached, mask)                 # KRD of MLP outputs v against the cached originals

Built by kuda_core.forget.setup.build_context; read by the method modules and the loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from kuda_core.forget import objectives as obj
from kuda_core.forget.focus import narrow
from kuda_core.forget.nullspace import Projector, project_step
from kuda_core.forget.replay import Cached, Replay
from kuda_core.model.tokens import pad_id_of


@dataclass
class StepContext:
    lm: object                                 # LoadedModel
    config: object                             # UnlearnConfig
    replay: Replay
    forget: list[Cached]                       # forget batches trained on (facts, and their augmented rows)
    originals: list[Cached]                    # the forget facts as given, in order (measured)
    retain: list[Cached]                       # retain batches (facts, then texts)
    projectors: dict[str, Projector]           # trained module -> relaxed null-space projector
    transposed: dict[str, bool]                # trained module -> weight stored (in, out)
    modules: list[str]                         # trained modules, in parameter order
    generator: torch.Generator                 # CPU generator for every random draw
    paraphrases: list[Cached] = field(default_factory=list)   # forget facts' paraphrases (measured only; from
                                                              # the start, only those the model knew)
    augmented: list[Cached] = field(default_factory=list)     # the augmented rows alone, by length (measured)
    neighbours: list[Cached] = field(default_factory=list)    # same-relation facts never trained on (measured only)
    retain_measured: list[Cached] = field(default_factory=list)   # the retain facts again, cut and sorted to measure
    forget_prompts: list[str] = field(default_factory=list)   # prompts of the forget rows, in order
    forget_answers: list[str] = field(default_factory=list)   # their answers, in the same order
    still_answered: torch.Tensor | None = None                # (F,) bool: forget facts answered at the last check
    train_rows: list = field(default_factory=list)            # the SeqRows of `forget`, in order
    narrowed: list[Cached] | None = None                      # `forget` cut to the facts still answered (or None)
    note: str = ""                             # one line on the setup, for the first record
    extras: dict = field(default_factory=dict)  # per-method state (NPO reference, RMU direction)
    _order: list[int] = field(default_factory=list)
    _narrowed_for: tuple = ()                  # still_answered when `narrowed` was made

    @property
    def options(self):
        """The method's options (config.options)."""
        return self.config.options

    @property
    def polishing(self) -> bool:
        """True during the steps after the run proper (KUDA's polish_steps; the loop sets polish_until)."""
        return "polish_until" in self.extras

    @property
    def top(self) -> int:
        return max(self.config.layers)

    def forget_batch(self, step: int) -> Cached:
        """The forget batch of step `step` (1-based): the batches cycled, or their narrowed form."""
        batches = self.narrowed or self.forget
        return batches[(step - 1) % len(batches)]

    def narrow_to_answered(self) -> None:
        """When the method rests forgotten facts (remaining_only), train only on the rows of the facts still
        answered at the last check, cut after their focus tokens (focus.narrow); every row when none is."""
        if not getattr(self.options, "remaining_only", False) or self.still_answered is None or not self.train_rows:
            return
        answered = tuple(self.still_answered.tolist())
        if answered == self._narrowed_for:              # the same facts as at the last check: same batches
            return
        self.narrowed = narrow(self.replay, self.forget, self.train_rows, self.still_answered,
                               self.config.forget_batch, self.pad_id)
        self._narrowed_for = answered

    @property
    def pad_id(self) -> int:
        return pad_id_of(self.lm.tokenizer)

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

    def forget_mask(self, cached: Cached, rho: float = 1.0, remaining_only: bool = False) -> torch.Tensor:
        """(B, T) forget tokens of this step: all, or (rho < 1) a random share ~ U[rho, 1] of them.

        remaining_only: only the rows of facts still answered (prompt or a known paraphrase) at the last
        check (watch.measure); all rows when none is (the run is about to stop) or before any check."""
        focus = cached.batch.focus
        if remaining_only and self.still_answered is not None:
            source = cached.batch.source                                        # (B,)
            active = self.still_answered[source.clamp_min(0)] & (source >= 0)   # (B,)
            if bool((focus & active[:, None]).any()):
                focus = focus & active[:, None]
        if rho >= 1.0:
            return focus
        ratio = rho + (1.0 - rho) * float(torch.rand((), generator=self.generator))
        draw = torch.rand(focus.shape, generator=self.generator).to(focus.device)  # (B, T)
        sampled = focus & (draw < ratio)
        return sampled if bool(sampled.any()) else focus

    def zero(self) -> torch.Tensor:
        """A scalar zero loss on the model's device."""
        return torch.zeros((), device=self.lm.device)


def layer_mean(values: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(values).mean()


def deviation(v: dict[int, torch.Tensor], cached: Cached, mask: torch.Tensor) -> float:
    """KRD of the MLP outputs v {layer: (B, T, d)} against the cached originals (float, no gradient)."""
    with torch.no_grad():
        return float(layer_mean([obj.krd(v[i], cached.v0[i], mask) for i in v]))


def drift_only(ctx: StepContext, cached: Cached) -> tuple[torch.Tensor, float]:
    """No retain loss; the retain drift is still measured (no gradient)."""
    with torch.no_grad():
        _, v = ctx.replay.run(cached, stop=ctx.top + 1)
    return ctx.zero(), deviation(v, cached, cached.batch.real)
