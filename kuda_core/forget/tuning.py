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


# null-space thresholds to try, strict -> loose, for each meaning of tau (UnlearnConfig.tau_mode)
TAUS_BY_MODE = {"relative": (1e-3, 1e-2, 3e-2, 1e-1, 2e-1), "median": (1.0, 2.0, 4.0, 8.0, 16.0),
                "absolute": (1e-4, 1e-3, 1e-2, 1e-1, 1.0)}


@dataclass(frozen=True)
class TuneConfig:
    taus: tuple[float, ...] = ()        # null-space thresholds, strict -> loose; () = TAUS_BY_MODE of the run's tau_mode
    betas: tuple[float, ...] = (3.0, 10.0, 30.0)               # forgetting temperatures, upward
    tolerance: float = 3.0              # allowed retain accuracy drop, percentage points
    forget_target: float = 0.1          # forget accuracy (share) that counts as forgotten
    stage1_beta: float | None = None    # β during stage 1; None = the base config's

    def __post_init__(self) -> None:
        object.__setattr__(self, "taus", tuple(sorted(float(t) for t in self.taus)))
        object.__setattr__(self, "betas", tuple(sorted(float(b) for b in self.betas)))
        if self.taus and min(self.taus) < 0:
            raise ValueError(f"taus must be values >= 0, got {self.taus}")
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


@dataclass
class _Sweep:
    """The runs of one tuning call: each from the starting weights, rows in `table`, stage-2 weights kept."""

    lm: object
    data: tuple                     # (forget facts, retain facts, general texts)
    eval_retain: list
    names: list[str]
    start: WeightSnapshot
    total: int
    base_retain: float = 0.0
    table: list[dict] = field(default_factory=list)
    candidates: dict[int, WeightSnapshot] = field(default_factory=dict)

    def run(self, stage: int, config: UnlearnConfig) -> Iterator[TuneProgress]:
        """One unlearning run from the starting weights; its table row comes with the last progress."""
        self.start.restore(self.lm.model)
        label = f"Stage {stage}: tau={config.tau:g}, beta={config.options.beta:g}"
        last = None
        for last in iter_unlearn(self.lm, *self.data, config):
            yield TuneProgress(stage, len(self.table), self.total, f"{label}: {last.message}", record=last,
                               table=list(self.table))
        forget_acc, retain_acc = _accuracy(self.lm, self.data[0]), _accuracy(self.lm, self.eval_retain)
        row = {"stage": stage, "tau": config.tau, "beta": config.options.beta, "forget_acc": forget_acc,
               "retain_acc": retain_acc, "retain_drop_points": 100 * (self.base_retain - retain_acc),
               "krd": last.krd if last else float("nan"), "seconds": last.elapsed_s if last else float("nan"),
               "status": last.status if last else "error", "chosen": False}
        self.table.append(row)
        if stage == 2:   # only stage-2 runs can be chosen
            self.candidates[len(self.table) - 1] = WeightSnapshot.take(self.lm.model, self.names)
        yield TuneProgress(stage, len(self.table), self.total, f"{label}: forget {forget_acc:.0%}, retain {retain_acc:.0%}",
                           row=row, table=list(self.table))

    def ok(self, index: int, column: str, limit: float) -> bool:
        row = self.table[index]
        return row["status"] == "done" and row[column] <= limit


def iter_tune(
    lm,
    forget_facts: Sequence,
    retain_facts: Sequence,
    general_texts: Sequence[str] = (),
    base: UnlearnConfig = UnlearnConfig.create(),
    tune_config: TuneConfig = TuneConfig(),
    snapshot: WeightSnapshot | None = None,
    eval_retain: Sequence | None = None,
) -> Iterator[TuneProgress]:
    """iter_tune(lm, forget, retain, texts, base, TuneConfig(), snapshot, eval_retain) -> TuneProgress...

    eval_retain: facts that measure the retain drop (held-out ones; default retain_facts).
    """
    if base.method != "kuda":
        raise ValueError(f"Two-stage tuning is for KUDA (tau, beta), got method {base.method!r}")
    taus = tune_config.taus or TAUS_BY_MODE[base.tau_mode]
    names = [n + ".weight" for n in trainable_names(lm, base)]
    if snapshot is not None:
        snapshot.extend(lm.model, names)
    sweep = _Sweep(lm, (forget_facts, retain_facts, general_texts),
                   list(eval_retain if eval_retain is not None else retain_facts), names,
                   WeightSnapshot.take(lm.model, names), len(taus) + len(tune_config.betas))
    finished = False
    try:
        base_forget, sweep.base_retain = _accuracy(lm, forget_facts), _accuracy(lm, sweep.eval_retain)
        yield TuneProgress(0, 0, sweep.total, f"Before: forget accuracy {base_forget:.0%}, retain {sweep.base_retain:.0%}")
        for tau in taus:
            yield from sweep.run(1, base.replace(tau=tau, beta=tune_config.stage1_beta or base.options.beta))
        stable = [i for i in range(len(sweep.table)) if sweep.ok(i, "retain_drop_points", tune_config.tolerance)]
        tau = sweep.table[max(stable, key=lambda i: sweep.table[i]["tau"])]["tau"] if stable else min(taus)
        first_beta = len(sweep.table)
        for beta in tune_config.betas:
            yield from sweep.run(2, base.replace(tau=tau, beta=beta))
            if sweep.ok(-1, "forget_acc", tune_config.forget_target):
                break
        stage2 = list(range(first_beta, len(sweep.table)))
        reached = [i for i in stage2 if sweep.ok(i, "forget_acc", tune_config.forget_target)]
        chosen = reached[0] if reached else min(stage2, key=lambda i: sweep.table[i]["forget_acc"])
        sweep.table[chosen]["chosen"] = True
        config = base.replace(tau=sweep.table[chosen]["tau"], beta=sweep.table[chosen]["beta"])
        sweep.candidates[chosen].restore(lm.model)
        finished = True
        note = "" if reached else f" (forget target {tune_config.forget_target:.0%} not reached)"
        if not stable:
            note += f" (no tau kept the retain drop within {tune_config.tolerance:g} points: strictest used)"
        yield TuneProgress(3, len(sweep.table), sweep.total, f"Chosen tau={config.tau:g}, beta={config.options.beta:g}{note}",
                           table=list(sweep.table), config=config, done=True)
    finally:
        if not finished:
            sweep.start.restore(lm.model)


def tune(lm, forget_facts, retain_facts, general_texts=(), base: UnlearnConfig = UnlearnConfig.create(),
         tune_config: TuneConfig = TuneConfig(), snapshot: WeightSnapshot | None = None,
         eval_retain=None) -> tuple[pd.DataFrame, UnlearnConfig]:
    """Run iter_tune to the end: (table as a DataFrame, chosen config); the model keeps the chosen weights."""
    last = drain(iter_tune(lm, forget_facts, retain_facts, general_texts, base, tune_config, snapshot, eval_retain))
    return pd.DataFrame(last.table), last.config
