"""The app's process-wide pieces: the one shared model (host) and the start options.

    >>> HOST.load("default")                 # at start (app.py); visitors never replace it
    >>> visitor_state()                      # a gr.State holding one Visitor per browser session

Everything a visitor makes lives in their own Visitor (kuda_core.workflows.visitor), kept in a
gr.State: nothing one visitor does changes what another sees.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from kuda_core.forget.estimate import ForgetTimeEstimator
from kuda_core.locate.estimate import TraceTimeEstimator
from kuda_core.workflows.host import ModelHost
from kuda_core.workflows.visitor import Visitor

HOST = ModelHost()
ESTIMATOR = TraceTimeEstimator()   # calibrated by every trace on this machine (no per-visitor data)
FORGET_ESTIMATOR = ForgetTimeEstimator()   # learnt from every Forget run on this machine (no per-visitor data)


@dataclass
class AppOptions:
    allow_model_loading: bool = False    # visitors may replace the model for everyone (administrator's choice)
    load_options: dict = field(default_factory=dict)   # allow_pickle / trust_remote_code from the command line
    runs_dir: Path = Path("runs")        # the app's own folder: bundles, saved configurations, older runs' edits


OPTIONS = AppOptions()


def visitor_state() -> gr.State:
    """One Visitor per browser session (gradio copies the initial value for each session); when the
    session ends its older runs' edits on disk are removed."""
    return gr.State(Visitor(), delete_callback=lambda visitor: visitor.close(), time_to_live=6 * 3600)


def calibrate() -> None:
    """Time the served model once, so estimates need no forward pass (call after every model change)."""
    with HOST.use() as lm:
        ESTIMATOR.calibrate(lm)


def status_of(visitor: Visitor) -> str:
    return visitor.status(HOST)


def busy_note(watch) -> str:
    """A sentence for a job about to start while other visitors' jobs run (HOST.sharing()), else ""."""
    if not watch.others_now:
        return ""
    jobs = "another visitor's job" if watch.others_now == 1 else f"{watch.others_now} other jobs"
    return f" The model is busy with {jobs} now: jobs take turns, so this one takes longer than estimated."


def shared_note(watch) -> str:
    """A sentence for a finished job that shared the model (its time is not this machine's pace), else ""."""
    return " The model was shared with other visitors' jobs meanwhile (turns), hence the longer time." \
        if watch.shared() else ""


def model_key() -> tuple:
    """The served model, as the machine-wide estimators key it (a replaced model starts afresh)."""
    return HOST.version, id(HOST.require().model)
