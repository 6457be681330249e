"""The programmatic API's long actions, with stable named parameters (every one optional, UI defaults).

    >>> from gradio_client import Client
    >>> client = Client("http://127.0.0.1:7860/")
    >>> client.predict(prompt="The Eiffel Tower is located in the city of", subject="Eiffel Tower", api_name="/trace")
    >>> client.predict(facts="The Eiffel Tower is located in the city of | Eiffel Tower | Paris", api_name="/forget")
    >>> client.predict(api_name="/compare")

Hidden components carry the parameters (their values are the defaults); each call acts for the
calling client's own session (its Visitor), exactly like a browser visitor's clicks. The other
actions (/generate, /compare, /evaluate, /export, /reset, /stop, ...) are the tabs' own events.
"""
from __future__ import annotations

import json
import time

import gradio as gr

from kuda_core.data.rows import parse_rows_text
from kuda_core.forget.config import UnlearnConfig
from kuda_core.locate import suggest
from kuda_core.locate.config import KINDS, TraceConfig
from kuda_core.locate.suggest import DEFAULT_TOKEN
from kuda_core.workflows import jobs
from kuda_core.workflows.data import DataChoice, build_split
from kuda_core.workflows.runs import RunRecord
from ui.errors import user_errors
from ui.forget_messages import verdict
from ui.session import ESTIMATOR, HOST, OPTIONS, status_of
from ui.widgets import Number

DEFAULT_LAYERS = (4, 5, 6)


@user_errors
def api_trace(prompt: str, subject: str, answer: str, kinds: list, samples: float, window: float, token: str,
              size: float, visitor):
    """Trace one fact; returns (status text, suggested layers, per-kind score grids as JSON)."""
    kinds = [k for k in KINDS if k in (kinds or ["mlp"])]
    if not kinds:
        raise ValueError(f"kinds must name some of {list(KINDS)}")
    config = TraceConfig(samples=int(samples), window=int(window))
    try:
        estimated = ESTIMATOR.estimate(HOST.require(), prompt, subject, kinds, config.samples)   # no model pass
    except (ValueError, LookupError):
        estimated = 0.0               # bad input: the trace itself says what is wrong
    started, results = time.perf_counter(), {}
    for kind, partial in jobs.iter_trace_kinds(HOST, visitor, prompt, subject, answer or None, kinds, config):
        results[kind] = partial
    elapsed = time.perf_counter() - started
    ESTIMATOR.record(estimated, elapsed)      # ignores a missing estimate
    layers, weak = [], None
    if "mlp" in results:
        mlp = results["mlp"]
        scores = suggest.layer_scores([mlp.indirect_effect], [mlp.subject_range], token)
        layers = list(suggest.suggest_window(scores, int(size)).layers)
        weak = suggest.weak_trace_note(mlp.p_clean, mlp.p_corrupt)
    last = results[kinds[-1]]
    grids = {kind: {"tokens": list(r.tokens), "scores": r.scores.round(6).tolist()} for kind, r in results.items()}
    return (f"Traced {last.answer!r} in {elapsed:.1f} s (estimated {estimated:.0f} s): p clean {last.p_clean:.3f}, "
            f"p corrupted {last.p_corrupt:.3f}" + (f". {weak}" if weak else ""), layers,
            json.dumps(grids))


@user_errors
def api_forget(facts: str, topics: list, layers: list, method: str, settings: str, holdout: float, visitor):
    """Forget typed facts ("prompt | subject | answer" per line) or probe topics; returns (verdict, status, summary)."""
    if facts and facts.strip():
        choice = DataChoice.from_rows(parse_rows_text(facts, "API facts"), holdout_fraction=float(holdout))
    else:
        choice = DataChoice(topics=tuple(topics or ()), holdout_fraction=float(holdout))
    try:
        extra = json.loads(settings or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"settings must be a JSON object of setting names and values: {error.msg}") from None
    if not isinstance(extra, dict):
        raise ValueError("settings must be a JSON object of setting names and values")
    config = UnlearnConfig.create(method or "kuda", layers=tuple(int(x) for x in (layers or DEFAULT_LAYERS)), **extra)
    run = RunRecord(choice, build_split(choice), config)
    for record in jobs.iter_forget(HOST, visitor, run, OPTIONS.runs_dir):
        if record.status == "error":
            raise ValueError(record.message)
    return verdict(run), status_of(visitor), json.dumps({"run": run.number, **run.metrics,
                                                         "remaining": list(run.last.remaining)})


def build(visitor: gr.State) -> list:
    """Hidden parameter components and the /trace and /forget endpoints; returns their events (for /stop)."""
    with gr.Group(visible=False):
        prompt = gr.Textbox(value="The Eiffel Tower is located in the city of", label="prompt")
        subject = gr.Textbox(value="Eiffel Tower", label="subject")
        answer = gr.Textbox(value="", label="answer")
        kinds = gr.JSON(value=["mlp"], label="kinds")
        samples = Number(value=10, label="samples")
        window = Number(value=10, label="window")
        token = gr.Radio(["last", "strongest"], value=DEFAULT_TOKEN, label="token")
        size = Number(value=3, label="size")
        facts = gr.Textbox(value="", label="facts")
        topics = gr.JSON(value=[], label="topics")
        layers = gr.JSON(value=list(DEFAULT_LAYERS), label="layers")
        method = gr.Textbox(value="kuda", label="method")
        settings = gr.Textbox(value="{}", label="settings")
        holdout = Number(value=0.25, label="holdout")
        trace_out, layers_out, grids_out = gr.Textbox(), gr.JSON(), gr.Textbox()
        verdict_out, status_out, summary_out = gr.Textbox(), gr.Textbox(), gr.Textbox()
        trace_button, forget_button = gr.Button(), gr.Button()
    return [
        trace_button.click(api_trace, [prompt, subject, answer, kinds, samples, window, token, size, visitor],
                           [trace_out, layers_out, grids_out], api_name="trace"),
        forget_button.click(api_forget, [facts, topics, layers, method, settings, holdout, visitor],
                            [verdict_out, status_out, summary_out], api_name="forget"),
    ]
