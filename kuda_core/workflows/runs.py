"""One Forget run as a typed record, the generator that fills it, and its run.json.

    >>> run = RunRecord(choice, build_split(choice), UnlearnConfig.create("kuda", layers=(4, 5, 6)))
    >>> for step in iter_run(lm, run, snapshot): ...        # StepRecords; run.records fills up
    >>> run.status, run.last.forget_acc, run.description()
    >>> run_config_of(run, model="default", device="auto")  # RunConfig, the same run headless (and its checks)
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from kuda_core.data.checks import check_facts, names_answer
from kuda_core.data.splits import DataSplit
from kuda_core.forget.config import StepRecord, UnlearnConfig
from kuda_core.forget.loop import iter_unlearn
from kuda_core.forget.methods import get_method
from kuda_core.inspect.fluency import check_fluency
from kuda_core.model.generation import greedy_batch
from kuda_core.model import turns
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.run_config import AttacksSection, RunConfig
from kuda_core.workflows.data import DataChoice

RUN_STATUSES = ("new", "running", "done", "stopped", "error")


@dataclass
class RunRecord:
    choice: DataChoice                 # what the user picked
    data: DataSplit                    # the split the run used
    config: UnlearnConfig
    records: list[StepRecord] = field(default_factory=list)
    status: str = "new"                # see RUN_STATUSES
    seconds: float = 0.0               # wall time of the run
    note: str = ""                     # e.g. "tuned: tau 0.1, beta 10"
    metrics: dict = field(default_factory=dict)   # final measures, attack scores once measured
    number: int = 0                    # the visitor's run number (1, 2, ...)
    checked_with: tuple | None = None  # (AttackConfig, RelearnConfig) of the last "Is it really gone?" checks
    stop_requested: bool = False       # set by Stop: the preparation ends at its next turn (model.turns.Stopped)

    @property
    def last(self) -> StepRecord | None:
        return self.records[-1] if self.records else None

    @property
    def steps_done(self) -> int:
        return self.last.step if self.last is not None else 0

    def description(self) -> str:
        """One line: method, layers, data and how far it got."""
        method = get_method(self.config.method).title
        layers = ", ".join(map(str, self.config.layers))
        text = f"{method} on layers {layers}, {self.data.description}, step {self.steps_done}/{self.config.steps}"
        if self.status in ("stopped", "error"):
            text += f" ({self.status})"
        return text + (f"; {self.note}" if self.note else "")

    def step_rows(self) -> list[dict]:
        return [r.to_dict() for r in self.records]


def iter_run(lm: LoadedModel, run: RunRecord, snapshot: WeightSnapshot | None = None) -> Iterator[StepRecord]:
    """The step records of the run (iter_unlearn), kept in run.records; run.status says how it ended.

    Closing the generator early (Stop) keeps the weights reached so far and marks the run "stopped", and so
    does run.stop_requested met while preparing (turns.Stopped: the records end there, no weight changed); a
    run the engine refuses or that fails (an exception) is marked "error".
    """
    started = time.perf_counter()
    run.status = "running"
    data = run.data
    steps = iter_unlearn(lm, data.forget, data.retain_used, data.texts_used, run.config, snapshot, data.neighbours)
    try:
        for record in steps:
            run.records.append(record)
            run.seconds = time.perf_counter() - started
            if record.status == "error":
                run.status = "error"              # stays so when the caller stops reading at this record
            yield record
        if run.status == "running":
            run.status = "done"
    except turns.Stopped:
        pass                                      # asked to stop while preparing: "stopped" below, no weight changed
    except Exception:
        run.status = "error"                      # refused or failed (e.g. nothing to forget), not stopped
        raise
    finally:
        steps.close()
        if run.status == "running":
            run.status = "stopped"


def final_measures(lm: LoadedModel, run: RunRecord, snapshot: WeightSnapshot | None) -> dict:
    """The run's end state: accuracies of the last record, and for the forget facts the model no longer
    answers (20 new tokens): the fluent share (inspect.fluency) and how many still say the answer further
    on ("still_said", with one such prompt and text as "still_said_example")."""
    last = run.last
    forget = list(run.data.forget)
    checks = check_facts(lm, [f.prompt for f in forget], [f.answer for f in forget])
    gone = [f for f, c in zip(forget, checks) if not c.top1_ok]
    answers = greedy_batch(lm, [f.prompt for f in gone], 20) if gone else []
    fluent = [c.fluent for c in check_fluency(lm, [f.prompt for f in gone], answers, snapshot)] if gone else []
    said = [f"{f.prompt}{text}" for f, text in zip(gone, answers) if names_answer(text, f.answer, f.prompt)]
    return {"forget": last.forget_acc if last else None, "paraphrase": last.paraphrase_acc if last else None,
            "neighbours": last.neighbour_acc if last else None, "retain": last.retain_acc if last else None,
            "fluent": sum(fluent) / len(fluent) if fluent else None, "forgotten": len(gone),
            "still_said": len(said), "still_said_example": said[0] if said else None,
            "steps": run.steps_done, "seconds": run.seconds}


def run_config_of(run: RunRecord, model: str, device: str = "auto") -> RunConfig:
    """The run configuration that repeats `run` headless, every setting spelled out (so a later change of
    the method's defaults does not change what an exported run does)."""
    config = run.config
    settings = {k: v for k, v in config.settings().items() if k != "layers"}
    return RunConfig.from_dict({
        "model": model, "device": device,
        "probes": {"holdout_fraction": run.choice.holdout_fraction, "seed": run.choice.seed},
        "locate": {"layers": list(config.layers)},
        "forget": {**run.choice.forget_section(), "method": config.method, **settings},
        "evaluate": {},
        **({"attacks": AttacksSection.of(*run.checked_with).model_dump(mode="json")} if run.checked_with else {}),
    })
