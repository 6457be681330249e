"""Before / after evaluation: probe accuracy, perplexity, answers and their fluency.

    >>> stats = probe_stats(lm, prompts, answers)               # ProbeStats(accuracy, mean_p, ...)
    >>> perplexity(lm, general_texts)                           # token-weighted
    >>> for progress in iter_evaluate(lm, snap, probe_sets, text_sets):   # stoppable
    ...     print(progress.fraction, progress.message)
    >>> progress.result.table                                   # DataFrame: set, metric, original, unlearned, change

"Original" numbers come from the same model with the snapshot's original weights swapped in
(`snapshot.original`), so no second copy of the model is needed; with snapshot=None the model
is taken as unedited and both columns agree. Answers are greedy continuations generated in
batches (inspect.compare) and judged by fluency.check_fluency, whose validation is documented
there; the table reports the original model's fluent share as the baseline.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from kuda_core.data.checks import FactCheck, check_facts
from kuda_core.inspect.compare import AnswerComparison, CompareConfig, iter_compare_answers, original_weights
from kuda_core.model.logprobs import perplexity_of
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.streams import drain

Benchmark = Callable[[LoadedModel], Mapping[str, float]]   # lm -> {metric: value}
TABLE_COLUMNS = ["set", "metric", "original", "unlearned", "change"]


@dataclass(frozen=True)
class EvalConfig(CompareConfig):
    answer_sets: tuple[str, ...] | None = None   # probe sets whose answers are generated; None = all

    def __post_init__(self) -> None:
        super().__post_init__()
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
class EvalResult:
    table: pd.DataFrame                       # TABLE_COLUMNS, one row per (set, metric)
    answers: dict[str, list[AnswerComparison]]  # probe set -> answers, original vs current


@dataclass(frozen=True)
class EvalProgress:
    fraction: float                 # in [0, 1]
    message: str
    result: EvalResult | None = None   # set on the last record only


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


def _measures(probe_sets, text_sets, benchmarks, config: EvalConfig) -> list[tuple[str, str, Benchmark]]:
    """(table set, progress label, measure(lm) -> {metric: value}), each run on the original and the current weights."""
    return [
        *((name, f"{name}: probe accuracy", partial(_probe_measure, prompts=prompts, answers=answers,
                                                     batch=config.batch_size))
          for name, (prompts, answers) in probe_sets.items()),
        *((name, f"{name}: perplexity", partial(_perplexity_measure, texts=texts, batch=config.batch_size))
          for name, texts in text_sets.items()),
        *((name, name, run) for name, run in benchmarks.items()),
    ]


def _answer_rows(name: str, found: Sequence[AnswerComparison]) -> list[dict]:
    """Fluent and changed shares of one set's answers, as table rows (none for an empty set)."""
    if not found:
        return []
    return _rows(name, {"fluent answers": float(np.mean([r.original_fluent for r in found])), "changed answers": 0.0},
                 {"fluent answers": float(np.mean([r.fluent for r in found])),
                  "changed answers": float(np.mean([r.changed for r in found]))})


def _fingerprint(*parts) -> str:
    """A short hash of the data a measure reads (cache key)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def iter_evaluate(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    probe_sets: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    text_sets: Mapping[str, Sequence[str]] | None = None,
    config: EvalConfig = EvalConfig(),
    benchmarks: Mapping[str, Benchmark] | None = None,
    originals: MutableMapping | None = None,
) -> Iterator[EvalProgress]:
    """Evaluate original vs current; yields EvalProgress, the last one carrying the EvalResult.

    probe_sets: name -> (prompts, answers), e.g. {"forget": ..., "paraphrase": ...,
        "retain (used)": ..., "retain (held out)": ...}.
    text_sets: name -> texts for perplexity, e.g. {"general (held out)": texts}.
    benchmarks: name -> function(lm) -> {metric: value}, run before and after (MC, MUSE, ...).
    originals: a dict kept per base model caching the original side (probe and text measures,
        answers); benchmarks are always measured again.
    """
    text_sets, benchmarks = dict(text_sets or {}), dict(benchmarks or {})
    answer_sets = [n for n in probe_sets if config.answer_sets is None or n in config.answer_sets]
    unknown = [n for n in (config.answer_sets or ()) if n not in probe_sets]
    if unknown:
        raise ValueError(f"answer_sets names unknown probe sets {unknown}; known: {list(probe_sets)}")
    measures = _measures(probe_sets, text_sets, benchmarks, config)
    total = 2 * len(measures) + sum(len(probe_sets[n][0]) for n in answer_sets)
    done, rows = 0, []

    def tick(message: str) -> EvalProgress:
        nonlocal done
        done += 1
        return EvalProgress(min(done / max(total, 1), 0.999), message)

    originals = {} if originals is None else originals
    for name, label, measure in measures:
        key = ("measure", name, label, _fingerprint(probe_sets.get(name), text_sets.get(name)))
        if key not in originals or name in benchmarks:
            with original_weights(lm, snapshot):
                originals[key] = dict(measure(lm))
        before = originals[key]
        yield tick(f"{label} (original)")
        after = dict(measure(lm))
        yield tick(f"{label} (unlearned)")
        rows += _rows(name, before, after)
    answers_by_set: dict[str, list[AnswerComparison]] = {}
    for name in answer_sets:
        prompts, answers = probe_sets[name]
        found = answers_by_set[name] = []
        for index, row in iter_compare_answers(lm, snapshot, prompts, answers, config, originals):
            found.append(row)
            yield tick(f"{name}: answer {index + 1}/{len(prompts)}")
        rows += _answer_rows(name, found)
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    yield EvalProgress(1.0, "Evaluation done", EvalResult(table, answers_by_set))


def evaluate(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    probe_sets: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    text_sets: Mapping[str, Sequence[str]] | None = None,
    config: EvalConfig = EvalConfig(),
    benchmarks: Mapping[str, Benchmark] | None = None,
) -> EvalResult:
    """evaluate(lm, snap, probe_sets, text_sets) -> EvalResult (iter_evaluate run to the end)."""
    return drain(iter_evaluate(lm, snapshot, probe_sets, text_sets, config, benchmarks)).result
