"""Run-time estimates shown before long work starts, calibrated by the runs already done.

    >>> estimator = TraceTimeEstimator()
    >>> estimator.estimate(lm, prompt, subject, kinds=("mlp",), samples=10)   # seconds
    >>> estimator.record(estimated=12.0, actual=9.5)                           # calibrate
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from kuda_core.model.loading import LoadedModel
from kuda_core.model.tokens import subject_range


@dataclass
class TraceTimeEstimator:
    """Estimate = one corrupted forward pass x the work of the fast trace, times a learned factor."""

    factor: float = 1.0                                        # actual / estimated of past runs
    _forward_seconds: dict = field(default_factory=dict)       # (model id, T, samples) -> seconds

    def forward_seconds(self, lm: LoadedModel, n_tokens: int, samples: int) -> float:
        key = (id(lm.model), n_tokens, samples)
        if key not in self._forward_seconds:
            ids = torch.zeros((samples + 1, n_tokens), dtype=torch.long, device=lm.device)  # (1 + S, T)
            with torch.inference_mode():
                lm.model(input_ids=ids)  # warm-up
                started = time.perf_counter()
                lm.model(input_ids=ids)
            self._forward_seconds[key] = time.perf_counter() - started
        return self._forward_seconds[key]

    def estimate(self, lm: LoadedModel, prompt: str, subject: str, kinds, samples: int) -> float:
        """Seconds for tracing `kinds` on one prompt (subject / prompt errors raise as in tracing)."""
        n_tokens = len(lm.tokenizer(prompt, add_special_tokens=True)["input_ids"])
        start, _ = subject_range(lm.tokenizer, prompt, subject)
        forward = self.forward_seconds(lm, n_tokens, samples)
        # a cell (t, l) reruns positions >= t of about half the layers on average
        row_work = sum((n_tokens - t) / n_tokens for t in range(start, n_tokens))
        passes = 2 + row_work * lm.n_layers / 2
        return self.factor * forward * passes * len(tuple(kinds))

    def record(self, estimated: float, actual: float) -> None:
        """Move the factor towards the ratio just observed (ignores degenerate values)."""
        if estimated > 0 and actual > 0:
            self.factor *= (actual / estimated) ** 0.7
