"""Causal tracing over many prompts: ROME's average indirect effect, aligned on the subject.

    >>> average = average_trace(lm, [(prompt, subject, answer), ...], TraceConfig(), kinds=("mlp",))
    >>> average.effects["mlp"]          # (6, L) mean indirect effect, rows as AVERAGE_ROWS
    >>> average.skipped                 # facts the model does not predict (reported, not traced)
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from kuda_core.model.loading import LoadedModel
from kuda_core.model.tokens import answer_token_id, token_text
from kuda_core.locate.tracing import KINDS, TraceConfig, TraceResult, embedding_noise_scale, iter_trace
from kuda_core.streams import drain

AVERAGE_ROWS = (
    "first subject token",
    "middle subject tokens",
    "last subject token",
    "first subsequent token",
    "further tokens",
    "last token",
)



def align_rows(grid: np.ndarray, subject_range: tuple[int, int]) -> np.ndarray:
    """align_rows(result.indirect_effect, result.subject_range) -> (6, L), rows as AVERAGE_ROWS.

    A row a prompt does not have (no middle subject tokens, nothing after the subject) is NaN.
    """
    n_tokens, n_layers = grid.shape
    start, end = subject_range
    rows = np.full((len(AVERAGE_ROWS), n_layers), np.nan)
    last = n_tokens - 1
    rows[0] = grid[start]
    if end - start > 2:
        rows[1] = grid[start + 1:end - 1].mean(0)
    rows[2] = grid[end - 1]
    if end < last:
        rows[3] = grid[end]
    if end + 1 < last:
        rows[4] = grid[end + 1:last].mean(0)
    rows[5] = grid[last]
    return rows


@dataclass(frozen=True)
class SkippedFact:
    prompt: str
    subject: str
    answer: str
    reason: str                         # e.g. "predicts ' the' (p=0.31), not ' Paris'"


@dataclass(frozen=True)
class AverageTrace:
    """Mean indirect effects over facts, per kind: effects[kind] is (6, L), rows as AVERAGE_ROWS."""

    kinds: tuple[str, ...]
    effects: dict[str, np.ndarray]      # kind -> (6, L) mean IE; NaN rows where no fact has that row
    counts: dict[str, np.ndarray]       # kind -> (6,) facts averaged in each row
    results: dict[str, list[TraceResult]]  # kind -> finished traces of the traced facts
    skipped: tuple[SkippedFact, ...]    # facts the model does not predict (not traced)
    n_layers: int
    row_labels: tuple[str, ...] = AVERAGE_ROWS


@dataclass(frozen=True)
class AverageProgress:
    """One step of iter_average_trace; `average` is the running AverageTrace (final when done)."""

    fact: int                           # index of the fact being traced
    n_facts: int
    kind: str
    rows_done: int
    rows_total: int
    message: str
    average: AverageTrace
    done: bool = False


def _fact_fields(fact) -> tuple[str, str, str]:
    if isinstance(fact, (tuple, list)) and len(fact) == 3:
        return tuple(fact)
    try:
        return fact.prompt, fact.subject, fact.answer
    except AttributeError:
        raise ValueError(f"A fact must be (prompt, subject, answer) or have those fields, got {fact!r}") from None


def _average(kinds, results, skipped, n_layers) -> AverageTrace:
    effects, counts = {}, {}
    for kind in kinds:
        aligned = [align_rows(r.indirect_effect, r.subject_range) for r in results[kind]]
        stack = np.stack(aligned) if aligned else np.full((0, len(AVERAGE_ROWS), n_layers), np.nan)
        present = ~np.isnan(stack[:, :, 0])  # (F, 6)
        counts[kind] = present.sum(0)
        with np.errstate(invalid="ignore"):
            effects[kind] = np.where(counts[kind][:, None] > 0, np.nansum(stack, 0) / np.maximum(counts[kind], 1)[:, None], np.nan)
    return AverageTrace(
        kinds=tuple(kinds), effects=effects, counts=counts,
        results={k: list(v) for k, v in results.items()}, skipped=tuple(skipped), n_layers=n_layers,
    )


def _predicts(lm: LoadedModel, prompt: str, answer: str) -> tuple[bool, str]:
    """(greedy top-1 == first token of answer, the greedy token) on the clean prompt."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"The prompt is empty: {prompt!r}")
    ids = lm.tokenizer(prompt, add_special_tokens=True, return_tensors="pt")["input_ids"].to(lm.device)  # (1, T)
    with torch.inference_mode():
        top = int(lm.model(input_ids=ids).logits[0, -1].argmax())
    return top == answer_token_id(lm.tokenizer, prompt, answer), token_text(lm.tokenizer, top)


def iter_average_trace(
    lm: LoadedModel, facts: Sequence, config: TraceConfig = TraceConfig(),
    kinds: Sequence[str] = KINDS, *, noise_subjects: Sequence[str] | None = None,
) -> Iterator[AverageProgress]:
    """iter_average_trace(lm, [(prompt, subject, answer), ...], config) -> AverageProgress records.

    Each fact is traced for every kind in `kinds` (config.kind is ignored). Facts whose answer is
    not the model's greedy top-1 are skipped and listed in `average.skipped`. The noise scale is
    measured once over the facts' subjects unless config.noise or noise_subjects say otherwise.
    """
    kinds = tuple(kinds)
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    facts = [_fact_fields(f) for f in facts]
    if not facts:
        raise ValueError("average_trace needs at least one fact")
    if config.noise is None:
        scale = embedding_noise_scale(lm, list(noise_subjects or [s for _, s, _ in facts]), config.noise_factor)
        config = replace(config, noise=scale)
    results: dict[str, list[TraceResult]] = {k: [] for k in kinds}
    skipped: list[SkippedFact] = []
    n_layers = lm.n_layers
    for index, (prompt, subject, answer) in enumerate(facts):
        predicted, prediction = _predicts(lm, prompt, answer)
        if not predicted:
            skipped.append(SkippedFact(prompt, subject, answer, f"the model predicts {prediction!r}, not {answer!r}"))
            continue
        for kind in kinds:
            for last in iter_trace(lm, prompt, subject, answer, replace(config, kind=kind)):
                yield AverageProgress(
                    index, len(facts), kind, last.rows_done, len(last.tokens),
                    f"fact {index + 1}/{len(facts)} ({kind}): row {last.rows_done}/{len(last.tokens)}",
                    _average(kinds, results, skipped, n_layers),
                )
            results[kind].append(last)
    yield AverageProgress(
        len(facts) - 1, len(facts), kinds[-1], 0, 0,
        f"traced {len(results[kinds[0]])} of {len(facts)} facts ({len(skipped)} not predicted, skipped)",
        _average(kinds, results, skipped, n_layers), done=True,
    )


def average_trace(
    lm: LoadedModel, facts: Sequence, config: TraceConfig = TraceConfig(),
    kinds: Sequence[str] = KINDS, *, noise_subjects: Sequence[str] | None = None,
) -> AverageTrace:
    """average_trace(lm, facts, config, kinds=("mlp",)) -> AverageTrace (drains iter_average_trace)."""
    return drain(iter_average_trace(lm, facts, config, kinds, noise_subjects=noise_subjects)).average
