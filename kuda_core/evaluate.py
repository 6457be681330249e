"""Before / after evaluation: probe accuracy, perplexity, answers and their coherence.

    >>> stats = probe_stats(lm, prompts, answers)               # ProbeStats(accuracy, mean_p, ...)
    >>> perplexity(lm, general_texts)                           # token-weighted
    >>> rows = compare_answers(lm, snap, prompts)               # [AnswerComparison], original vs now
    >>> for progress in iter_evaluate(lm, snap, probe_sets, text_sets):   # stoppable
    ...     print(progress.fraction, progress.message)
    >>> progress.result.table                                   # DataFrame: set, metric, original, unlearned, change

"Original" numbers come from the same model with the snapshot's original weights swapped in
(`snapshot.original`), so no second copy of the model is needed; with snapshot=None the model
is taken as unedited and both columns agree. Answers are greedy continuations generated in
batches (answers.greedy_batch) and judged by coherence.check_coherence, whose thresholds are
documented there; the table reports the original model's coherent share as the baseline.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from kuda_core.coherence import CoherenceConfig, check_coherence
from kuda_core.answers import greedy_batch, next_token_stats
from kuda_core.logprobs import perplexity_of
from kuda_core.models import LoadedModel
from kuda_core.probes import FactCheck, check_facts
from kuda_core.snapshot import WeightSnapshot

Benchmark = Callable[[LoadedModel], Mapping[str, float]]   # lm -> {metric: value}
TABLE_COLUMNS = ["set", "metric", "original", "unlearned", "change"]


@dataclass(frozen=True)
class EvalConfig:
    batch_size: int = 32              # prompts / texts per forward pass
    max_new_tokens: int = 20          # length of the greedy answers that are compared
    top_k: int = 5                    # next tokens shown per answer
    answer_sets: tuple[str, ...] | None = None   # probe sets whose answers are generated; None = all
    coherence: CoherenceConfig = field(default_factory=CoherenceConfig)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if not 1 <= self.max_new_tokens <= 256:
            raise ValueError(f"max_new_tokens must be in [1, 256], got {self.max_new_tokens!r}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k!r}")
        if self.answer_sets is not None:
            object.__setattr__(self, "answer_sets", tuple(self.answer_sets))


@dataclass(frozen=True)
class ProbeStats:
    n: int
    accuracy: float        # share of prompts whose greedy next token is the answer's first token
    mean_p: float          # mean P(first answer token | prompt)
    median_rank: float     # median 1-based rank of that token
    checks: tuple[FactCheck, ...] = ()


@dataclass(frozen=True)
class AnswerComparison:
    prompt: str
    answer: str                  # the scored answer (default: the original greedy next token)
    original_text: str           # greedy continuation before / after
    current_text: str
    original_p: float            # P(first answer token) before / after
    current_p: float
    original_rank: int
    current_rank: int
    original_top: tuple[tuple[str, float], ...]   # top-k next tokens before / after
    current_top: tuple[tuple[str, float], ...]
    changed: bool                # the greedy continuation differs
    coherent: bool               # the current continuation passes the coherence check
    original_coherent: bool      # the original continuation does (the baseline)
    perplexity: float            # of the current continuation under the original model
    repetition: float            # repeated word n-gram share of the current continuation

    def row(self) -> dict:
        """Flat dict for a table (top-k lists as 'token (p)' strings)."""
        out = asdict(self)
        for key in ("original_top", "current_top"):
            out[key] = ", ".join(f"{t!r} ({p:.2f})" for t, p in getattr(self, key))
        return out


@dataclass(frozen=True)
class EvalResult:
    table: pd.DataFrame                       # TABLE_COLUMNS, one row per (set, metric)
    answers: dict[str, list[AnswerComparison]]  # probe set -> answers, original vs current


@dataclass(frozen=True)
class EvalProgress:
    fraction: float                 # in [0, 1]
    message: str
    result: EvalResult | None = None   # set on the last record only


def original_weights(lm: LoadedModel, snapshot: WeightSnapshot | None):
    """Context with the original weights swapped in (a no-op without a snapshot)."""
    return snapshot.original(lm.model) if snapshot is not None else nullcontext()


def probe_stats(lm: LoadedModel, prompts: Sequence[str], answers: Sequence[str], batch_size: int = 32) -> ProbeStats:
    """probe_stats(lm, prompts, answers) -> ProbeStats over the first answer tokens."""
    if not prompts:
        return ProbeStats(0, float("nan"), float("nan"), float("nan"))
    checks = check_facts(lm, list(prompts), list(answers), batch_size=batch_size)
    return ProbeStats(
        n=len(checks),
        accuracy=float(np.mean([c.top1_ok for c in checks])),
        mean_p=float(np.mean([c.prob for c in checks])),
        median_rank=float(np.median([c.rank for c in checks])),
        checks=tuple(checks),
    )


def perplexity(lm: LoadedModel, texts: Sequence[str], batch_size: int = 16) -> float:
    """perplexity(lm, texts) -> exp(total NLL / total tokens) over all texts."""
    return perplexity_of(lm, list(texts), batch_size)


def iter_compare_answers(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    prompts: Sequence[str],
    answers: Sequence[str] | None = None,
    config: EvalConfig = EvalConfig(),
) -> Iterator[tuple[int, AnswerComparison]]:
    """Yield (index, AnswerComparison) per prompt, computed config.batch_size prompts at a time.

    Greedy answers are generated in left-padded batches (answers.greedy_batch); stop early by
    closing the generator.
    """
    if answers is not None and len(answers) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    size = config.batch_size
    for start in range(0, len(prompts), size):
        part = list(prompts[start:start + size])
        wanted = list(answers[start:start + size]) if answers is not None else None
        with original_weights(lm, snapshot):
            before_text = greedy_batch(lm, part, config.max_new_tokens, size)
            before = next_token_stats(lm, part, wanted, config.top_k, size)
        after_text = greedy_batch(lm, part, config.max_new_tokens, size)
        after = next_token_stats(lm, part, [b.answer_id for b in before], config.top_k, size)
        checks = check_coherence(lm, part + part, after_text + before_text, snapshot, config.coherence)
        for j, prompt in enumerate(part):
            now, then = checks[j], checks[len(part) + j]
            yield start + j, AnswerComparison(
                prompt=prompt, answer=before[j].answer,
                original_text=before_text[j], current_text=after_text[j],
                original_p=before[j].answer_p, current_p=after[j].answer_p,
                original_rank=before[j].answer_rank, current_rank=after[j].answer_rank,
                original_top=before[j].top, current_top=after[j].top,
                changed=after_text[j] != before_text[j],
                coherent=now.coherent, original_coherent=then.coherent,
                perplexity=now.perplexity, repetition=now.repetition,
            )


def compare_answers(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    prompts: Sequence[str],
    answers: Sequence[str] | None = None,
    config: EvalConfig = EvalConfig(),
) -> list[AnswerComparison]:
    """compare_answers(lm, snap, prompts, answers=None) -> [AnswerComparison] in input order."""
    return [row for _, row in iter_compare_answers(lm, snapshot, prompts, answers, config)]


def answers_frame(comparisons: Sequence[AnswerComparison]) -> pd.DataFrame:
    """One row per answer, for display and export."""
    return pd.DataFrame([c.row() for c in comparisons], columns=list(AnswerComparison.__dataclass_fields__))


def _rows(set_name: str, before: Mapping[str, float], after: Mapping[str, float]) -> list[dict]:
    return [
        {"set": set_name, "metric": metric, "original": float(before[metric]),
         "unlearned": float(after[metric]), "change": float(after[metric]) - float(before[metric])}
        for metric in before
    ]


def _probe_metrics(stats: ProbeStats) -> dict[str, float]:
    return {"top-1 accuracy": stats.accuracy, "mean p(answer)": stats.mean_p, "median rank": stats.median_rank}


def _probe_measure(lm: LoadedModel, prompts, answers, batch: int) -> dict[str, float]:
    return _probe_metrics(probe_stats(lm, prompts, answers, batch))


def _perplexity_measure(lm: LoadedModel, texts, batch: int) -> dict[str, float]:
    return {"perplexity": perplexity(lm, texts, batch)}


def iter_evaluate(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    probe_sets: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    text_sets: Mapping[str, Sequence[str]] | None = None,
    config: EvalConfig = EvalConfig(),
    benchmarks: Mapping[str, Benchmark] | None = None,
) -> Iterator[EvalProgress]:
    """Evaluate original vs current; yields EvalProgress, the last one carrying the EvalResult.

    probe_sets: name -> (prompts, answers), e.g. {"forget": ..., "paraphrase": ...,
        "retain (used)": ..., "retain (held out)": ...}.
    text_sets: name -> texts for perplexity, e.g. {"general (held out)": texts}.
    benchmarks: name -> function(lm) -> {metric: value}, run before and after (MC, MUSE, ...).
    """
    text_sets, benchmarks = dict(text_sets or {}), dict(benchmarks or {})
    answer_sets = [n for n in probe_sets if config.answer_sets is None or n in config.answer_sets]
    unknown = [n for n in (config.answer_sets or ()) if n not in probe_sets]
    if unknown:
        raise ValueError(f"answer_sets names unknown probe sets {unknown}; known: {list(probe_sets)}")
    total = 2 * (len(probe_sets) + len(text_sets) + len(benchmarks)) + sum(len(probe_sets[n][0]) for n in answer_sets)
    done, rows = 0, []

    def tick(message: str) -> EvalProgress:
        nonlocal done
        done += 1
        return EvalProgress(min(done / max(total, 1), 0.999), message)

    # (table set, progress label, measure(lm) -> {metric: value}), each run on the original and the current weights
    measures: list[tuple[str, str, Benchmark]] = [
        *((name, f"{name}: probe accuracy", partial(_probe_measure, prompts=prompts, answers=answers,
                                                     batch=config.batch_size))
          for name, (prompts, answers) in probe_sets.items()),
        *((name, f"{name}: perplexity", partial(_perplexity_measure, texts=texts, batch=config.batch_size))
          for name, texts in text_sets.items()),
        *((name, name, run) for name, run in benchmarks.items()),
    ]
    for name, label, measure in measures:
        with original_weights(lm, snapshot):
            before = dict(measure(lm))
        yield tick(f"{label} (original)")
        after = dict(measure(lm))
        yield tick(f"{label} (unlearned)")
        rows += _rows(name, before, after)
    answers_by_set: dict[str, list[AnswerComparison]] = {}
    for name in answer_sets:
        prompts, answers = probe_sets[name]
        found = []
        for index, row in iter_compare_answers(lm, snapshot, prompts, answers, config):
            found.append(row)
            yield tick(f"{name}: answer {index + 1}/{len(prompts)}")
        answers_by_set[name] = found
        if found:
            rows += _rows(
                name,
                {"coherent answers": float(np.mean([r.original_coherent for r in found])), "changed answers": 0.0},
                {"coherent answers": float(np.mean([r.coherent for r in found])),
                 "changed answers": float(np.mean([r.changed for r in found]))},
            )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    yield EvalProgress(1.0, "Evaluation done", EvalResult(table, answers_by_set))


def evaluate_model(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    probe_sets: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    text_sets: Mapping[str, Sequence[str]] | None = None,
    config: EvalConfig = EvalConfig(),
    benchmarks: Mapping[str, Benchmark] | None = None,
) -> EvalResult:
    """evaluate_model(lm, snap, probe_sets, text_sets) -> EvalResult (iter_evaluate run to the end)."""
    for progress in iter_evaluate(lm, snapshot, probe_sets, text_sets, config, benchmarks):
        if progress.result is not None:
            return progress.result
    raise RuntimeError("iter_evaluate ended without a result")
