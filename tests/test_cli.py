"""The run configuration schema and the headless CLI, end to end on a tiny model saved to disk."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kuda_core.report.bundle import load_bundle, save_model
from kuda_core.cli import main
from kuda_core.model.generation import top_next_tokens
from kuda_core.run_config import RunConfig
from kuda_core.model.tiny import tiny_model

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = {
    "model": "default",
    "device": "cpu",
    "online": False,
    "probes": {"path": None, "general_texts": None, "holdout_fraction": 0.25, "seed": 0},
    "trace": {"kinds": ["mlp", "hidden"], "limit": 4, "samples": 3, "window": 2},
    "locate": {"layers": None, "window": 3, "exclude_layer0": True},
    "forget": {"topics": ["capitals"], "method": "kuda", "steps": 5, "beta": 10.0, "tau": 0.01, "tau_mode": "relative"},
    "evaluate": {"batch_size": 32, "max_new_tokens": 20, "top_k": 5, "answer_sets": None,
                 "drift": True,
                 "mc": [{"source": "wmdp-bio", "limit": 100}],
                 "muse": {"source": "news", "auc_retrained": 0.4772, "k_percent": 40.0}},
    "attacks": {"shots": 2, "question_examples": 1, "seed": 0, "relearn_steps": [5], "relearn_lr": 0.001},
    "export": {"path": "runs/capitals", "overwrite": False, "figures": True},
}


def test_config_round_trip(tmp_path):
    cfg = RunConfig.from_dict(EXAMPLE)
    assert cfg.forget.topics == ("capitals",) and cfg.trace.kinds == ("mlp", "hidden")
    assert cfg.forget.unlearn_config((4, 5)).layers == (4, 5)
    assert cfg.trace.trace_config().samples == 3
    assert cfg.attacks.attack_config().shots == 2 and cfg.attacks.relearn_config().steps == (5,)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert RunConfig.load(cfg.save(tmp_path / "run.json")) == cfg
    assert RunConfig.from_dict({}) == RunConfig()


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, "colour"),
    ({"forget": {"topics": ["x"], "speed": 3}}, "speed"),
    ({"forget": {"topics": ["x"], "layers": [1]}}, "locate.layers"),
    ({"forget": {"topics": []}}, "topics"),
    ({"forget": {"topics": ["x"], "lr": -1}}, "lr"),
    ({"trace": {"kinds": ["embedding"]}}, "trace.kinds"),
    ({"trace": {"samples": 0}}, "samples"),
    ({"locate": {"window": 0}}, "window"),
    ({"locate": {"token": "first"}}, "locate.token"),
    ({"evaluate": {"coherence": {"max_ppl": 3}}}, "coherence"),
    ({"evaluate": {"mc": [{"limit": 3}]}}, "source"),
    ({"evaluate": {"muse": {"source": "news", "rouge": "bleu"}}}, "rouge"),
    ({"export": {"path": ""}}, "export.path"),
    ({"online": "yes"}, "online"),
    ({"probes": {"holdout_fraction": 1.0}}, "holdout_fraction"),
    ({"forget": {"topics": ["x"]}, "attacks": {"shots": 0}}, "shots must be in 1..10"),
    ({"forget": {"topics": ["x"]}, "attacks": {"relearn_steps": [0]}}, "relearn_steps"),
    ({"forget": {"topics": ["x"]}, "attacks": {"relearn_lr": 2}}, "relearn_lr"),
    ({"attacks": {}}, "attacks need a 'forget' section"),
])
def test_config_errors_name_the_problem(change, message):
    with pytest.raises(ValueError, match=message):
        RunConfig.from_dict(change)


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    """A tiny Llama saved as a model folder, and probes whose answers it predicts (so they trace)."""
    root = tmp_path_factory.mktemp("cli")
    lm = tiny_model("llama")
    save_model(lm, root / "model")
    rows = [json.loads(line) for line in (FIXTURES / "probes_sample.jsonl").read_text().splitlines()]
    for row in rows:
        row["answer"] = top_next_tokens(lm, row["prompt"], 1)[0][0]
        if not row["answer"].strip():
            row["answer"] = " x"
    (root / "probes.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def write_config(root: Path, **sections) -> Path:
    data = {"model": str(root / "model"), "device": "cpu",
            "probes": {"path": str(root / "probes.jsonl"),
                       "general_texts": str(FIXTURES / "general_texts_sample.jsonl"), "holdout_fraction": 0.34},
            **sections}
    path = root / "run.json"
    path.write_text(json.dumps(data))
    return path


def test_locate_traces_and_suggests_a_window(tiny_setup, capsys):
    config = write_config(tiny_setup, trace={"kinds": ["mlp"], "limit": 2, "samples": 2, "window": 2},
                          forget={"topics": ["capitals"]})
    out = tiny_setup / "out-locate"
    assert main(["locate", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    layers = json.loads((out / "locate.json").read_text())["layers"]
    assert len(layers) == 3 and 0 not in layers
    trace = json.loads((out / "trace.json").read_text())
    assert trace["kinds"] == ["mlp"] and any(v is not None for row in trace["effects"]["mlp"] for v in row)
    assert "suggested" in capsys.readouterr().out


def test_locate_can_score_at_the_strongest_subject_token(tiny_setup, capsys):
    config = write_config(tiny_setup, trace={"kinds": ["mlp"], "limit": 2, "samples": 2, "window": 2},
                          locate={"token": "strongest"}, forget={"topics": ["capitals"]})
    out = tiny_setup / "out-locate-strongest"
    assert main(["locate", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    assert "at the strongest subject token" in capsys.readouterr().out
    layers = json.loads((out / "locate.json").read_text())["layers"]
    trace = json.loads((out / "trace.json").read_text())
    assert trace["kinds"] == ["mlp"] and len(layers) == 3


def test_export_runs_every_stage(tiny_setup):
    bundle = tiny_setup / "bundle"
    config = write_config(
        tiny_setup,
        locate={"layers": [1, 2]},
        forget={"topics": ["capitals"], "steps": 3, "lr": 0.05, "eval_every": 0},
        evaluate={"max_new_tokens": 3, "mc": [{"source": str(FIXTURES / "wmdp_sample.jsonl"), "limit": 3}],
                  "muse": {"source": str(FIXTURES / "muse"), "verbmem_max_new_tokens": 3,
                           "knowmem_max_new_tokens": 3, "auc_retrained": 0.5}},
        export={"path": str(bundle)},
    )
    assert main(["export", "--config", str(config), "--quiet"]) == 0
    loaded = load_bundle(bundle, device="cpu")
    assert loaded.config["forget"]["topics"] == ["capitals"]
    metrics = set(loaded.metrics["metric"])
    assert {"top-1 accuracy", "perplexity", "accuracy", "VerbMem forget", "PrivLeak", "KRD (selected layers)"} <= metrics
    assert {"answers", "steps", "drift"} <= set(loaded.tables)
    assert {"training", "drift", "pca", "evaluation"} <= {p.stem for p in (bundle / "figures").glob("*.html")}
    original = tiny_model("llama").model
    name = "model.layers.1.mlp.down_proj.weight"
    assert not torch.equal(dict(loaded.lm.model.named_parameters())[name], dict(original.named_parameters())[name])


def test_attacks_command_checks_the_unlearned_model_and_puts_it_back(tiny_setup, capsys):
    """`kuda attacks`: prompt attacks, logit lens and relearning on the unlearned model, as files; relearning leaves
    the unlearned weights bit for bit as it found them; `run` with an "attacks" section puts them in the bundle."""
    from kuda_core.cli import Pipeline, attacks_stage, load_stage, locate_stage, unlearn_stage
    from kuda_core.model.snapshot import state_dict_hash

    forget = {"topics": ["capitals"], "steps": 20, "lr": 0.05, "stop_at": None, "tau": None}
    config = write_config(tiny_setup, locate={"layers": [1, 2]}, forget=forget, attacks={"relearn_steps": [2, 4]})
    out = tiny_setup / "out-attacks"
    assert main(["attacks", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "is it really gone? 3-shot recovered" in printed and "relearn recovery @4" in printed
    attacks = (out / "attacks.csv").read_text().splitlines()
    assert attacks[0].startswith("attack,prompts,original answered") and attacks[1].startswith("plain,")
    assert any(row.startswith("3-shot,") for row in attacks) and any(row.startswith("question, 2 examples") or
                                                                    row.startswith('"question, 2 examples"')
                                                                    for row in attacks)
    lens = (out / "lens.csv").read_text().splitlines()
    assert lens[0] == "fact,answer,layer,rank original,p original,rank unlearned,p unlearned"
    relearn = [row.split(",")[0] for row in (out / "relearn.csv").read_text().splitlines()[1:]]
    assert relearn == ["before", "relearn", "relearn", "control", "control"]
    summary = json.loads((out / "attacks.json").read_text())["summary"]
    assert {"3-shot recovered", "relearn recovery @4"} <= set(summary)
    assert (out / "checks_summary.csv").read_text().startswith("check,value\n")

    pipeline = Pipeline(RunConfig.load(config), quiet=True)
    for stage in (load_stage, locate_stage, unlearn_stage):
        stage(pipeline)
    unlearned = state_dict_hash(pipeline.lm.model)
    attacks_stage(pipeline)
    assert state_dict_hash(pipeline.lm.model) == unlearned                 # relearning put the weights back
    assert {"attacks", "lens", "relearn", "checks_summary"} <= set(pipeline.tables)

    bundle = tiny_setup / "bundle-attacks"
    config = write_config(tiny_setup, locate={"layers": [1, 2]}, forget=forget, attacks={"relearn_steps": []},
                          export={"path": str(bundle)})
    assert main(["export", "--config", str(config), "--quiet"]) == 0      # export runs the checks too
    assert "Relearning was not asked for" in capsys.readouterr().out
    loaded = load_bundle(bundle, device="cpu")
    assert {"attacks", "lens", "checks_summary"} <= set(loaded.tables) and "relearn" not in loaded.tables
    assert "lens" in {p.stem for p in (bundle / "figures").glob("*.html")}


def test_bad_input_exits_with_status_2(tiny_setup, capsys):
    config = write_config(tiny_setup, locate={"layers": [1]}, forget={"topics": ["no such topic"]})
    assert main(["unlearn", "--config", str(config), "--quiet"]) == 2
    assert "no such topic" in capsys.readouterr().err
    assert main(["export", "--config", str(write_config(tiny_setup)), "--quiet"]) == 2
    assert main(["trace", "--config", str(tiny_setup / "missing.json")]) == 2


def test_a_missing_benchmark_file_or_a_taken_bundle_folder_is_said_before_any_stage(tiny_setup, capsys, monkeypatch):
    """A reader's run.json with a relative benchmark path ran the trace, Forget and the checks (minutes) and then
    stopped on 'No such file'; a taken export folder likewise; a misspelled model printed a traceback (rc 1)."""
    import kuda_core.cli as cli

    ran = []
    monkeypatch.setattr(cli, "load_stage", lambda pipeline: ran.append("load"))
    forget = {"topics": ["capitals"], "steps": 2}
    config = write_config(tiny_setup, locate={"layers": [1]}, forget=forget,
                          evaluate={"mc": [{"source": str(tiny_setup / "no_such_benchmark.jsonl")}]})
    assert main(["run", "--config", str(config), "--quiet"]) == 2
    assert "no_such_benchmark.jsonl" in capsys.readouterr().err and ran == []
    taken = tiny_setup / "taken"
    taken.mkdir()
    config = write_config(tiny_setup, locate={"layers": [1]}, forget=forget, export={"path": str(taken)})
    assert main(["run", "--config", str(config), "--quiet"]) == 2
    assert '"overwrite": true' in capsys.readouterr().err and ran == []
    monkeypatch.undo()
    config = write_config(tiny_setup)
    data = json.loads(config.read_text())
    config.write_text(json.dumps({**data, "model": str(tiny_setup / "no-such-model")}))
    assert main(["trace", "--config", str(config), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
