"""What an unlearning run is asked to do (UnlearnConfig) and what each of its steps reports (StepRecord).

    >>> config = UnlearnConfig.create("kuda", layers=(4, 5, 6), beta=30)   # method defaults, then changes
    >>> config = UnlearnConfig.create("npo", steps=40)                     # lr 1e-4, no projection, ...
    >>> config.options.beta, config.settings()                             # method option; flat dict
    >>> config.replace(tau=0.1, beta=3.0)                                  # shared or method settings

Shared settings are fields of UnlearnConfig and every method honours them; a method's own settings
live in `options` (kuda_core.forget.methods: a validated pydantic model per method). `create`
starts from the method's defaults; the plain constructor takes the shared fields as given.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

from kuda_core.forget.augment import AUGMENT_KINDS
from kuda_core.forget.methods import get_method
from kuda_core.forget.methods.base import Options
from kuda_core.forget.nullspace import TAU_MODES
from kuda_core.model.generation import MAX_NEW_TOKENS_LIMIT


@dataclass(frozen=True)
class UnlearnConfig:
    method: str = "kuda"                   # kuda | ga | gd | npo | simnpo | rmu (kuda_core.forget.methods)
    layers: tuple[int, ...] = (4, 5, 6)    # layers whose MLP output projection trains (METHOD notes: 4-6)
    steps: int = 100                       # optimizer steps at most (the run stops earlier once forgotten: stop_at)
    lr: float = 1e-3                       # Adam learning rate
    tau: float | None = 0.2                # null-space threshold (KUDA starts from 2 x the median: methods/kuda.py); None = off
    tau_mode: str = "relative"             # tau times the largest eigenvalue, the "median" one, or "absolute"
    gamma: float = 0.0                     # leak gamma: P + gamma (I - P); 1 = no protection
    train_inputs: bool = False             # also train the MLP input projections (projected on their own keys)
    augment: tuple[str, ...] = ()          # forget rows in more contexts: "prefix", "kshot", "question" (forget.augment)
    augment_copies: int = 2                # new rows per forget fact and augmentation kind
    retain_batch: int = 32                 # retain sequences per step (cycled)
    forget_batch: int = 64                 # forget facts per step (cycled when more)
    max_text_tokens: int = 64              # general texts are cut to this many tokens
    max_keys: int = 20000                  # cap on retain keys for the covariance (random sample)
    eval_every: int = 0                    # forget + retain accuracy every n steps (always at the start and end); 0 = ends only
    stop_at: float | None = 0.0            # stop once forget accuracy on the prompts <= this ... ; None = run every step
    stop_at_paraphrases: float | None = 0.2  # ... and on the paraphrases the model knew <= this (None: prompts only)
    check_every: int = 10                  # steps between the cheap checks (forget, paraphrases, neighbours)
    read_on: int = 20                      # before stopping, read this many greedy new tokens per forget fact: one
                                           # that still says its answer further on is not forgotten; 0 = first token
    answer_rank: int = 1                   # a forget fact is answered while its answer is in the top this many tokens
    stall_boost: float = 1.0               # lr x this after 2 checks without fewer facts answered (forget.pace); 1 = off
    seed: int = 0                          # sampling, retain order, RMU direction
    options: Options | Mapping = field(default_factory=dict)  # the method's own settings (validated)

    def __post_init__(self) -> None:
        method = get_method(self.method)   # ValueError for an unknown method
        object.__setattr__(self, "layers", tuple(int(i) for i in self.layers))
        if not isinstance(self.augment, (str, list, tuple)):     # e.g. run.json's "augment": true
            raise ValueError(f"augment takes a list of {AUGMENT_KINDS} (e.g. [\"prefix\", \"kshot\"]; [] = off), "
                             f"got {self.augment!r}")
        object.__setattr__(self, "augment", tuple([self.augment] if isinstance(self.augment, str) else self.augment))
        object.__setattr__(self, "options", method.make_options(self.options))
        checks = [
            (len(self.layers) > 0 and min(self.layers) >= 0, f"layers must be non-negative and not empty, got {self.layers}"),
            (len(set(self.layers)) == len(self.layers), f"layers must be distinct, got {self.layers}"),
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (math.isfinite(self.lr) and 0 < self.lr <= 1, f"lr must be in (0, 1] (Adam steps of a few 1e-4 to "
                                                           f"1e-2 are usual), got {self.lr}"),
            (self.tau is None or (math.isfinite(self.tau) and self.tau >= 0), f"tau must be >= 0 or None (off), got {self.tau}"),
            (self.tau_mode in TAU_MODES, f"tau_mode must be one of {TAU_MODES}, got {self.tau_mode!r}"),
            (0.0 <= self.gamma <= 1.0, f"gamma must be in [0, 1], got {self.gamma}"),
            (self.retain_batch >= 1 and self.forget_batch >= 1, f"batch sizes must be >= 1, got {self.retain_batch}, {self.forget_batch}"),
            (self.max_text_tokens >= 2, f"max_text_tokens must be >= 2, got {self.max_text_tokens}"),
            (self.max_keys >= 1, f"max_keys must be >= 1, got {self.max_keys}"),
            (self.eval_every >= 0, f"eval_every must be >= 0, got {self.eval_every}"),
            (self.stop_at is None or 0.0 <= self.stop_at <= 1.0, f"stop_at must be in [0, 1] or None, got {self.stop_at}"),
            (0 <= self.read_on <= MAX_NEW_TOKENS_LIMIT, f"read_on must be in [0, {MAX_NEW_TOKENS_LIMIT}] new tokens, "
                                                        f"got {self.read_on}"),
            (self.stop_at_paraphrases is None or 0.0 <= self.stop_at_paraphrases <= 1.0,
             f"stop_at_paraphrases must be in [0, 1] or None, got {self.stop_at_paraphrases}"),
            (self.check_every >= 1, f"check_every must be >= 1, got {self.check_every}"),
            (1 <= self.answer_rank <= 10000, f"answer_rank must be in 1..10000 (1 = top token), got {self.answer_rank}"),
            (math.isfinite(self.stall_boost) and 1.0 <= self.stall_boost <= 8.0,
             f"stall_boost must be in [1, 8] (1 = off), got {self.stall_boost}"),
            (all(k in AUGMENT_KINDS for k in self.augment), f"augment takes {AUGMENT_KINDS}, got {list(self.augment)}"),
            (1 <= self.augment_copies <= 20, f"augment_copies must be in 1..20, got {self.augment_copies}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @classmethod
    def create(cls, method: str = "kuda", **settings) -> "UnlearnConfig":
        """A config from the method's defaults, then `settings` (shared fields or the method's options).

        RMU's layers become l-2..l of the highest layer given (its definition).
        """
        spec = get_method(method)
        shared, options = split_settings(method, settings)
        if "layers" in shared:
            shared["layers"] = spec.layers_for(tuple(shared["layers"]))
        return cls(method=method, **{**spec.shared_defaults, **shared}, options=options)

    def replace(self, **changes) -> "UnlearnConfig":
        """A copy with shared fields or method options changed (validated again)."""
        shared, options = split_settings(self.method, changes)
        current = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "options"}
        return UnlearnConfig(**{**current, **shared}, options={**self.options.model_dump(), **options})

    def settings(self) -> dict:
        """Every setting as one flat dict (shared fields and the method's options), as run.json holds them."""
        flat = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "options"}
        return {**flat, "layers": list(self.layers), "augment": list(self.augment), **self.options.model_dump()}


def shared_names() -> tuple[str, ...]:
    """Names of the settings every method honours."""
    return tuple(f.name for f in fields(UnlearnConfig) if f.name not in ("method", "options"))


def split_settings(method: str, settings: Mapping[str, object]) -> tuple[dict, dict]:
    """(shared fields, method options) of a flat settings dict; ValueError for a setting the method lacks."""
    spec = get_method(method)
    shared = {k: v for k, v in settings.items() if k in shared_names()}
    options = {k: v for k, v in settings.items() if k not in shared}
    unknown = sorted(set(options) - set(spec.option_names))
    if unknown:
        own = ", ".join(spec.option_names) or "none"
        raise ValueError(f"{spec.title} does not use {', '.join(map(repr, unknown))}; its own settings: {own}; "
                         f"shared settings: {', '.join(shared_names())}")
    return shared, options


@dataclass(frozen=True)
class StepRecord:
    step: int                      # 0 = before training
    total_steps: int
    loss: float                    # forget + retain terms (NaN at step 0)
    forget_loss: float
    retain_loss: float
    krd: float                     # forget KRD: mean 1 - cos(v, v0) on forget tokens and layers
    retain_drift: float            # the same on the retain batch (0 = untouched)
    grad_cos: float                # cos(projected forget gradient, retain gradient); NaN if undefined
    forget_acc: float | None       # share of forget facts answered (top-1, or top answer_rank; check / evaluation steps)
    retain_acc: float | None       # top-1 accuracy on the retain facts used by the run (evaluation steps)
    forget_prob: float | None      # mean p(first answer token), forget facts
    retain_prob: float | None
    paraphrase_acc: float | None   # the same on the forget facts' paraphrases that the model knew at the start
    neighbour_acc: float | None    # the same on the neighbours (same relations, never trained on)
    neighbour_prob: float | None
    elapsed_s: float               # since the call, setup included
    status: str                    # "start" | "running" | "done" | "error"
    message: str
    remaining: tuple[str, ...] = ()   # last record: prompts of forget facts the model still answers

    def to_dict(self) -> dict:
        return asdict(self)
