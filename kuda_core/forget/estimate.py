"""How long a Forget run takes at most, said before it starts: learnt from this machine's runs.

    >>> estimator = ForgetTimeEstimator()
    >>> estimator.estimate(model_key, config, data)           # None until a run of this model has been timed
    >>> estimator.expected(model_key, config, data)           # the same, at the steps such runs took here
    >>> estimator.record(model_key, config, data, records, total_seconds)   # after every run

A run costs a fixed part (caching the retain rows' activations, the null space, the first and the
final measures), which grows with the rows it caches and measures, and a part per step (the
update, plus the cheap check every check_every steps). Both are read off the step records of the
runs already done (StepRecord.elapsed_s: step 0 comes after the preparation) and kept per model
and method (another method's pace stands in until a method has run). `estimate` is for the cap
(config.steps); forget-until-forgotten runs usually stop earlier, so `expected` counts the steps
such runs of the method took here (their mean, at most the cap). Estimates need no model pass.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from kuda_core.data.splits import DataSplit
from kuda_core.forget.config import UnlearnConfig


def data_rows(data: DataSplit) -> int:
    """Rows a run caches or measures (facts, their paraphrases, texts): what its fixed part grows with."""
    facts = [*data.forget, *data.neighbours, *data.retain_used, *data.retain_held]
    return len(facts) + sum(len(f.paraphrases) for f in facts) + len(data.texts_used) + len(data.texts_held)


@dataclass
class ForgetTimeEstimator:
    fixed_per_row: dict = field(default_factory=dict)    # model key -> seconds of fixed work per data row
    per_step: dict = field(default_factory=dict)         # (model key, method) -> seconds per step
    steps_taken: dict = field(default_factory=dict)      # (model key, method) -> [steps of each until-forgotten run]

    def estimate(self, model: Hashable, config: UnlearnConfig, data: DataSplit) -> float | None:
        """Seconds up to the step cap, or None when no run of this model has been timed yet."""
        paces = [s for (m, _), s in self.per_step.items() if m == model]
        if model not in self.fixed_per_row or not paces:
            return None
        return self.fixed_per_row[model] * data_rows(data) + self._pace(model, config.method) * config.steps

    def expected(self, model: Hashable, config: UnlearnConfig, data: DataSplit) -> float | None:
        """Seconds at the steps this method's until-forgotten runs took here (the cap when it runs every step or
        none has ended yet); None when no run of this model has been timed yet."""
        at_cap = self.estimate(model, config, data)
        taken = self.steps_taken.get((model, config.method))
        if at_cap is None or config.stop_at is None or not taken:
            return at_cap
        steps = min(float(np.mean(taken)), config.steps)
        return at_cap - self._pace(model, config.method) * (config.steps - steps)

    def _pace(self, model: Hashable, method: str) -> float:
        paces = [s for (m, _), s in self.per_step.items() if m == model]
        return self.per_step.get((model, method), float(np.median(paces)))

    def record(self, model: Hashable, config: UnlearnConfig, data: DataSplit, records: Sequence,
               total_seconds: float) -> None:
        """Learn from a finished run: `records` its StepRecords, `total_seconds` its wall time with the
        final measures. Runs without a timed step teach nothing."""
        trained = [r for r in records if r.step > 0 and r.status in ("running", "done")]
        if not trained or total_seconds <= 0:
            return
        pace = max(trained[-1].elapsed_s - records[0].elapsed_s, 0.0) / trained[-1].step
        fixed = max(total_seconds - pace * trained[-1].step, 0.0) / max(data_rows(data), 1)
        key = (model, config.method)
        if config.stop_at is not None and records[-1].status == "done":     # ended by itself, not by Stop
            self.steps_taken[key] = [*self.steps_taken.get(key, []), trained[-1].step][-20:]   # the latest 20
        self.per_step[key] = pace if key not in self.per_step else 0.5 * (self.per_step[key] + pace)
        old = self.fixed_per_row.get(model)
        self.fixed_per_row[model] = fixed if old is None else 0.5 * (old + fixed)
