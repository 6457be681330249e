"""Is a generated answer still language? Perplexity under the original model plus repetition.

    >>> cfg = CoherenceConfig()                                # thresholds documented below
    >>> repetition_rate("Paris Paris Paris Paris")             # 2/3 (n=2: 3 bigrams, 1 distinct)
    >>> checks = check_coherence(lm, prompts, answers, snapshot=snap)   # [CoherenceCheck]
    >>> [c.coherent for c in checks]

An answer is coherent when all hold:
  * it has at least `min_words` words (an empty answer is not an answer);
  * its perplexity given the prompt, under the ORIGINAL weights (snapshot.original), is at most
    `max_perplexity`. The first answer token is left out (`skip_first`): it is the "what" of the
    answer, which unlearning is meant to change, so the original model finds any new answer
    surprising there; the rest measures whether the answer is still language. Answers of one
    token are scored on that token;
  * its repetition rate (share of word n-grams that repeat an earlier one) is at most
    `max_repetition`, which catches loops ("Paris. Paris. Paris.") a model may find likely.
Defaults measured on SmolLM2-135M-Instruct (skip_first, 20-token greedy answers): its own
answers 1.3-13 and repetition <= 0.12; fluent but wrong answers ("the city of the gods, and it
is a beautiful place to visit", "Steve Jobs and Steve Wozniak in 1976") 2-25; gradient-ascent
style output ("Sollitum Sollitum and the Sollit of") 65-135; word salad 1e3-1e8; loops 0.43-0.88.
A small model's own 20-token answers loop now and then ("Spanish.\n\nThe official language of
Mexico is Spanish.\n\n..."): on 34 held-out facts the default model's original answers were
coherent 85% of the time, so always read the unlearned rate against the original one.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from kuda_core.model.logprobs import continuation_logprobs
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot

WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class CoherenceConfig:
    max_perplexity: float = 50.0    # answer perplexity under the original model, given the prompt
    max_repetition: float = 0.3     # share of repeated word n-grams, in [0, 1]
    ngram: int = 2                  # n of the word n-grams for the repetition rate
    min_words: int = 1              # fewer words than this: not coherent
    skip_first: bool = True         # leave the first answer token out of the perplexity

    def __post_init__(self) -> None:
        if not self.max_perplexity > 1.0:
            raise ValueError(f"max_perplexity must be > 1, got {self.max_perplexity!r}")
        if not 0.0 <= self.max_repetition <= 1.0:
            raise ValueError(f"max_repetition must be in [0, 1], got {self.max_repetition!r}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {self.ngram!r}")
        if self.min_words < 0:
            raise ValueError(f"min_words must be >= 0, got {self.min_words!r}")


@dataclass(frozen=True)
class CoherenceCheck:
    answer: str
    perplexity: float   # under the original model, given the prompt (inf for an empty answer)
    repetition: float   # share of repeated word n-grams
    n_words: int
    coherent: bool


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore) of `text`."""
    return [w.lower() for w in WORD.findall(text)]


def repetition_rate(text: str, n: int = 2) -> float:
    """1 - distinct n-grams / n-grams over the words of `text`; 0.0 when there are no n-grams."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    tokens = words(text)
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def is_coherent(perplexity: float, repetition: float, n_words: int, config: CoherenceConfig) -> bool:
    """The rule stated in the module docstring, on already measured values."""
    return (
        n_words >= config.min_words
        and np.isfinite(perplexity)
        and perplexity <= config.max_perplexity
        and repetition <= config.max_repetition
    )


def check_coherence(
    lm: LoadedModel,
    prompts: Sequence[str],
    answers: Sequence[str],
    snapshot: WeightSnapshot | None = None,
    config: CoherenceConfig = CoherenceConfig(),
    batch_size: int = 16,
) -> list[CoherenceCheck]:
    """check_coherence(lm, prompts, answers, snapshot) -> [CoherenceCheck] in input order.

    Perplexities are measured with the snapshot's original weights swapped in (the current
    weights when snapshot is None, i.e. the model was never edited).
    """
    if len(prompts) != len(answers):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    scoring = [i for i, a in enumerate(answers) if a.strip()]
    with snapshot.original(lm.model) if snapshot is not None else nullcontext():
        logprobs = continuation_logprobs(lm, [prompts[i] for i in scoring], [answers[i] for i in scoring], batch_size)
    perplexities = [float("inf")] * len(answers)
    for i, lp in zip(scoring, logprobs):
        if config.skip_first and len(lp) > 1:
            lp = lp[1:]
        perplexities[i] = float(np.exp(-lp.mean())) if len(lp) else float("inf")
    checks = []
    for answer, ppl in zip(answers, perplexities):
        rep = repetition_rate(answer, config.ngram)
        n_words = len(words(answer))
        checks.append(CoherenceCheck(answer, ppl, rep, n_words, is_coherent(ppl, rep, n_words, config)))
    return checks
