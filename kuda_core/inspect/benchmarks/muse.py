"""MUSE-style metrics: VerbMem, KnowMem (ROUGE-L) and PrivLeak (Min-K% membership AUC).

    >>> data = load_muse("tests/fixtures/muse")                  # muse_data.MuseData
    >>> data = load_muse("news")                                 # muse-bench/MUSE-News, online only
    >>> verbmem(lm, data.verbmem).score                          # mean ROUGE-L x 100
    >>> knowmem(lm, data.knowmem_forget, icl=data.knowmem_forget_icl).score
    >>> privleak(lm, data.privleak_forget, data.privleak_holdout, auc_retrained=0.4772).score
    >>> for name, so_far in iter_muse_metrics(lm, data): ...     # stoppable, one metric at a time

Definitions follow MUSE's reference code (github.com/swj0419/muse_bench, metrics/*.py):
  * VerbMem: greedy continuation of `prompt` (128 new tokens) against `gt` cut to its first 128
    tokens; KnowMem: answer to "Question: {q}\\nAnswer: " (few-shot ICL pairs first, 32 new tokens,
    cut at the next "Question") against `answer`. Both: ROUGE-L via rouge-score, no stemmer. MUSE's
    code reports the mean ROUGE-L **F1** (`mean_rougeL`) by default, not recall; `rouge="recall"`
    gives the recall variant that other papers report.
  * PrivLeak: Min-K% score of a text = mean of its lowest K% token log-probabilities (K = 40%).
    AUC of that score with forget texts labelled 0 and holdout texts 1 (MUSE's key
    "forget_holdout_Min-40%"): ~0.5 when the model cannot tell them apart, near 0 when it has
    memorised the forget texts. PrivLeak = (AUC - AUC_retrained) / AUC_retrained x 100, or the
    AUC itself without a retrained reference.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from rouge_score import rouge_scorer
from sklearn.metrics import roc_auc_score

from kuda_core.model.generation import greedy_batch
from kuda_core.model.logprobs import sequence_logprobs
from kuda_core.inspect.benchmarks.muse_data import MuseData
from kuda_core.model.loading import LoadedModel
from kuda_core.streams import drain

# AUC of the retrained models in MUSE's constants.py (Llama-2-7B News / ICLM-7B Books, Min-40%):
# only meaningful for those models; pass your own retrained AUC otherwise.
MUSE_RETRAINED_AUC = {"news": 0.4772, "books": 0.5393}
STOP_STRINGS = ("\n\n", "\nQuestion", "Question:")


@dataclass(frozen=True)
class MuseConfig:
    verbmem_max_new_tokens: int = 128   # MUSE default
    knowmem_max_new_tokens: int = 32    # MUSE default
    rouge: str = "f1"                   # "f1" (MUSE's mean_rougeL) or "recall"
    k_percent: float = 40.0             # Min-K% (MUSE: Min-40%)
    batch_size: int = 8
    limit: int | None = None            # use only the first `limit` rows of each split

    def __post_init__(self) -> None:
        for name in ("verbmem_max_new_tokens", "knowmem_max_new_tokens"):
            if not 1 <= getattr(self, name) <= 256:
                raise ValueError(f"{name} must be in [1, 256], got {getattr(self, name)!r}")
        if self.rouge not in ("f1", "recall"):
            raise ValueError(f"rouge must be 'f1' or 'recall', got {self.rouge!r}")
        if not 0.0 < self.k_percent <= 100.0:
            raise ValueError(f"k_percent must be in (0, 100], got {self.k_percent!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1 or None, got {self.limit!r}")


@dataclass(frozen=True)
class RougeResult:
    score: float                                   # mean ROUGE-L x 100
    per_item: tuple[float, ...] = ()               # ROUGE-L in [0, 1] per row
    outputs: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class PrivLeakResult:
    score: float                 # PrivLeak in % when auc_retrained is given, else the AUC
    auc: float
    auc_retrained: float | None
    forget_scores: tuple[float, ...] = field(default=(), repr=False)    # Min-K% log-prob means
    holdout_scores: tuple[float, ...] = field(default=(), repr=False)


# ----------------------------------------------------------------------------- metrics


def rouge_l(reference: str, prediction: str, kind: str = "f1") -> float:
    """ROUGE-L of `prediction` against `reference` (rouge-score, no stemmer): F1 or recall."""
    score = _SCORER.score(reference, prediction)["rougeL"]
    if kind == "f1":
        return float(score.fmeasure)
    if kind == "recall":
        return float(score.recall)
    raise ValueError(f"kind must be 'f1' or 'recall', got {kind!r}")


_SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def min_k_score(token_logprobs: np.ndarray, k_percent: float = 40.0) -> float:
    """Mean of the lowest k% token log-probs (at least one token); higher = more 'member'."""
    values = np.sort(np.asarray(token_logprobs, dtype=float))
    if values.size == 0:
        raise ValueError("A text with no scored tokens has no Min-K% score")
    count = max(1, int(values.size * k_percent / 100.0))
    return float(values[:count].mean())


def membership_auc(nonmember_scores: Sequence[float], member_scores: Sequence[float]) -> float:
    """ROC AUC of scores predicting membership (members labelled 1; higher score = member)."""
    if not nonmember_scores or not member_scores:
        raise ValueError("Both sets need at least one text for an AUC")
    labels = [0] * len(nonmember_scores) + [1] * len(member_scores)
    return float(roc_auc_score(labels, list(nonmember_scores) + list(member_scores)))


def privleak_from_auc(auc: float, auc_retrained: float | None) -> float:
    """(AUC - AUC_retrained) / AUC_retrained x 100; the AUC itself when no reference is given."""
    if auc_retrained is None:
        return float(auc)
    if auc_retrained <= 0:
        raise ValueError(f"auc_retrained must be > 0, got {auc_retrained!r}")
    return float((auc - auc_retrained) / auc_retrained * 100.0)


def _limit(rows: list, config: MuseConfig) -> list:
    return rows[: config.limit] if config.limit else rows


def verbmem(lm: LoadedModel, rows: Sequence[dict], config: MuseConfig = MuseConfig()) -> RougeResult:
    """verbmem(lm, [{prompt, gt}]) -> RougeResult: continuation of prompt vs gt (first N tokens)."""
    rows = _limit(list(rows), config)
    if not rows:
        raise ValueError("No VerbMem rows")
    outputs = greedy_batch(lm, [row["prompt"] for row in rows], config.verbmem_max_new_tokens, config.batch_size)
    scores = []
    for row, output in zip(rows, outputs):
        gt_ids = lm.tokenizer(row["gt"], add_special_tokens=False)["input_ids"][: config.verbmem_max_new_tokens]
        scores.append(rouge_l(lm.tokenizer.decode(gt_ids, skip_special_tokens=True), output, config.rouge))
    return RougeResult(float(np.mean(scores)) * 100.0, tuple(scores), tuple(outputs))


def knowmem_prompt(question: str, icl: Sequence[dict] = ()) -> str:
    """MUSE's QA prompt: few-shot "Question: ...\\nAnswer: ...\\n\\n" pairs, then the question."""
    shots = "".join(f"Question: {d['question']}\nAnswer: {d['answer']}\n\n" for d in icl)
    return f"{shots}Question: {question}\nAnswer: "


def cut_at_stop(text: str) -> str:
    """The answer up to the first blank line or next "Question" (MUSE's post-processing)."""
    for stop in STOP_STRINGS:
        text = text.split(stop)[0]
    return text


def knowmem(
    lm: LoadedModel, rows: Sequence[dict], icl: Sequence[dict] = (), config: MuseConfig = MuseConfig()
) -> RougeResult:
    """knowmem(lm, [{question, answer}], icl=[...]) -> RougeResult of answers vs references."""
    rows = _limit(list(rows), config)
    if not rows:
        raise ValueError("No KnowMem rows")
    prompts = [knowmem_prompt(row["question"], icl) for row in rows]
    outputs = [cut_at_stop(o) for o in greedy_batch(lm, prompts, config.knowmem_max_new_tokens, config.batch_size)]
    scores = [rouge_l(row["answer"], output, config.rouge) for row, output in zip(rows, outputs)]
    return RougeResult(float(np.mean(scores)) * 100.0, tuple(scores), tuple(outputs))


def min_k_scores(lm: LoadedModel, texts: Sequence[str], config: MuseConfig = MuseConfig()) -> list[float]:
    """Min-K% score of each text under `lm`."""
    return [min_k_score(lp, config.k_percent) for lp in sequence_logprobs(lm, list(texts), config.batch_size)]


def privleak(
    lm: LoadedModel,
    forget_texts: Sequence[str],
    holdout_texts: Sequence[str],
    auc_retrained: float | None = None,
    config: MuseConfig = MuseConfig(),
) -> PrivLeakResult:
    """privleak(lm, forget, holdout, auc_retrained=None) -> PrivLeakResult (see module docstring)."""
    forget = min_k_scores(lm, _limit(list(forget_texts), config), config)
    holdout = min_k_scores(lm, _limit(list(holdout_texts), config), config)
    auc = membership_auc(forget, holdout)
    return PrivLeakResult(privleak_from_auc(auc, auc_retrained), auc, auc_retrained, tuple(forget), tuple(holdout))


def iter_muse_metrics(
    lm: LoadedModel, data: MuseData, config: MuseConfig = MuseConfig(), auc_retrained: float | None = None
) -> Iterator[tuple[str, dict[str, float]]]:
    """Yield (metric just computed, all metrics so far) for each metric the data allows."""
    out: dict[str, float] = {}
    steps = []
    if data.verbmem:
        steps.append(("VerbMem forget", lambda: verbmem(lm, data.verbmem, config).score))
    if data.knowmem_forget:
        steps.append(("KnowMem forget", lambda: knowmem(lm, data.knowmem_forget, data.knowmem_forget_icl, config).score))
    if data.knowmem_retain:
        steps.append(("KnowMem retain", lambda: knowmem(lm, data.knowmem_retain, data.knowmem_retain_icl, config).score))
    if data.privleak_forget and data.privleak_holdout:
        name = "PrivLeak" if auc_retrained is not None else "PrivLeak AUC"
        steps.append((name, lambda: privleak(lm, data.privleak_forget, data.privleak_holdout, auc_retrained, config).score))
    if not steps:
        raise ValueError("The MUSE data holds none of verbmem, knowmem or privleak forget+holdout")
    for name, compute in steps:
        out[name] = compute()
        yield name, dict(out)


def muse_metrics(
    lm: LoadedModel, data: MuseData, config: MuseConfig = MuseConfig(), auc_retrained: float | None = None
) -> dict[str, float]:
    """All MUSE metrics the data allows: {"VerbMem forget", "KnowMem forget", "KnowMem retain",
    "PrivLeak" (or "PrivLeak AUC" without a retrained AUC)}."""
    return drain(iter_muse_metrics(lm, data, config, auc_retrained))[1]
