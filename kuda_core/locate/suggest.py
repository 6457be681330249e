"""Choose the layers to edit from causal traces (pure numpy).

    >>> suggest_layers([mlp_trace], size=3)                   # Suggestion(layers=(4, 5, 6), ...)
    >>> scores = layer_scores([r.indirect_effect for r in traces], [r.subject_range for r in traces])
    >>> suggestion = suggest_window(scores, size=3)          # Suggestion(layers=(4, 5, 6), ...)
    >>> suggestion.layers, suggestion.total, suggestion.scores
    >>> by_token = suggestions_by_token(effects, ranges)      # {"last": ..., "strongest": ...}
    >>> other_token_note(by_token, "last")                    # a hint when the two disagree, else None
    >>> weak_trace_note(p_clean=0.29, p_corrupt=0.25)         # a warning when the subject hardly matters, else None

The per-layer score is the MLP indirect effect at the last subject token (or, as an option, at the
subject token with the strongest effect), averaged over prompts; the suggested window is the run of
`size` consecutive layers with the largest total (METHOD.md step 2). Layer 0 is left out by
default: on Llama-family models restoring the first MLP simply undoes the embedding noise.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TOKEN_CHOICES = ("last", "strongest")
# The default scoring: chosen on the dev topics (bench/dev_search.py --stage layers). On topic averages
# both scorings picked the same windows; on single facts whose entity is recognised before its last
# token ("E|iffel|Tower") the last-token score is weak and points far too high (layers 14-16).
DEFAULT_TOKEN = "strongest"
# A trace is weak when hiding the subject barely moves the answer: a total effect (p clean - p corrupted)
# under WEAK_TOTAL_EFFECT, or more than WEAK_KEPT_SHARE of p kept. Whatever window then scores highest is
# noise. Measured on 36 probe facts (2 per topic, 3 samples): 33 pass both; the weak three are two sports
# facts the model hardly answers (p 0.06-0.07) and "Google's operating system for phones is called"
# (0.48 -> 0.40: the rest of the prompt gives the answer away).
WEAK_TOTAL_EFFECT = 0.1
WEAK_KEPT_SHARE = 0.5


@dataclass(frozen=True)
class Suggestion:
    layers: tuple[int, ...]     # the suggested consecutive layers
    total: float                # sum of their scores
    scores: np.ndarray          # (L,) per-layer score used for the choice
    size: int


def layer_scores(effects: Sequence[np.ndarray], subject_ranges: Sequence[tuple[int, int]],
                 token: str = "last") -> np.ndarray:
    """Mean over prompts of the (T, L) indirect effect at the subject: (L,) scores.

    token="last": the last subject token; "strongest": per prompt and layer, the subject token with
    the largest effect. NaN cells (unfinished rows) count as 0.
    """
    if token not in TOKEN_CHOICES:
        raise ValueError(f"token must be one of {TOKEN_CHOICES}, got {token!r}")
    if not effects or len(effects) != len(subject_ranges):
        raise ValueError(f"Need one subject range per effect grid, got {len(effects)} grids "
                         f"and {len(subject_ranges)} ranges")
    rows = []
    for grid, (start, end) in zip(effects, subject_ranges):
        grid = np.nan_to_num(np.asarray(grid, dtype=float))                  # (T, L)
        if not 0 <= start < end <= grid.shape[0]:
            raise ValueError(f"Subject range {(start, end)} does not fit a grid of {grid.shape[0]} tokens")
        rows.append(grid[end - 1] if token == "last" else grid[start:end].max(axis=0))
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ValueError(f"Grids have different layer counts: {sorted(widths)}")
    return np.mean(rows, axis=0)


def suggest_window(scores: Sequence[float], size: int = 3, exclude_layer0: bool = True) -> Suggestion:
    """The `size` consecutive layers with the largest total score (ties: the earliest window)."""
    scores = np.nan_to_num(np.asarray(scores, dtype=float))
    n_layers = len(scores)
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"The window size must be a positive integer, got {size!r}")
    first = 1 if exclude_layer0 else 0
    if size > n_layers - first:
        raise ValueError(f"A window of {size} layers does not fit a model of {n_layers} layers"
                         + (" (layer 0 excluded)" if exclude_layer0 else ""))
    totals = np.array([scores[s:s + size].sum() for s in range(first, n_layers - size + 1)])
    start = first + int(np.argmax(totals))
    return Suggestion(tuple(range(start, start + size)), float(totals.max()), scores, size)


def suggestions_by_token(effects: Sequence[np.ndarray], subject_ranges: Sequence[tuple[int, int]],
                         size: int = 3, exclude_layer0: bool = True) -> dict[str, Suggestion]:
    """{"last": Suggestion, "strongest": Suggestion}: both scorings of the same traces."""
    return {token: suggest_window(layer_scores(effects, subject_ranges, token), size, exclude_layer0)
            for token in TOKEN_CHOICES}


def suggest_layers(traces: Sequence, size: int = 3, token: str = DEFAULT_TOKEN, exclude_layer0: bool = True) -> Suggestion:
    """suggest_layers([mlp_trace, ...], size=3) -> the window of MLP traces' largest effect at the subject."""
    traces = list(traces)
    if not traces or any(t.kind != "mlp" for t in traces):
        raise ValueError("suggest_layers needs at least one trace, all of kind 'mlp'")
    scores = layer_scores([t.indirect_effect for t in traces], [t.subject_range for t in traces], token)
    return suggest_window(scores, size, exclude_layer0)


def other_token_note(by_token: dict[str, Suggestion], chosen: str) -> str | None:
    """One line naming the other scoring's window when it differs from the chosen one, else None.

    On models that identify the entity before its last token (e.g. "E|iffel|Tower", where "iffel"
    carries the effect) the last-token score is weak and the strongest-token window is the better
    guess; the note says so with both totals.
    """
    if chosen not in by_token:
        raise ValueError(f"chosen must be one of {sorted(by_token)}, got {chosen!r}")
    mine = by_token[chosen]
    other_token = next(t for t in by_token if t != chosen)
    other = by_token[other_token]
    if other.layers == mine.layers:
        return None
    where = "strongest subject token" if other_token == "strongest" else "last subject token"
    note = (f"Scoring at the {where} would suggest layers {', '.join(map(str, other.layers))} "
            f"(total {other.total:.3f} against {mine.total:.3f})")
    if other_token == "strongest" and other.total > 2 * max(mine.total, 0.0):
        note += "; the subject seems to be recognised before its last token, so that window may be the better choice"
    return note + "."


def weak_trace_note(p_clean: float, p_corrupt: float) -> str | None:
    """A warning when hiding the subject hardly changes p(answer) (the suggestion is then unreliable), else None."""
    total = p_clean - p_corrupt
    if total >= WEAK_TOTAL_EFFECT and p_corrupt <= WEAK_KEPT_SHARE * p_clean:
        return None
    return (f"**Weak trace: this suggestion is unreliable.** Hiding the subject moves p(answer) only from "
            f"{p_clean:.2f} to {p_corrupt:.2f}, so no layer clearly carries this answer from the subject. Check that "
            "the answer depends on the subject and that the model gives it with some confidence, or use a topic "
            "average.")
