"""How long a Forget run takes at most, said before it starts: learnt from this machine's runs.

    >>> estimator = ForgetTimeEstimator()
    >>> estimator.estimate(model_key, config, data)           # None until a run of this model has been timed
    >>> estimator.record(model_key, config, data, records, total_seconds)   # after every run

A run costs a fixed part (caching the retain rows' activations, the null space, the first and the
final measures), which grows with the rows it caches and measures, and a part per step (the
update, plus the cheap check every check_every steps). Both are read off the step records of the
runs already done (StepRecord.elapsed_s: step 0 comes after the preparation) and kept per model
and method (another method's pace stands in until a method has run). The estimate is for the cap
(config.steps); forget-until-forgotten runs usually stop earlier. Estimates need no model pass.
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

    def estimate(self, model: Hashable, config: UnlearnConfig, data: DataSplit) -> float | None:
        """Seconds up to the step cap, or None when no run of this model has been timed yet."""
        paces = [s for (m, _), s in self.per_step.items() if m == model]
        if model not in self.fixed_per_row or not paces:
            return None
        pace = self.per_step.get((model, config.method), float(np.median(paces)))
        return self.fixed_per_row[model] * data_rows(data) + pace * config.steps

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
        self.per_step[key] = pace if key not in self.per_step else 0.5 * (self.per_step[key] + pace)
        old = self.fixed_per_row.get(model)
        self.fixed_per_row[model] = fixed if old is None else 0.5 * (old + fixed)
