"""The UI's handlers on a tiny model served by the app's host: forms read by name, per-visitor state,
and a run saved from the UI that the CLI reproduces."""
from __future__ import annotations

import json

import gradio as gr
import numpy as np
import pytest
import torch

from kuda_core import cli
from kuda_core.forget.methods import METHODS, REGISTRY
from kuda_core.model.snapshot import state_dict_hash
from tests.conftest import taught_model
from kuda_core.report.bundle import load_bundle
from kuda_core.workflows.visitor import Visitor

FACTS = "The Eiffel Tower is located in the city of | Eiffel Tower | Paris.\nThe capital of Japan is | Japan | Tokyo."


def _no_progress(*args, **kwargs):
    return None


@pytest.fixture
def served(tmp_path):
    """A tiny Llama that knows the tiny corpus's facts (Forget has something to remove), saved to disk and served
    by the app's host, as app.py would serve a model folder."""
    from ui.session import HOST, calibrate

    lm = taught_model("llama")
    lm.model.save_pretrained(tmp_path / "tiny")
    lm.tokenizer.save_pretrained(tmp_path / "tiny")
    HOST.load(str(tmp_path / "tiny"), device="cpu")
    calibrate()
    return HOST


@pytest.fixture
def forget_form(served):
    """The Forget tab laid out for real; returns (data dict builder, handlers)."""
    from ui import forget_tab

    with gr.Blocks():
        visitor = gr.State(Visitor())
        layers = gr.CheckboxGroup([0, 1, 2, 3])
        form = forget_tab.build(visitor, layers)["form"]
    return form, forget_tab.make_handlers(form)


def form_data(form, visitor, **values) -> dict:
    """The dict gradio hands a handler: every widget's value (defaults, then `values`) plus the visitor."""
    data = {widget: getattr(widget, "value", None) for widget in form.widgets.values()}
    for name, value in values.items():
        data[form[name]] = value
    data[form["visitor"]] = visitor
    return data


RETAIN = ("The capital of France is | France | Paris\nBig Ben is in the city of | Big Ben | London\n"
          "The official language of Brazil is | Brazil | Portuguese\nWater boils at one hundred degrees.")
TYPED = dict(forget_source="typed rows", forget_typed=FACTS, retain_source="typed rows", retain_typed=RETAIN)


def test_cli_reproduces_the_ui_run(served, forget_form, tmp_path, monkeypatch):
    from ui import export_tab, session

    form, (run_clicked, _, reset_clicked, _) = forget_form
    visitor = Visitor()
    base = state_dict_hash(served.lm.model)
    data = form_data(form, visitor, **TYPED, layers=[1, 2], steps=4, lr=1e-2, tau=0.01, tau_mode="relative", eval_every=2,
                     **{"kuda.lam": 1.0})
    outputs = list(run_clicked(data, progress=_no_progress))
    assert "your edit" in outputs[-1][-1] and visitor.is_edited(served)
    final = outputs[-1][3]
    assert final.count(f"after {visitor.run.last.step} step") == 1 and final.count("Done.") == 1
    assert ("Still answered: " in final) == bool(visitor.run.last.remaining)
    assert state_dict_hash(served.lm.model) == base          # the shared model is back to the base between jobs
    _check_the_verdict_warns_of_an_answer_said_later(visitor.run)
    with served.use(visitor.edit) as lm:
        edited = {n: p.detach().clone() for n, p in lm.model.named_parameters()}

    from ui import checks_tab                              # Is it really gone?, then the bundle holds its tables
    *_, (attacks, _, _, message) = checks_tab.checks_clicked(3, 2, "2", visitor, progress=_no_progress)
    assert message.startswith("Done.") and list(attacks["attack"])[:2] == ["plain", "3-shot"]
    monkeypatch.setattr(session.OPTIONS, "runs_dir", tmp_path / "runs")
    written = export_tab.export_clicked("checked", False, visitor, progress=_no_progress)
    ui_bundle = load_bundle(tmp_path / "runs" / "checked", device="cpu")
    assert "- figures/lens.html" in written and "- tables/attacks.csv" in written
    for column in ("attack", "unlearned answered", "p unlearned"):
        assert list(ui_bundle.tables["attacks"][column]) == list(attacks[column])
    assert {"lens", "relearn"} <= set(ui_bundle.tables)

    saved, said = export_tab.save_config_clicked(visitor)
    assert said.startswith('Saved, with the settings of your "Is it really gone?" checks.')
    config = json.loads(open(saved).read())
    assert config["forget"]["facts"][0]["subject"] == "Eiffel Tower" and config["forget"]["lam"] == 1.0
    assert {"text": "Water boils at one hundred degrees."} in config["forget"]["retain_facts"]
    assert config["attacks"]["relearn_steps"] == [2] and config["attacks"]["shots"] == 3    # the checks too
    config["export"] = {"path": str(tmp_path / "bundle")}
    config["evaluate"] = {"drift": False}
    (tmp_path / "run.json").write_text(json.dumps(config))
    assert cli.main(["run", "--config", str(tmp_path / "run.json"), "--quiet"]) == 0

    bundle = load_bundle(tmp_path / "bundle", device="cpu")
    assert list(bundle.tables["attacks"]["unlearned answered"]) == list(attacks["unlearned answered"])
    replayed = dict(bundle.lm.model.named_parameters())
    trained = [n for n in edited if "down_proj" in n and n.split(".")[2] in ("1", "2")]
    assert len(trained) == 2
    original = dict(served.lm.model.named_parameters())
    assert all(not torch.equal(edited[n], original[n]) for n in trained)   # the run did edit
    for name, value in edited.items():
        assert torch.allclose(replayed[name], value, atol=1e-6), name
    reset_clicked(visitor)
    assert not visitor.is_edited(served)


def _check_the_verdict_warns_of_an_answer_said_later(run):
    from ui.forget_messages import verdict

    m = run.metrics
    assert 0 <= m["still_said"] <= m["forgotten"] and (m["still_said_example"] is None) == (m["still_said"] == 0)
    said = dict(m, forgotten=2, still_said=1, still_said_example="The Eiffel Tower is in the city of\nBerlin. No, Paris")
    run.metrics = said
    assert '1 of the 2 forgotten facts still says the answer further on**, e.g. "The Eiffel Tower is in the city ' \
           'of Berlin. No, Paris"' in verdict(run)
    run.metrics = dict(m, still_said=0, still_said_example=None)
    assert "further on" not in verdict(run)
    run.metrics = m


def test_two_visitors_do_not_see_each_other(served, forget_form):
    from ui import model_tab

    form, (run_clicked, _, reset_clicked, _) = forget_form
    a, b = Visitor(), Visitor()
    prompt = "The capital of Japan is"
    before = model_tab.generate_clicked(prompt, 3, b)[2]
    for _ in run_clicked(form_data(form, a, **TYPED, layers=[1, 2], steps=5, lr=0.05), progress=_no_progress):
        pass
    assert a.is_edited(served) and not b.is_edited(served)
    from ui.runs_tab import chosen_number
    assert chosen_number(0, a) == a.run.number == 1 and chosen_number(None, b) is None   # the Runs tab's number box
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
    table, message, status = list(tune_clicked(data, progress=_no_progress))[-1]
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


def test_a_long_forget_run_asks_before_it_starts(served, forget_form):
    """After a timed run, a run estimated over three minutes waits for a second click; a short one starts."""
    from ui.session import FORGET_ESTIMATOR, model_key

    form, (run_clicked, _, _, _) = forget_form
    visitor = Visitor()
    outputs = list(run_clicked(form_data(form, visitor, **TYPED, layers=[1], steps=3, lr=1e-2), progress=_no_progress))
    assert "after 3 steps" in outputs[-1][3]                              # no estimate before the first timed run
    assert outputs[0][3].startswith("Preparing: checking which forget facts the model answers (2 facts)") and "estimated" not in outputs[0][3]
    model = model_key()
    assert FORGET_ESTIMATOR.estimate(model, visitor.run.config, visitor.run.data) > 0
    FORGET_ESTIMATOR.per_step[(model, "kuda")] = 10.0                     # as if this machine took 10 s a step
    long = form_data(form, visitor, **TYPED, layers=[1], steps=50, lr=1e-2)
    asked = list(run_clicked(long, progress=_no_progress))
    assert len(asked) == 1 and "estimated at about" in asked[-1][3] and "Click again" in asked[-1][3]
    assert visitor.run.config.steps == 3                                   # nothing ran
    FORGET_ESTIMATOR.per_step[(model, "kuda")] = 1e-3                     # the second click starts it anyway
    started = list(run_clicked(long, progress=_no_progress))
    assert "edited layers (1) for the null-space" in started[0][3] and "estimated at about" in started[0][3]
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
    told = list(compare_tab.compare_clicked(sets, "", 8, 4, visitor, progress=_no_progress))
    assert len(told) == 1 and "no Forget run of yours" in told[0][2] and told[0][0].empty
    shown = list(compare_tab.compare_clicked(sets, "The capital of Japan is", 8, 4, visitor, progress=_no_progress))
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
    outputs = list(trace_clicked(form_data(form, visitor, **values), progress=_no_progress))
    assert "Click again" not in outputs[0][3] and "Done in" in outputs[-1][3]
    assert ESTIMATOR.estimate(lm, values["prompt"], "Japan", ["mlp"], 2) < CONFIRM_ABOVE_S
