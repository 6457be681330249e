"""A configuration saved by the UI reproduces the same unlearning headless (python -m kuda_core)."""
from __future__ import annotations

import json

import torch

from kuda_core import cli
from kuda_core.report.bundle import load_bundle
from kuda_core.model.tiny import tiny_model

FACTS = "The Eiffel Tower is located in the city of | Eiffel Tower | Paris\nThe capital of Japan is | Japan | Tokyo"


TYPED_FACTS_FORM = ["typed rows", [], [], FACTS, None, "", "built-in probes", "", None, "", "train", 0.25]


def _no_progress(*args, **kwargs):
    return None


def _session_on_tiny(family: str, folder):
    """Save a tiny model to `folder` and load it into the app's session as a user would; returns it."""
    from ui.session import HOLDER

    lm = tiny_model(family)
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    HOLDER.load(str(folder), device="cpu")
    return lm


def test_cli_reproduces_the_ui_run(tmp_path):
    from ui import export_tab, forget_tab
    from ui.session import HOLDER

    lm = _session_on_tiny("llama", tmp_path / "tiny")
    settings = ["kuda", [1, 2], 4, 1e-2, 10.0, 1.0, 0.01, "relative", 0.0, "softplus", 1.0, False, 0.0, 2]
    for _ in forget_tab.run_clicked(*TYPED_FACTS_FORM, *settings, progress=_no_progress):
        pass
    assert HOLDER.is_edited()
    edited = {n: p.detach().clone() for n, p in HOLDER.lm.model.named_parameters()}

    saved, _ = export_tab.save_config_clicked()
    config = json.loads(open(saved).read())
    assert config["forget"]["facts"][0]["subject"] == "Eiffel Tower"
    config["export"] = {"path": str(tmp_path / "bundle")}
    config["evaluate"] = {"drift": False}
    (tmp_path / "run.json").write_text(json.dumps(config))
    assert cli.main(["run", "--config", str(tmp_path / "run.json"), "--quiet"]) == 0

    replayed = dict(load_bundle(tmp_path / "bundle", device="cpu").lm.model.named_parameters())
    trained = [n for n in edited if "down_proj" in n and n.split(".")[2] in ("1", "2")]
    assert len(trained) == 2
    assert all(not torch.equal(edited[n], lm.model.get_parameter(n)) for n in trained)  # the run did edit
    for name, value in edited.items():
        assert torch.allclose(replayed[name], value, atol=1e-6), name
    HOLDER.reset()
    assert not HOLDER.is_edited()


def test_tuning_from_the_forget_tab_applies_the_chosen_settings(tmp_path):
    from ui import forget_tab
    from ui.session import HOLDER

    _session_on_tiny("gpt2", tmp_path / "tiny-gpt2")
    settings = ["kuda", [1, 2], 2, 1e-2, 10.0, 1.0, 0.01, "relative", 0.0, "softplus", 1.0, False, 0.0, 0]
    outputs = list(forget_tab.tune_clicked(*TYPED_FACTS_FORM, *settings, "0.001 0.1", "3, 10", 3.0, progress=_no_progress))
    table, message, status = outputs[-1]
    assert len(table) >= 3 and set(table["stage"]) == {1, 2} and "Applied: tau" in message and "EDITED" in status
    chosen = HOLDER.last_run["config"]
    assert chosen.tau in (0.001, 0.1) and chosen.beta in (3.0, 10.0)
    HOLDER.reset()
    assert not HOLDER.is_edited()
