"""What an unlearning method is: its name, its own options, and its loss terms.

    >>> method = get_method("npo")             # Method; ValueError names the known methods
    >>> method.options(beta=0.2)               # validated options (pydantic; unknown keys are errors)
    >>> method.forget_term(ctx, cached)        # (loss, KRD on forget tokens)
    >>> method.retain_term(ctx, cached)        # (weighted retain loss, retain drift)

Every method lives in one module of this package and registers itself with `register`. The
training loop (kuda_core.forget.loop) knows methods only through this interface.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from kuda_core.forget.context import StepContext
from kuda_core.forget.replay import Cached

Term = Callable[[StepContext, Cached], tuple[torch.Tensor, float]]
DEFAULT_FORGET_TOKENS = "subject+last"


class Options(BaseModel):
    """Base of every method's options: frozen, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoOptions(Options):
    """A method without options of its own."""


def _no_preparation(ctx: StepContext) -> None:
    return None


def _same_layers(layers: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(layers)


def _no_block_outputs(options: Options, top: int, n_layers: int) -> tuple[int, ...]:
    return ()


@dataclass(frozen=True)
class Method:
    name: str                                   # "kuda", "ga", ... (the key in run.json)
    title: str                                  # "KUDA", "GA", ... (for people)
    description: str                            # one line, shown in the UI and the docs
    options: type[Options]                      # the method's own settings, with defaults and checks
    forget_term: Term
    retain_term: Term
    prepare: Callable[[StepContext], None] = _no_preparation     # per-run state (NPO reference, RMU direction)
    shared_defaults: Mapping[str, object] = field(default_factory=dict)  # lr, tau, ... this method starts from
    layers_for: Callable[[tuple[int, ...]], tuple[int, ...]] = _same_layers   # RMU: l-2..l
    block_outputs: Callable[[Options, int, int], tuple[int, ...]] = _no_block_outputs  # (options, top, L)

    def forget_tokens(self, options: Options) -> str:
        """Which tokens of a forget fact the representation losses (and KRD) look at."""
        return getattr(options, "forget_tokens", DEFAULT_FORGET_TOKENS)

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(self.options.model_fields)

    def make_options(self, values: Mapping[str, object] | Options | None = None) -> Options:
        """The method's options from a mapping (defaults for what is missing); ValueError names the problem."""
        if isinstance(values, self.options):
            return values
        values = dict(values.model_dump() if isinstance(values, Options) else values or {})
        unknown = sorted(set(values) - set(self.option_names))
        if unknown:
            offered = ", ".join(self.option_names) or "none"
            raise ValueError(f"{self.title} has no setting {', '.join(map(repr, unknown))}; its own settings: {offered}")
        try:
            return self.options(**values)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
                                 for e in error.errors())
            raise ValueError(f"{self.title} settings: {problems}") from None


REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (one call per method module)."""
    if method.name in REGISTRY:
        raise ValueError(f"Method {method.name!r} is registered twice")
    REGISTRY[method.name] = method
    return method


def get_method(name: str) -> Method:
    """The registered method called `name`; ValueError naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown method {name!r}; choose one of {sorted(REGISTRY)}") from None
