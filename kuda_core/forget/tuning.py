"""Two-stage tuning of KUDA: first the stability boundary τ, then the forgetting strength β.

    >>> for progress in iter_tune(lm, forget, retain, texts, UnlearnConfig(), TuneConfig(), snapshot):
    ...     print(progress.message)
    >>> progress.table, progress.config          # last progress: rows (list of dict), chosen config
    >>> table, config = tune(lm, forget, retain, texts)   # the same, to the end; table is a DataFrame

Stage 1 runs the base config for every τ (strict to loose, β fixed) and keeps the loosest τ whose
retain accuracy drops by at most `tolerance` points. Stage 2 runs that τ for every β (upward) and
keeps the smallest β whose forget accuracy reaches `forget_target` (else the one forgetting most).
Cost: |τ grid| + |β grid| runs. Every run starts from the weights found at the call; at the end
the chosen run's weights are put in place. Closing the generator puts the starting weights back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import pandas as pd

from kuda_core.data.checks import check_facts
from kuda_core.forget.config import StepRecord, UnlearnConfig
from kuda_core.forget.loop import iter_unlearn
from kuda_core.forget.setup import trainable_names
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.streams import drain


@dataclass(frozen=True)
class TuneConfig:
    taus: tuple[float, ...] = (1e-3, 1e-2, 3e-2, 1e-1, 2e-1)   # null-space thresholds, strict -> loose
    betas: tuple[float, ...] = (3.0, 10.0, 30.0)               # forgetting temperatures, upward
    tolerance: float = 3.0              # allowed retain accuracy drop, percentage points
    forget_target: float = 0.1          # forget accuracy (share) that counts as forgotten
    stage1_beta: float | None = None    # β during stage 1; None = the base config's

    def __post_init__(self) -> None:
        object.__setattr__(self, "taus", tuple(sorted(float(t) for t in self.taus)))
        object.__setattr__(self, "betas", tuple(sorted(float(b) for b in self.betas)))
        if not self.taus or min(self.taus) < 0:
            raise ValueError(f"taus must be a non-empty list of values >= 0, got {self.taus}")
        if not self.betas or min(self.betas) <= 0:
            raise ValueError(f"betas must be a non-empty list of values > 0, got {self.betas}")
        if not 0 <= self.tolerance <= 100:
            raise ValueError(f"tolerance must be in [0, 100] points, got {self.tolerance}")
        if not 0 <= self.forget_target <= 1:
            raise ValueError(f"forget_target must be in [0, 1], got {self.forget_target}")
        if self.stage1_beta is not None and self.stage1_beta <= 0:
            raise ValueError(f"stage1_beta must be > 0, got {self.stage1_beta}")


@dataclass(frozen=True)
class TuneProgress:
    stage: int                          # 0 = baseline measurement, 1 = τ, 2 = β, 3 = done
    run: int                            # runs finished so far
    total_runs: int
    message: str
    record: StepRecord | None = None    # the inner run's step record, when one
    row: dict | None = None             # the table row a finished run added
    table: list[dict] = field(default_factory=list)   # rows so far
    config: UnlearnConfig | None = None               # the chosen config (last progress only)
    done: bool = False


def _accuracy(lm, facts) -> float:
    if not facts:
        return float("nan")
    checks = check_facts(lm, [f.prompt for f in facts], [f.answer for f in facts])
    return sum(c.top1_ok for c in checks) / len(checks)


def iter_tune(
    lm,
    forget_facts: Sequence,
    retain_facts: Sequence,
    general_texts: Sequence[str] = (),
    base: UnlearnConfig = UnlearnConfig(),
    tune_config: TuneConfig = TuneConfig(),
    snapshot: WeightSnapshot | None = None,
    eval_retain: Sequence | None = None,
) -> Iterator[TuneProgress]:
    """iter_tune(lm, forget, retain, texts, base, TuneConfig(), snapshot, eval_retain) -> TuneProgress...

    eval_retain: facts that measure the retain drop (held-out ones; default retain_facts).
    """
    if base.method != "kuda":
        raise ValueError(f"Two-stage tuning is for KUDA (τ, β), got method {base.method!r}")
    eval_retain = list(eval_retain if eval_retain is not None else retain_facts)
    names = [n + ".weight" for n in trainable_names(lm, base)]
    if snapshot is not None:
        snapshot.extend(lm.model, names)
    start = WeightSnapshot.take(lm.model, names)
    total = len(tune_config.taus) + len(tune_config.betas)
    table: list[dict] = []
    finished = False
    try:
        base_forget, base_retain = _accuracy(lm, forget_facts), _accuracy(lm, eval_retain)
        yield TuneProgress(0, 0, total, f"Before: forget accuracy {base_forget:.0%}, retain {base_retain:.0%}")
        stage1_beta = tune_config.stage1_beta or base.options.beta
        candidates = {}

        def one_run(stage: int, config: UnlearnConfig):
            start.restore(lm.model)
            label = f"Stage {stage}: tau={config.tau:g}, beta={config.options.beta:g}"
            last = None
            for record in iter_unlearn(lm, forget_facts, retain_facts, general_texts, config):
                last = record
                yield TuneProgress(stage, len(table), total, f"{label}: {record.message}", record=record, table=list(table))
            forget_acc, retain_acc = _accuracy(lm, forget_facts), _accuracy(lm, eval_retain)
            row = {
                "stage": stage, "tau": config.tau, "beta": config.options.beta, "forget_acc": forget_acc,
                "retain_acc": retain_acc, "retain_drop_points": 100 * (base_retain - retain_acc),
                "krd": last.krd if last else float("nan"), "seconds": last.elapsed_s if last else float("nan"),
                "status": last.status if last else "error", "chosen": False,
            }
            table.append(row)
            if stage == 2:   # only stage-2 runs can be chosen
                candidates[len(table) - 1] = WeightSnapshot.take(lm.model, names)
            yield TuneProgress(stage, len(table), total, f"{label}: forget {forget_acc:.0%}, retain {retain_acc:.0%}",
                               row=row, table=list(table))

        for tau in tune_config.taus:
            yield from one_run(1, base.replace(tau=tau, beta=stage1_beta))
        stable = [i for i, r in enumerate(table) if r["status"] == "done" and r["retain_drop_points"] <= tune_config.tolerance]
        tau = table[max(stable, key=lambda i: table[i]["tau"])]["tau"] if stable else min(tune_config.taus)
        first_beta = len(table)
        for beta in tune_config.betas:
            yield from one_run(2, base.replace(tau=tau, beta=beta))
            if table[-1]["status"] == "done" and table[-1]["forget_acc"] <= tune_config.forget_target:
                break
        stage2 = list(range(first_beta, len(table)))
        reached = [i for i in stage2 if table[i]["status"] == "done" and table[i]["forget_acc"] <= tune_config.forget_target]
        chosen = reached[0] if reached else min(stage2, key=lambda i: table[i]["forget_acc"])
        table[chosen]["chosen"] = True
        config = base.replace(tau=table[chosen]["tau"], beta=table[chosen]["beta"])
        candidates[chosen].restore(lm.model)
        finished = True
        note = "" if reached else f" (forget target {tune_config.forget_target:.0%} not reached)"
        if not stable:
            note += f" (no tau kept the retain drop within {tune_config.tolerance:g} points: strictest used)"
        yield TuneProgress(3, len(table), total, f"Chosen tau={config.tau:g}, beta={config.options.beta:g}{note}",
                           table=list(table), config=config, done=True)
    finally:
        if not finished:
            start.restore(lm.model)


def tune(lm, forget_facts, retain_facts, general_texts=(), base: UnlearnConfig = UnlearnConfig(),
         tune_config: TuneConfig = TuneConfig(), snapshot: WeightSnapshot | None = None,
         eval_retain=None) -> tuple[pd.DataFrame, UnlearnConfig]:
    """Run iter_tune to the end: (table as a DataFrame, chosen config); the model keeps the chosen weights."""
    last = drain(iter_tune(lm, forget_facts, retain_facts, general_texts, base, tune_config, snapshot, eval_retain))
    return pd.DataFrame(last.table), last.config
