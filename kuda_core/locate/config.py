"""What a causal trace is asked for and what it returns: TraceConfig, TraceResult, restore windows.

    >>> config = TraceConfig(kind="mlp", samples=10)          # "hidden" | "mlp" | "attn"
    >>> result.scores, result.indirect_effect                 # (T, L) numpy arrays
    >>> restore_layers("mlp", 6, 30)                          # layers restored for cell layer 6
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KINDS = ("hidden", "mlp", "attn")
MAX_SAMPLES = 100


@dataclass(frozen=True)
class TraceConfig:
    """TraceConfig(kind="mlp", samples=10, noise=None, window=10, seed=0, exclude_layer0=True).

    Windows are clipped to layers 0..L-1 as in ROME, so a window larger than the depth is allowed
    (with window >= 2L every window covers all layers); the result carries a warning saying so.
    """

    kind: str = "hidden"           # "hidden" block output | "mlp" / "attn" sublayer outputs
    samples: int = 10              # corrupted copies, 1..100 (ROME: 10)
    noise: float | None = None     # std of the embedding noise; None = noise_factor x subject embedding std
    noise_factor: float = 3.0      # ROME: 3 x std of subject-token embeddings
    window: int = 10               # layers restored together for mlp / attn (ROME: 10)
    seed: int = 0                  # seed of the noise, drawn once and shared by every cell
    exclude_layer0: bool = True    # leave layer 0 out of mlp / attn windows (METHOD.md step 2)
    max_batch_tokens: int = 8192   # fast path: rows x positions per forward pass (memory bound)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or not 1 <= self.samples <= MAX_SAMPLES:
            raise ValueError(f"samples must be an integer in 1..{MAX_SAMPLES}, got {self.samples!r}")
        if self.noise is not None and not (isinstance(self.noise, (int, float)) and math.isfinite(self.noise) and self.noise > 0):
            raise ValueError(f"noise must be a positive finite float or None, got {self.noise!r}")
        if not (isinstance(self.noise_factor, (int, float)) and math.isfinite(self.noise_factor) and self.noise_factor > 0):
            raise ValueError(f"noise_factor must be a positive finite float, got {self.noise_factor!r}")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise ValueError(f"window must be an integer >= 1, got {self.window!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if isinstance(self.max_batch_tokens, bool) or not isinstance(self.max_batch_tokens, int) or self.max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be an integer >= 1, got {self.max_batch_tokens!r}")


@dataclass(frozen=True)
class TraceResult:
    """One (possibly partial) trace; `scores[t, l]` = mean p(answer) with cell (t, l) restored."""

    prompt: str
    subject: str
    tokens: tuple[str, ...]            # decoded prompt tokens, length T
    subject_range: tuple[int, int]     # half-open token range [start, end) of the subject
    kind: str
    answer: str                        # traced answer (as given, or the model's greedy token)
    answer_id: int                     # its first token: the one scored
    prediction: str                    # the model's greedy next token on the clean prompt
    prediction_id: int
    p_clean: float                     # p(answer | prompt)
    p_corrupt: float                   # mean p(answer) over the corrupted copies, nothing restored
    scores: np.ndarray                 # (T, L) p(answer) with the cell restored; NaN = not computed yet
    rows_done: int                     # token rows finished (rows are computed in order)
    noise: float                       # std of the noise that was used
    config: TraceConfig
    warnings: tuple[str, ...] = ()

    @property
    def indirect_effect(self) -> np.ndarray:
        """(T, L) p_restored - p_corrupt (NaN where not computed yet)."""
        return self.scores - self.p_corrupt

    @property
    def answer_is_prediction(self) -> bool:
        return self.answer_id == self.prediction_id

    @property
    def done(self) -> bool:
        return self.rows_done == len(self.tokens)

    @property
    def n_layers(self) -> int:
        return self.scores.shape[1]


def restore_layers(kind: str, layer: int, n_layers: int, window: int = 10, exclude_layer0: bool = True) -> tuple[int, ...]:
    """restore_layers("mlp", 6, 30) -> (1, ..., 10): the layers restored for cell layer `layer`.

    hidden: (layer,). mlp / attn: range(max(0, l - w//2), min(L, l - (-w//2))), without layer 0
    when exclude_layer0 (may be empty for window 1 at layer 0: that cell equals p_corrupt).
    """
    if kind == "hidden":
        return (layer,)
    low, high = max(0, layer - window // 2), min(n_layers, layer - (-window // 2))
    return tuple(j for j in range(low, high) if not (exclude_layer0 and j == 0))
