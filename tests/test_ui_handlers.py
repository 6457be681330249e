"""The UI's handlers on a tiny model served by the app's host: forms read by name, per-visitor state."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from kuda_core.forget.methods import METHODS, REGISTRY
from kuda_core.workflows.visitor import Visitor
from tests.ui_setup import TYPED, form_data, forget_form, no_progress, served  # noqa: F401


def test_two_visitors_do_not_see_each_other(served, forget_form):
    from ui import model_tab

    form, (run_clicked, _, reset_clicked, _) = forget_form
    a, b = Visitor(), Visitor()
    prompt = "The capital of Japan is"
    before = model_tab.generate_clicked(prompt, 3, b)[2]
    for _ in run_clicked(form_data(form, a, **TYPED, layers=[1, 2], steps=5, lr=0.05), progress=no_progress):
        pass
    assert a.is_edited(served) and not b.is_edited(served)
    from ui.runs_tab import chosen_number
    assert chosen_number(0, None, a) == (1, 1) == (a.run.number,) * 2                  # the Runs tab's number box
    assert chosen_number(None, None, b) == (None, None)
    assert "original weights" in model_tab.model_info(b) and "your edit" in model_tab.model_info(a)
    assert model_tab.generate_clicked(prompt, 3, b)[2].equals(before)          # B still sees the original
    assert not model_tab.generate_clicked(prompt, 3, a)[2].equals(before)      # A sees their edit
    reset_clicked(b)                                                           # B's Reset leaves A's edit alone
    assert a.is_edited(served)


def test_every_method_offers_exactly_its_own_options(forget_form):
    form, _ = forget_form
    by_method: dict[str, set] = {m: set() for m in METHODS}
    for name in form.widgets:
        if "." in name:
            method, option = name.split(".", 1)
            by_method[method].add(option)
    for method in METHODS:
        assert by_method[method] == set(REGISTRY[method].option_names), method
    assert "retain_kl" in by_method["kuda"] and all("retain_kl" not in by_method[m] for m in METHODS if m != "kuda")


def test_choosing_a_method_fills_the_shared_settings_with_its_defaults():
    from kuda_core.forget.config import UnlearnConfig
    from ui.forget_tab import method_changed

    for method in METHODS:
        config = UnlearnConfig.create(method)
        _, steps, lr, tau, tau_mode, train_inputs, augment, copies, stall, rank, tuning, *groups = method_changed(method)
        assert (steps, lr, tau, tau_mode, stall) == (config.steps, config.lr, config.tau or 0.0, config.tau_mode,
                                                     config.stall_boost), method
        assert rank == config.answer_rank == 1, method
        assert (train_inputs, augment, copies) == (config.train_inputs, list(config.augment), config.augment_copies), method
        assert [g["visible"] for g in groups] == [m == method for m in METHODS]
        assert tuning["visible"] == (method == "kuda")


def test_tuning_from_the_forget_tab_applies_the_chosen_settings(served, forget_form):
    form, (_, tune_clicked, reset_clicked, _) = forget_form
    visitor = Visitor()
    data = form_data(form, visitor, **TYPED, layers=[1, 2], steps=2, lr=1e-2, tau=0.01, tau_mode="relative", tune_taus="0.001 0.1",
                     tune_betas="3, 10", tune_tolerance=3.0)
    cleared = {**data, form["tune_tolerance"]: None}                      # a number box emptied in the browser
    with pytest.raises(gr.Error, match="Give the allowed retain accuracy drop"):
        list(tune_clicked(cleared, progress=no_progress))
    table, message, status = list(tune_clicked(data, progress=no_progress))[-1]
    assert len(table) >= 3 and set(table["stage"]) == {1, 2} and "Applied: tuned: tau" in message and "your edit" in status
    chosen = visitor.run.config
    assert chosen.tau in (0.001, 0.1) and chosen.options.beta in (3.0, 10.0)
    reset_clicked(visitor)
    assert not visitor.is_edited(served)


def test_locate_rescores_the_last_trace_without_tracing_again(served):
    from ui import locate_tab
    from ui.session import HOST

    with gr.Blocks():
        visitor_widget = gr.State(Visitor())
        built = locate_tab.build(visitor_widget)
    form = built["form"]
    _, _, rescore, _ = locate_tab.make_handlers(form)
    visitor = Visitor()
    grid = np.zeros((4, 4))
    grid[1, 1:3] = [0.4, 0.3]
    grid[2, 3] = 0.05
    scored = {"effects": [grid], "ranges": [(1, 3)], "note": "  \naveraged over 1 fact", "state": visitor.state(HOST)}
    data = form_data(form, visitor, scored=scored, token="strongest", size=2, exclude0=True)
    _, text, selector = rescore(data)
    assert "Suggested layers: 1, 2" in text and text.endswith("averaged over 1 fact") and selector["value"] == [1, 2]
    _, text, selector = rescore(form_data(form, visitor, scored=scored, token="last", size=2, exclude0=True))
    assert "Suggested layers: 2, 3" in text and "strongest subject token would suggest layers 1, 2" in text
    assert all(u == {"__type__": "update"} for u in rescore(form_data(form, visitor, scored=None)))
    stale = dict(scored, state=(HOST.version - 1, None, 0))   # the model changed since that trace
    assert all(u == {"__type__": "update"} for u in rescore(form_data(form, visitor, scored=stale)))
    assert built["layers"] is not None


def test_locate_estimate_says_what_is_out_of_range(served):
    from ui import locate_tab

    with gr.Blocks():
        form = locate_tab.build(gr.State(Visitor()))["form"]
    estimate = locate_tab.make_handlers(form)[0]
    fact = dict(prompt="The Eiffel Tower is located in the city of", subject="Eiffel Tower", kinds=["mlp"])
    assert estimate(form_data(form, Visitor(), **fact, samples=2)).startswith("Estimated run time")
    message = estimate(form_data(form, Visitor(), **fact, samples=2, noise=-5))
    assert message.startswith("Not traceable yet") and "Noise must be positive" in message
    lower = dict(fact, subject="eiffel tower")        # found ignoring capitals: the estimate says which span
    assert "matched as 'Eiffel Tower' (capitals ignored)" in estimate(form_data(form, Visitor(), **lower, samples=2))
    assert estimate(form_data(form, Visitor(), **dict(fact, prompt="  "), samples=2)) == "To trace, give a prompt."
    assert (estimate(form_data(form, Visitor(), **dict(fact, subject="", kinds=[]), samples=2))
            == "To trace, give its subject and at least one kind.")


def test_a_long_forget_run_asks_before_it_starts(served, forget_form):
    """After a timed run, a run estimated over three minutes waits for a second click; a short one starts."""
    from ui.session import FORGET_ESTIMATOR, model_key

    form, (run_clicked, _, _, _) = forget_form
    visitor = Visitor()
    outputs = list(run_clicked(form_data(form, visitor, **TYPED, layers=[1], steps=3, lr=1e-2), progress=no_progress))
    assert "after 3 steps" in outputs[-1][3]                              # no estimate before the first timed run
    assert outputs[0][3].startswith("Preparing: checking which forget facts the model answers (2 facts)")
    assert "No time estimate yet: no Forget run has been timed on this machine" in outputs[0][3]
    model = model_key()
    assert FORGET_ESTIMATOR.estimate(model, visitor.run.config, visitor.run.data) > 0
    FORGET_ESTIMATOR.per_step[(model, "kuda")] = 10.0                     # as if this machine took 10 s a step
    FORGET_ESTIMATOR.steps_taken[(model, "kuda")] = [40]                  # and its runs stopped after 40 steps
    long = form_data(form, visitor, **TYPED, layers=[1], steps=50, lr=1e-2)
    asked = list(run_clicked(long, progress=no_progress))
    assert len(asked) == 1 and "estimated at about" in asked[-1][3] and "Click again" in asked[-1][3]
    assert visitor.run.config.steps == 3                                   # nothing ran
    FORGET_ESTIMATOR.per_step[(model, "kuda")] = 1e-3                     # the second click starts it anyway
    started = list(run_clicked(long, progress=no_progress))
    assert "edited layers (1) for the null-space" in started[0][3] and "estimated at about" in started[0][3]
    from ui.forget_messages import preparing_message                      # runs here stop earlier than the cap
    assert ("Estimated at about 60 s, as runs here stopped once forgotten; 120 s at most (the 50-step cap)."
            in preparing_message(visitor.run, 60.0, 120.0))
    assert visitor.run.config.steps == 50 and "Done." in started[-1][3]


def test_the_forget_form_describes_the_augmentation_it_shows():
    from ui.forget_values import unlearn_config

    values = {"method": "kuda", "layers": [3, 1], "steps": 40, "lr": 2e-3, "eval_every": 0, "tau": 0, "tau_mode": "relative",
              "gamma": 0.0, "train_inputs": False, "augment": ["prefix", "question"], "augment_copies": 3, "stall_boost": 2,
              "answer_rank": 10, "read_on": 0,
              "until_forgotten": True, "kuda.beta": 10.0}
    config = unlearn_config(values)
    assert (config.layers, config.steps, config.tau, config.stop_at) == ((1, 3), 40, None, 0.0)
    assert (config.augment, config.augment_copies, config.options.beta) == (("prefix", "question"), 3, 10.0)
    assert (config.stall_boost, config.answer_rank, config.read_on) == (2.0, 10, 0)
    with pytest.raises(ValueError, match="read_on"):
        unlearn_config({**values, "read_on": None})
    with pytest.raises(ValueError, match="augment_copies"):
        unlearn_config({**values, "augment_copies": 0})


def test_compare_without_a_run_says_so_and_compares_free_text(served):
    """On its defaults (the facts' sets ticked) Compare tells a visitor without a run what to do, in the summary,
    instead of failing; with free text it compares that and says the sets were left out."""
    from ui import compare_tab

    visitor, sets = Visitor(), ["forget facts", "neighbours (held out)", "other facts (held out)"]
    told = list(compare_tab.compare_clicked(sets, "", 8, 4, visitor, progress=no_progress))
    assert len(told) == 1 and "no Forget run of yours" in told[0][2] and told[0][0].empty
    shown = list(compare_tab.compare_clicked(sets, "The capital of Japan is", 8, 4, visitor, progress=no_progress))
    summary, table = shown[-1][2], shown[-1][0].data
    assert "only the free-text prompts are compared" in summary and "Done. At most 8 prompts per set" in summary
    assert list(table["set"]) == ["free text"] and table["original"][0] == table["unlearned"][0]


def test_a_trace_timed_on_a_busy_moment_is_timed_again_before_asking(served):
    """A calibration made while the machine was busy (here: far too slow) would ask for a second click; the
    model is timed again first, and the trace starts at once."""
    from ui import locate_tab
    from ui.confirm import CONFIRM_ABOVE_S
    from ui.session import ESTIMATOR, HOST

    with gr.Blocks():
        form = locate_tab.build(gr.State(Visitor()))["form"]
    _, trace_clicked, _, _ = locate_tab.make_handlers(form)
    visitor, lm = Visitor(), HOST.require()
    values = dict(prompt="The capital of Japan is", subject="Japan", answer="", kinds=["mlp"], samples=2, window=2)
    fair = ESTIMATOR.estimate(lm, values["prompt"], "Japan", ["mlp"], 2)
    ESTIMATOR._token_seconds[id(lm.model)] *= 10 * CONFIRM_ABOVE_S / fair          # ten times the confirm limit
    assert ESTIMATOR.estimate(lm, values["prompt"], "Japan", ["mlp"], 2) > CONFIRM_ABOVE_S
    outputs = list(trace_clicked(form_data(form, visitor, **values), progress=no_progress))
    assert "Click again" not in outputs[0][3] and "Done in" in outputs[-1][3]
    assert ESTIMATOR.estimate(lm, values["prompt"], "Japan", ["mlp"], 2) < CONFIRM_ABOVE_S


def test_a_long_trace_asks_without_clearing_the_last_one_and_an_absurd_one_is_refused(served, monkeypatch):
    """The walk's 300-fold prompt: offered as a 19410522 s trace "Click again ...", with the last trace's
    heatmaps cleared under the question. The question now leaves every output as it was; past the limit the
    trace is refused, in hours, and the live estimate says so."""
    from ui import confirm, locate_tab
    from ui.session import ESTIMATOR

    with gr.Blocks():
        form = locate_tab.build(gr.State(Visitor()))["form"]
    estimate_changed, trace_clicked, _, _ = locate_tab.make_handlers(form)
    monkeypatch.setattr(locate_tab, "calibrate", lambda: None)        # the timing stays as set below
    values = dict(prompt="The capital of Japan is", subject="Japan", answer="", kinds=["mlp"], samples=2, window=2)
    for seconds, asked in ((2 * confirm.CONFIRM_ABOVE_S, True), (19_410_522, False)):
        monkeypatch.setattr(ESTIMATOR, "estimate", lambda *args, s=seconds: s)
        if asked:
            outputs = list(trace_clicked(form_data(form, Visitor(), **values), progress=no_progress))
            assert len(outputs) == 1 and "Click again" in outputs[0][3] and "(6.0 min)" in outputs[0][3]
            assert all(o == {"__type__": "update"} for i, o in enumerate(outputs[0]) if i != 3)   # all kept
        else:
            with pytest.raises(gr.Error, match="5392 h, longer than the 2 h"):
                list(trace_clicked(form_data(form, Visitor(), **values), progress=no_progress))
            assert "5392 h. That is over the 2 h limit" in estimate_changed(form_data(form, Visitor(), **values))


def test_a_trace_redraws_its_heatmaps_at_most_every_few_seconds(served, monkeypatch):
    """A long prompt has a row per token: redrawing every heatmap after every row froze the browser. Between
    redraws only the status line changes; each kind's last row is always drawn."""
    from kuda_core.locate.config import KINDS
    from ui import locate_tab

    with gr.Blocks():
        form = locate_tab.build(gr.State(Visitor()))["form"]
    _, trace_clicked, _, _ = locate_tab.make_handlers(form)
    monkeypatch.setattr(locate_tab, "REDRAW_EVERY_S", 1e9)
    values = dict(prompt="The capital of Japan is", subject="Japan", answer="", kinds=["mlp"], samples=2, window=2)
    live = list(trace_clicked(form_data(form, Visitor(), **values), progress=no_progress))[1:-1]
    mlp = KINDS.index("mlp")
    assert len(live) >= 4 and all("row" in output[len(KINDS)] for output in live)
    assert all(output[mlp] == {"__type__": "update"} for output in live[:-1])      # kept as drawn
    assert live[-1][mlp] is not None and live[-1][mlp] != {"__type__": "update"}   # the last row: drawn


def test_runs_number_box_follows_a_new_run_and_keeps_a_typed_one():
    """The walk's case: after a second run the box still said 1, and "Apply this run" re-applied run 1."""
    from types import SimpleNamespace

    from ui.runs_tab import chosen_number
    visitor = SimpleNamespace(runs=[SimpleNamespace(number=1)])
    assert chosen_number(None, None, visitor) == (1, 1)
    visitor.runs.append(SimpleNamespace(number=2))
    assert chosen_number(1, 1, visitor) == (2, 2)          # a run made since: the box moves to it
    assert chosen_number(1, 2, visitor) == (1, 2)          # the visitor typed 1 after that: kept
    assert chosen_number(7, 2, visitor) == (2, 2)          # no such run: the newest


def test_evaluate_says_how_far_it_is(served, forget_form):
    """The walk saw only "neighbour paraphrases (held out): probe accuracy (unlearned)" for a minute: no count."""
    from ui import evaluate_tab

    form, (run_clicked, *_) = forget_form
    visitor = Visitor()
    for _ in run_clicked(form_data(form, visitor, **TYPED, layers=[1, 2], steps=2, lr=0.05), progress=no_progress):
        pass
    shown = list(evaluate_tab.evaluate_clicked("", "", 0, "", 0, 0, 4, visitor, progress=no_progress))
    running = [output[3] for output in shown[:-1]]
    assert running and all(m.startswith("Evaluating, ") and "% done: " in m for m in running)
    assert shown[-1][3].startswith("Evaluated") and list(shown[-1][0].columns) == evaluate_tab.TABLE_COLUMNS
