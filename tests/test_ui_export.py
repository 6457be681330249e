"""A run made in the UI, checked (Is it really gone?), exported and saved as run.json, which the CLI repeats."""
from __future__ import annotations

import json

import torch

from kuda_core import cli
from kuda_core.model.snapshot import state_dict_hash
from kuda_core.report.bundle import load_bundle
from kuda_core.workflows.visitor import Visitor
from tests.ui_setup import TYPED, form_data, forget_form, no_progress, served  # noqa: F401


def test_cli_reproduces_the_ui_run(served, forget_form, tmp_path, monkeypatch):
    from ui import export_tab, session

    form, (run_clicked, _, reset_clicked, _) = forget_form
    visitor = Visitor()
    base = state_dict_hash(served.lm.model)
    data = form_data(form, visitor, **TYPED, layers=[1, 2], steps=4, lr=1e-2, tau=0.01, tau_mode="relative", eval_every=2,
                     **{"kuda.lam": 1.0})
    outputs = list(run_clicked(data, progress=no_progress))
    assert "your edit" in outputs[-1][-1] and visitor.is_edited(served)
    final = outputs[-1][3]
    assert final.count(f"after {visitor.run.last.step} step") == 1 and final.count("Done.") == 1
    assert ("Still answered: " in final) == bool(visitor.run.last.remaining)
    assert state_dict_hash(served.lm.model) == base          # the shared model is back to the base between jobs
    _check_the_verdict_warns_of_an_answer_said_later(visitor.run)
    with served.use(visitor.edit) as lm:
        edited = {n: p.detach().clone() for n, p in lm.model.named_parameters()}

    from ui import checks_tab                              # Is it really gone?, then the bundle holds its tables
    *_, (attacks, _, _, message) = checks_tab.checks_clicked(3, 2, "2", visitor, progress=no_progress)
    assert message.startswith("Done.") and list(attacks["attack"])[:2] == ["plain", "3-shot"]
    monkeypatch.setattr(session.OPTIONS, "runs_dir", tmp_path / "runs")
    written = export_tab.export_clicked("checked", False, visitor, progress=no_progress)
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


def test_a_bundle_says_when_its_run_was_checked_on_another_model(served, forget_form, tmp_path, monkeypatch):
    """Run 1 is checked, run 2 is checked, run 1 is applied again: the kept checks are run 2's, so run 1's
    bundle leaves the tables out and says why, although its run.json still carries the checks' settings."""
    from ui import checks_tab, export_tab, session

    form, (run_clicked, *_) = forget_form
    visitor = Visitor()
    for _ in range(2):
        data = form_data(form, visitor, **TYPED, layers=[1, 2], steps=2, lr=1e-2, tau=0.01, tau_mode="relative")
        list(run_clicked(data, progress=no_progress))
        *_, (_, _, _, message) = checks_tab.checks_clicked(3, 2, "", visitor, progress=no_progress)
        assert message.startswith("Done.") and "Relearning was not asked for" in message   # empty field: none
    visitor.apply_run(1, served)
    assert visitor.run.checked_with is not None
    monkeypatch.setattr(session.OPTIONS, "runs_dir", tmp_path / "runs")
    written = export_tab.export_clicked("run-1", False, visitor, progress=no_progress)
    assert "tables/attacks.csv" not in written and "their tables are left out" in written
    bundle = tmp_path / "runs" / "run-1"
    assert "attacks" in json.loads((bundle / "run.json").read_text())
    assert "your model changed after they ran" in (bundle / "report.md").read_text()
    visitor.reset()                                           # no run in effect: the bundle says whose weights
    written = export_tab.export_clicked("original", False, visitor, progress=no_progress)
    assert "the bundle holds the original model's weights" in written and "their tables" not in written
