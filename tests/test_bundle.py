"""Run bundles: atomic export, and a reload that gives the same logits."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from transformers import AutoModelForCausalLM

from kuda_core.report import bundle as bundle_module
from kuda_core.report.bundle import export_bundle, load_bundle, safe_name
from kuda_core.report.plots import topk_bars

PROMPT = "The capital of France is"
CONFIG = {"model": "tiny", "forget": {"topics": ["capitals"], "steps": 3}, "export": {"path": "x"}}
METRICS = pd.DataFrame([{"set": "forget", "metric": "top-1 accuracy", "original": 1.0, "unlearned": 0.0, "change": -1.0}])


def logits(lm, prompt: str = PROMPT) -> torch.Tensor:
    ids = lm.tokenizer(prompt, return_tensors="pt")["input_ids"].to(lm.device)
    with torch.no_grad():
        return lm.model(ids).logits


def edit(lm) -> None:
    weight = dict(lm.model.named_parameters())[lm.spec.mlp_out.format(1) + ".weight"]
    with torch.no_grad():
        weight.add_(0.3 * torch.randn(weight.shape, generator=torch.Generator().manual_seed(0)))


def test_round_trip_gives_the_same_logits(tiny_lm, tmp_path):
    edit(tiny_lm)
    answers = pd.DataFrame([{"prompt": PROMPT, "original": " Paris", "unlearned": " a city", "coherent": True}])
    path = export_bundle(tmp_path / "run", tiny_lm, CONFIG, metrics=METRICS, tables={"answers": answers},
                         figures={"top k": topk_bars([(" Paris", 0.7), (" the", 0.1)])})
    assert path == (tmp_path / "run").resolve()
    for name in ("model/config.json", "model/model.safetensors", "run.json", "metrics.json", "metrics.csv",
                 "tables/answers.csv", "figures/top_k.html", "figures/plotly.min.js", "report.md"):
        assert (path / name).is_file(), name
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left behind
    loaded = load_bundle(path, device="cpu")
    assert torch.equal(logits(loaded.lm), logits(tiny_lm))
    assert loaded.config == CONFIG
    pd.testing.assert_frame_equal(loaded.metrics, METRICS)
    assert list(loaded.tables) == ["answers"]
    assert json.loads((path / "metrics.json").read_text())[0]["unlearned"] == 0.0
    report = (path / "report.md").read_text()
    assert "top-1 accuracy" in report and "a city" in report and "figures/top_k.html" in report
    plain = AutoModelForCausalLM.from_pretrained(path / "model")
    ids = tiny_lm.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(plain(ids).logits, logits(tiny_lm))


def test_existing_target_needs_overwrite(tiny_lm, tmp_path):
    first = export_bundle(tmp_path / "run", tiny_lm, {"n": 1})
    with pytest.raises(FileExistsError):
        export_bundle(tmp_path / "run", tiny_lm, {"n": 2})
    export_bundle(tmp_path / "run", tiny_lm, {"n": 2}, overwrite=True)
    assert json.loads((first / "run.json").read_text()) == {"n": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_failed_export_leaves_nothing(tiny_lm, tmp_path, monkeypatch):
    export_bundle(tmp_path / "run", tiny_lm, {"n": 1})

    def broken(lm, directory):
        raise OSError("disk full")

    monkeypatch.setattr(bundle_module, "save_model", broken)
    with pytest.raises(OSError, match="disk full"):
        export_bundle(tmp_path / "run", tiny_lm, {"n": 2}, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == {"n": 1}  # the old bundle is intact


def test_models_that_refuse_save_pretrained_are_rebuilt(tiny_lm, tmp_path):
    """A GGUF-loaded model carries a quantizer and refuses save_pretrained; the bundle rebuilds it."""
    edit(tiny_lm)
    tiny_lm.model.hf_quantizer = object()
    try:
        path = export_bundle(tmp_path / "run", tiny_lm, {})
    finally:
        del tiny_lm.model.hf_quantizer
    assert torch.equal(logits(load_bundle(path, device="cpu").lm), logits(tiny_lm))


def test_json_values_and_names(tiny_lm, tmp_path):
    import numpy as np

    path = export_bundle(tmp_path / "run", tiny_lm, {"x": np.float32(0.5), "nan": float("nan"), "t": torch.tensor([1, 2])})
    assert json.loads((path / "run.json").read_text()) == {"x": 0.5, "nan": None, "t": [1, 2]}
    with pytest.raises(TypeError):
        export_bundle(tmp_path / "bad", tiny_lm, {"x": object()})
    assert not (tmp_path / "bad").exists()
    assert safe_name("trace mlp/1") == "trace_mlp_1"
    with pytest.raises(ValueError):
        safe_name("///")
    with pytest.raises(FileNotFoundError):
        load_bundle(tmp_path / "nothing")
