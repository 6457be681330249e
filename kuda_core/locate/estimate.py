"""Run-time estimates shown before long work starts: no forward pass, calibrated by the runs already done.

    >>> estimator = TraceTimeEstimator()
    >>> estimator.calibrate(lm)                                              # once per model (one small pass)
    >>> estimator.estimate(lm, prompt, subject, kinds=("mlp",), samples=10)  # seconds, tokenizer only
    >>> estimator.record(estimated=12.0, actual=9.5)                         # learn from a finished trace

Estimate = (seconds per token of one forward pass) x (1 + samples) x T x the forward passes the
fast trace does (2 + half the layers per token row at or after the subject), times a factor
that moves towards actual / estimated after every trace.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from kuda_core.model.loading import LoadedModel
from kuda_core.model.tokens import subject_range


@dataclass
class TraceTimeEstimator:
    factor: float = 1.0                                        # actual / estimated of past runs
    _token_seconds: dict = field(default_factory=dict)         # id(model) -> seconds per token of a forward pass

    def calibrate(self, lm: LoadedModel, rows: int = 32, tokens: int = 16, repeats: int = 3) -> float:
        """Time a (rows, tokens) forward pass, the size of a trace's batches (fastest of `repeats`, after a
        warm-up; logits at the last position only, as in tracing); returns seconds per token."""
        ids = torch.zeros((rows, tokens), dtype=torch.long, device=lm.device)  # (B, T)
        timings = []
        with torch.inference_mode():
            lm.model(input_ids=ids, logits_to_keep=1)
            for _ in range(repeats):
                started = time.perf_counter()
                lm.model(input_ids=ids, logits_to_keep=1)
                timings.append(time.perf_counter() - started)
        self._token_seconds[id(lm.model)] = min(timings) / (rows * tokens)
        return self._token_seconds[id(lm.model)]

    def estimate(self, lm: LoadedModel, prompt: str, subject: str, kinds, samples: int) -> float:
        """Seconds for tracing `kinds` on one prompt (subject / prompt errors raise as in tracing)."""
        if id(lm.model) not in self._token_seconds:
            raise LookupError("The estimator is not calibrated for this model yet")
        n_tokens = len(lm.tokenizer(prompt, add_special_tokens=True)["input_ids"])
        start, _ = subject_range(lm.tokenizer, prompt, subject)
        forward = self._token_seconds[id(lm.model)] * (samples + 1) * n_tokens
        # a cell (t, l) reruns positions >= t of about half the layers on average
        row_work = sum((n_tokens - t) / n_tokens for t in range(start, n_tokens))
        passes = 2 + row_work * lm.n_layers / 2
        return self.factor * forward * passes * len(tuple(kinds))

    def record(self, estimated: float, actual: float) -> None:
        """Move the factor towards the ratio just observed (ignores degenerate values)."""
        if estimated > 0 and actual > 0:
            self.factor *= (actual / estimated) ** 0.7
