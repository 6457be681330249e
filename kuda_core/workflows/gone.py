"""Is it really gone? Every check on a visitor's edit at once, as a stream of partial reports.

    >>> for report in iter_checks(host, visitor, AttackConfig(), RelearnConfig()):
    ...     show(report.attacks, report.lens, report.relearn)
    >>> report.summary            # {"3-shot recovered": ..., "relearn recovery @30": ..., "lens median rank": ...}

Prompt attacks and the logit lens read the original (no edit) and the visitor's model; relearning
fine-tunes the edited projections of the visitor's model and puts them back bit for bit. The
summary is also kept in the run's metrics, so the Runs view can compare runs by it.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from kuda_core.inspect.attacks.lens import LensResult, logit_lens
from kuda_core.inspect.attacks.prompts import AttackConfig, AttackRecord, iter_prompt_attacks
from kuda_core.inspect.attacks.relearn import RelearnConfig, RelearnRecord, iter_relearn, same_relation_facts
from kuda_core.workflows.host import ModelHost
from kuda_core.workflows.visitor import Visitor


@dataclass
class CheckReport:
    attacks: list[AttackRecord] = field(default_factory=list)
    lens: dict[str, LensResult] = field(default_factory=dict)    # "original" / "unlearned"
    relearn: list[RelearnRecord] = field(default_factory=list)
    edited: tuple[int, ...] = ()
    message: str = ""
    relearn_on: str = ""          # what relearning trained on: half of the forgotten facts, or facts of the relation

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


def iter_checks(host: ModelHost, visitor: Visitor, attack: AttackConfig = AttackConfig(),
                relearn: RelearnConfig = RelearnConfig()) -> Iterator[CheckReport]:
    """Partial reports after the prompt attacks, the logit lens and each relearning measurement."""
    if visitor.edit is None or visitor.run is None:
        raise ValueError("Nothing to check yet: run Forget first")
    run, edit, lm = visitor.run, visitor.edit, host.require()
    data = run.data
    forget = list(data.forget)
    report = CheckReport(edited=tuple(run.config.layers), message="prompt attacks")
    context = [*data.neighbours, *data.retain_held, *data.retain_used]
    for record in host.steps(edit, iter_prompt_attacks(lm, edit.snapshot, forget, context, attack)):
        report.attacks.append(record)
        yield report
    prompts, answers = [f.prompt for f in forget], [f.answer for f in forget]
    for which, applied in (("original", None), ("unlearned", edit)):
        with host.use(applied) as model:
            report.lens[which] = logit_lens(model, prompts, answers)
    report.message = "logit lens"
    yield report
    related = same_relation_facts(forget[0], context) if len(forget) == 1 else []
    relations = {f.relation for f in forget if f.relation}
    control = [f for f in [*data.retain_held, *data.retain_used] if f.relation not in relations]   # unrelated facts
    trained = len(related) if len(forget) == 1 else len(forget) // 2
    if trained and len(control) >= trained:
        report.relearn_on = (f"{len(related)} facts of the forgotten fact's relation" if related
                             else "half of the forgotten facts")
        scratch = edit.copy()     # the relearning's own weights between steps; the visitor's edit is untouched
        steps = iter_relearn(lm, forget, control, list(edit.values), relearn, related=related)
        for record in host.steps(scratch, steps, capture=True):
            report.relearn.append(record)
            report.message = f"relearning: {record.arm}, step {record.step}"
            yield report
    else:
        report.message = ("relearning needs two forget facts, or a forgotten fact with others of its relation, and "
                          "unrelated retain facts for its control: skipped")
    run.metrics.update(report.summary)
    report.message = "done"
    yield report
