"""Is an answer still fluent language that fits its prompt? A verdict validated against hand labels.

    >>> checks = check_fluency(lm, prompts, continuations, snapshot=snap)   # [FluencyCheck]
    >>> [c.fluent for c in checks], checks[0].score                         # verdict, P(fluent)
    >>> repetition_rate("Paris Paris Paris Paris")                          # 2/3

Four features, all read under the ORIGINAL weights (snapshot.original), so an unlearned model
cannot make its own output look likely:
  * fit: mean log p of the continuation given the prompt, minus the same given a neutral "\\n"
    (pointwise mutual information; an answer that could follow anything fits nothing);
  * mean log p of the continuation given the prompt (first token included);
  * word-bigram repetition rate (loops) and the share of distinct words (salad, number strings).
A logistic regression on these (weights below) gives P(fluent); fluent when P >= THRESHOLD.

Validation (bench/fit_fluency.py, tests/fixtures/fluency_labels.jsonl, rule in docs/fluency_rule.md):
363 continuations labelled by reading, 283 of them from unlearned models of every method. The
weights were fitted and the feature set and threshold chosen (5-fold cross-validation) on the
calibration half (177 rows) only; on the validation half (186 rows) the verdict agrees with the
labels on 83.3% and accepts 16.0% of the non-fluent continuations. On 160 forgotten answers of the
test-split runs, labelled blind by a second labeller after the first verdict was frozen
(fluency_labels_test_topics.jsonl): 84.4% and 13.0%. (The first verdict split "it's" into three
words, so one "it's a" twice counted as a loop; with contractions whole, refitted on the
calibration half, its cross-validated score rose from 0.855 to 0.872, and the verdict was
adopted on that: validation 82.3% / 17.0% and test topics 83.8% / 13.0% before.) Two labellers agree on 93% of 90 rows, so
the 90% / 10% targets are within a reader's reach but missed here: most accepted non-fluent
answers are category errors a likelihood cannot see ("The home country of Nintendo is a
game-playing platform ..."). Features tried on the calibration half that did not raise its
cross-validated agreement (85.6%): first-token and minimum log p, the first five tokens' fit, a
3-shot prefix of the same relation (is the answer of the right kind?), the instruct model's own
yes / no judgement, how many pieces the tokenizer cuts each word into, and a probe on the model's
hidden states (layers 4-30, mean over the continuation and its last token, PCA 32 + logistic;
best at layer 20 with the four features: 84.7% agreement, against 86.4% for the four features
alone in the same pooled 5-fold cross-validation).
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from kuda_core.model.loading import LoadedModel
from kuda_core.model.logprobs import continuation_logprobs
from kuda_core.model.snapshot import WeightSnapshot

NEUTRAL_PROMPT = "\n"
FEATURES = ("fit", "mean_logp", "repetition", "distinct")
# StandardScaler + LogisticRegression fitted by bench/fit_fluency.py on the calibration half
MEAN = (0.8265, -2.1375, 0.1409, 0.7414)
SCALE = (0.8621, 1.5332, 0.2369, 0.2408)
WEIGHTS = (1.4809, 1.1592, -1.8916, 0.3953)
INTERCEPT = -0.7691
THRESHOLD = 0.65
WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|\d+|[^\sA-Za-z\d]")   # "it's" is one word


def words(text: str) -> list[str]:
    """Words (contractions whole: "it's"), numbers and punctuation marks of `text`, in order."""
    return WORD.findall(text)


def repetition_rate(text: str, n: int = 2) -> float:
    """1 - distinct n-grams / n-grams over the words of `text`; 0.0 when there are no n-grams."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    tokens = words(text)
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def distinct_share(text: str) -> float:
    tokens = words(text)
    return len(set(tokens)) / len(tokens) if tokens else 0.0


@dataclass(frozen=True)
class FluencyCheck:
    text: str
    fluent: bool
    score: float                 # P(fluent) of the logistic verdict
    fit: float                   # mean log p given the prompt - given a neutral prompt
    mean_logp: float             # mean log p given the prompt (original weights)
    repetition: float
    distinct: float

    @property
    def perplexity(self) -> float:
        """exp(-mean log p) of the continuation given the prompt, under the original weights."""
        return math.exp(-self.mean_logp) if math.isfinite(self.mean_logp) else float("inf")


def score(features: Sequence[float]) -> float:
    """P(fluent) for (fit, mean_logp, repetition, distinct)."""
    z = INTERCEPT + sum(w * (x - m) / s for w, x, m, s in zip(WEIGHTS, features, MEAN, SCALE))
    return 1.0 / (1.0 + math.exp(-z))


def check_fluency(lm: LoadedModel, prompts: Sequence[str], continuations: Sequence[str],
                  snapshot: WeightSnapshot | None = None, batch_size: int = 16) -> list[FluencyCheck]:
    """check_fluency(lm, prompts, continuations, snapshot) -> [FluencyCheck] in input order.

    Log-probabilities are read with the snapshot's original weights swapped in (the current weights
    when snapshot is None: the model was never edited). An empty continuation is not fluent.
    """
    if len(prompts) != len(continuations):
        raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    scoring = [i for i, c in enumerate(continuations) if c.strip()]
    texts = [continuations[i] for i in scoring]
    with snapshot.original(lm.model) if snapshot is not None else nullcontext():
        given = continuation_logprobs(lm, [prompts[i] for i in scoring], texts, batch_size)
        neutral = continuation_logprobs(lm, [NEUTRAL_PROMPT] * len(texts), texts, batch_size)
    means = {i: (float(np.mean(a)), float(np.mean(b))) for i, a, b in zip(scoring, given, neutral) if len(a)}
    checks = []
    for i, text in enumerate(continuations):
        if i not in means:
            checks.append(FluencyCheck(text, False, 0.0, float("-inf"), float("-inf"), 0.0, 0.0))
            continue
        mean_logp, neutral_logp = means[i]
        features = (mean_logp - neutral_logp, mean_logp, repetition_rate(text), distinct_share(text))
        p = score(features)
        checks.append(FluencyCheck(text, p >= THRESHOLD, p, *features))
    return checks
