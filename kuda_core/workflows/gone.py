"""Is it really gone? Every check on a visitor's edit at once, as a stream of partial reports (iter_checks),
or on a model unlearned in place, as one report (check_model).

    >>> for report in iter_checks(host, visitor, AttackConfig(), RelearnConfig()):
    ...     show(report.attack_table(), report.lens, report.relearn)
    >>> report.summary            # {"3-shot recovered": ..., "relearn recovery @30": ..., "lens median rank": ...}
    >>> report = check_model(lm, snapshot, data, layers, AttackConfig(), RelearnConfig())   # a model of one's own (CLI)
    >>> report.tables(data.forget), report.figures(data.forget), report.summary_text()   # {name: DataFrame / Figure}

Prompt attacks and the logit lens read the original (no edit) and the unlearned model; relearning
fine-tunes the edited projections and puts them back bit for bit. iter_checks also keeps the summary
in the run's metrics (replacing an earlier check's), so the Runs view can compare runs by it.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kuda_core.data.facts import Fact
from kuda_core.data.splits import DataSplit
from kuda_core.inspect.attacks.lens import LensResult, logit_lens
from kuda_core.inspect.attacks.prompts import AttackConfig, AttackRecord, iter_prompt_attacks
from kuda_core.inspect.attacks.relearn import RelearnConfig, RelearnRecord, iter_relearn, same_relation_facts
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.report.progress_plots import lens_heatmap, relearn_curve
from kuda_core.workflows.host import ModelHost
from kuda_core.workflows.visitor import Visitor

RELEARN_SKIPPED = ("Relearning was skipped: it trains on half of the forget facts and measures the other half (a "
                   "single fact: on facts of its relation), with unrelated retain facts for its control")
RELEARN_OFF = "Relearning was not asked for"
CHECK_KEYS = (" recovered", "relearn recovery @", "lens median rank")   # what a check puts in a run's metrics


@dataclass
class CheckReport:
    attacks: list[AttackRecord] = field(default_factory=list)
    lens: dict[str, LensResult] = field(default_factory=dict)    # "original" / "unlearned"
    relearn: list[RelearnRecord] = field(default_factory=list)
    edited: tuple[int, ...] = ()
    message: str = ""
    relearn_on: str = ""          # what relearning trained on: half of the forgotten facts, or facts of the relation
    relearn_note: str = ""        # why relearning did not run (RELEARN_SKIPPED, RELEARN_OFF), when it did not

    @property
    def summary(self) -> dict:
        out = {f"{a.name} recovered": a.recovered for a in self.attacks if a.name != "plain"}
        for record in self.relearn:
            if record.arm == "relearn":
                control = next((r for r in self.relearn if r.arm == "control" and r.step == record.step), None)
                if control is not None:
                    out[f"relearn recovery @{record.step}"] = record.held_acc - control.held_acc
        if "unlearned" in self.lens and self.edited:
            above = self.lens["unlearned"].ranks[:, max(self.edited) + 1:]
            if above.size:
                out["lens median rank (min over layers above the edit)"] = float(np.median(above, axis=0).min())
        return out

    def attack_table(self) -> pd.DataFrame:
        """One row per attack: prompts, answered and mean p(answer) originally and now, share recovered."""
        return pd.DataFrame([{"attack": a.name, "prompts": a.n, "original answered": round(a.original_acc, 3),
                              "unlearned answered": round(a.unlearned_acc, 3), "p original": round(a.original_p, 4),
                              "p unlearned": round(a.unlearned_p, 4),
                              "recovered": None if a.recovered != a.recovered else round(a.recovered, 3)}
                             for a in self.attacks], columns=ATTACK_COLUMNS)

    def lens_table(self, facts: Sequence[Fact]) -> pd.DataFrame:
        """One row per fact and layer: the answer's rank and p read there, original and unlearned."""
        rows = []
        for i, fact in enumerate(facts):
            for layer in range(self.lens["unlearned"].ranks.shape[1] if "unlearned" in self.lens else 0):
                row = {"fact": fact.prompt, "answer": fact.answer.strip(), "layer": layer}
                for which, lens in self.lens.items():
                    row[f"rank {which}"] = int(lens.ranks[i, layer])
                    row[f"p {which}"] = round(float(lens.probs[i, layer]), 6)
                rows.append(row)
        return pd.DataFrame(rows)

    def relearn_table(self) -> pd.DataFrame:
        """The relearning records: arm, step, held-out and trained accuracy (recovery on the last)."""
        return pd.DataFrame([vars(r) for r in self.relearn], columns=["arm", "step", "held_acc", "trained_acc",
                                                                      "recovery"])

    def tables(self, facts: Sequence[Fact]) -> dict[str, pd.DataFrame]:
        """"attacks", "lens", "relearn" (when it ran) and "checks_summary", as files and bundles hold them."""
        return {"attacks": self.attack_table(), "lens": self.lens_table(facts),
                **({"relearn": self.relearn_table()} if self.relearn else {}),
                "checks_summary": pd.DataFrame([{"check": k, "value": v} for k, v in self.summary.items()],
                                               columns=["check", "value"])}

    def figures(self, facts: Sequence[Fact]) -> dict:
        """"lens" (layers x facts heatmap of the unlearned model) and "relearn" (the curve), as far as measured."""
        out = {}
        if "unlearned" in self.lens:
            out["lens"] = lens_heatmap(self.lens["unlearned"].ranks, [f"{i}: {f.subject}" for i, f in enumerate(facts)],
                                       self.edited, "Logit lens after unlearning: the answer's rank after each layer")
        if self.relearn:
            out["relearn"] = relearn_curve([vars(r) for r in self.relearn], self.relearn_on)
        return out

    def summary_text(self) -> str:
        """The summary as people read it (ranks whole, shares as percentages) and what relearning trained on."""
        figures = "; ".join(f"{k}: {v:.0f}" if "rank" in k else f"{k}: {v:.0%}" for k, v in self.summary.items()
                            if v == v)
        sentences = [figures] if figures else []
        if self.attacks and all(a.recovered != a.recovered for a in self.attacks if a.name != "plain"):
            sentences.append("No fact is forgotten on its plain prompt, so no attack has anything to bring back")
        if self.relearn:
            sentences.append(f"Relearning trained on {self.relearn_on} (what came back, against the control)")
        elif self.relearn_note:
            sentences.append(self.relearn_note)
        return ". ".join(sentences)


ATTACK_COLUMNS = ["attack", "prompts", "original answered", "unlearned answered", "p original", "p unlearned",
                  "recovered"]


def attack_context(data: DataSplit) -> list[Fact]:
    """The facts the prompt attacks take their shots from: neighbours and retain facts (never forget facts)."""
    return [*data.neighbours, *data.retain_held, *data.retain_used]


def relearn_sets(forget: Sequence[Fact], data: DataSplit) -> tuple[list[Fact], list[Fact], str] | None:
    """(related facts for a single forgotten fact, control facts, what relearning trains on), or None when
    relearning cannot run (one fact without others of its relation, or too few unrelated control facts)."""
    related = same_relation_facts(forget[0], attack_context(data)) if len(forget) == 1 else []
    relations = {f.relation for f in forget if f.relation}
    control = [f for f in [*data.retain_held, *data.retain_used] if f.relation not in relations]   # unrelated facts
    trained = len(related) if len(forget) == 1 else len(forget) // 2
    if not trained or len(control) < trained:
        return None
    return related, control, (f"{len(related)} facts of the forgotten fact's relation" if related
                              else "half of the forgotten facts")


def _relearn_plan(report: CheckReport, forget: Sequence[Fact], data: DataSplit,
                  relearn: RelearnConfig | None) -> tuple[list[Fact], list[Fact]] | None:
    """(related facts, control facts) when relearning runs, with report.relearn_on set; else None, with
    report.relearn_note saying why (not asked for, or not possible on this data)."""
    sets = relearn_sets(forget, data) if relearn is not None else None
    if sets is None:
        report.relearn_note = RELEARN_OFF if relearn is None else RELEARN_SKIPPED
        return None
    related, control, report.relearn_on = sets
    return related, control


def iter_checks(host: ModelHost, visitor: Visitor, attack: AttackConfig = AttackConfig(),
                relearn: RelearnConfig | None = RelearnConfig()) -> Iterator[CheckReport]:
    """Partial reports after the prompt attacks, the logit lens and each relearning measurement (relearn None:
    none); the last one's summary replaces the run's figures of an earlier check."""
    if visitor.edit is None or visitor.run is None:
        raise ValueError("Nothing to check yet: run Forget first")
    run, edit, lm = visitor.run, visitor.edit, host.require()
    data = run.data
    forget = list(data.forget)
    report = CheckReport(edited=tuple(run.config.layers), message="prompt attacks")
    for record in host.steps(edit, iter_prompt_attacks(lm, edit.snapshot, forget, attack_context(data), attack)):
        report.attacks.append(record)
        yield report
    prompts, answers = [f.prompt for f in forget], [f.answer for f in forget]
    for which, applied in (("original", None), ("unlearned", edit)):
        with host.use(applied) as model:
            report.lens[which] = logit_lens(model, prompts, answers)
    report.message = "logit lens"
    yield report
    sets = _relearn_plan(report, forget, data, relearn)
    if sets is not None:
        related, control = sets
        scratch = edit.copy()     # the relearning's own weights between steps; the visitor's edit is untouched
        steps = iter_relearn(lm, forget, control, list(edit.values), relearn, related=related)
        for record in host.steps(scratch, steps, capture=True):
            report.relearn.append(record)
            report.message = f"relearning: {record.arm}, step {record.step}"
            yield report
    for key in [k for k in run.metrics if any(part in k for part in CHECK_KEYS)]:
        del run.metrics[key]                      # an earlier check's figures (other steps, relearning since skipped)
    run.metrics.update(report.summary)
    run.checked_with = (attack, relearn)
    report.message = "done"
    yield report


def check_model(lm: LoadedModel, snapshot: WeightSnapshot, data: DataSplit, layers: Sequence[int],
                attack: AttackConfig = AttackConfig(), relearn: RelearnConfig | None = RelearnConfig()) -> CheckReport:
    """Every check on a model unlearned in place (`snapshot` holds the original of the trained weights), as the
    CLI runs them; relearning (None: skipped) puts the unlearned weights back bit for bit."""
    forget = list(data.forget)
    report = CheckReport(edited=tuple(layers))
    report.attacks = list(iter_prompt_attacks(lm, snapshot, forget, attack_context(data), attack))
    prompts, answers = [f.prompt for f in forget], [f.answer for f in forget]
    with snapshot.original(lm.model):
        report.lens["original"] = logit_lens(lm, prompts, answers)
    report.lens["unlearned"] = logit_lens(lm, prompts, answers)
    sets = _relearn_plan(report, forget, data, relearn)
    if sets is not None:
        related, control = sets
        report.relearn = list(iter_relearn(lm, forget, control, list(snapshot.originals), relearn, related=related))
    report.message = "done"
    return report
