"""The unlearning loop on tiny models taught a few facts (fast), and one run on the default model (slow)."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest
import torch

from kuda_core.model.hooks import hook_count
from kuda_core.data.checks import check_facts
from kuda_core.data.facts import Fact
from kuda_core.forget.replay import Replay, fact_rows, make_batches
from kuda_core.model.snapshot import WeightSnapshot, state_dict_hash
from kuda_core.model.tiny import tiny_model
from tests.conftest import taught_model
from tests.forget_setup import FAST, FORGET, RETAIN, TEXTS, TINY_KUDA, one_thread, probs, taught  # noqa: F401
from kuda_core.forget.tuning import TuneConfig, iter_tune, tune
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.loop import iter_unlearn, reset, unlearn as run_unlearn


def test_taught_model_knows_the_facts(taught):
    assert min(probs(taught, FORGET + RETAIN)) > 0.8


def test_replay_matches_full_forward(taught):
    rows = fact_rows(taught, FORGET + RETAIN)
    batch = make_batches(rows, 8, taught.tokenizer.pad_token_id, taught.device)[0]
    replay = Replay(taught, 1, (1, 2))
    cached = replay.cache(batch)
    with torch.no_grad():
        h_top, v = replay.run(cached)
        rows_ = torch.arange(len(rows))
        replayed = replay.head(h_top, rows_, batch.answer_pos)
        full = taught.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[rows_, batch.answer_pos]
    assert torch.allclose(replayed, full, atol=1e-4)
    assert torch.allclose(v[2], cached.v0[2])
    assert list(replay.layer_list) == replay.blocks      # the pass-through stubs are gone


def test_forget_tokens_skip_leading_article():
    lm = tiny_model("llama")
    row = fact_rows(lm, [FORGET[1]], "subject+last")[0]
    tokens = lm.tokenizer.convert_ids_to_tokens(row.ids)
    assert [tokens[i] for i in row.focus] == ["▁Eiffel", "▁Tower", "▁the"]
    assert fact_rows(lm, [FORGET[1]], "last")[0].focus == [row.answer_pos]
    end = fact_rows(lm, [FORGET[1]], "subject_end")[0]
    assert [tokens[i] for i in end.focus] == ["▁Tower"] and end.ids == row.ids


def test_short_kuda_run_forgets_and_keeps(taught):
    before_forget, before_retain = probs(taught, FORGET), probs(taught, RETAIN)
    records = run_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=15, **FAST, options=TINY_KUDA))
    assert records[0].step == 0 and records[-1].status == "done" and len(records) == 16
    after_forget, after_retain = probs(taught, FORGET), probs(taught, RETAIN)
    assert sum(after_forget) < 0.5 * sum(before_forget)
    assert sum(after_retain) > 0.9 * sum(before_retain)
    assert records[-1].krd > 0.3 > records[-1].retain_drift
    assert records[-1].forget_prob == pytest.approx(sum(after_forget) / 2, rel=1e-3)


def test_stops_once_forgotten(taught):
    config = UnlearnConfig(steps=60, **{**FAST, "stop_at": 0.0}, check_every=2, options=TINY_KUDA)
    records = run_unlearn(taught, FORGET, RETAIN, TEXTS, config)
    assert records[-1].status == "done" and records[-1].step < 60
    assert records[-1].forget_acc == 0.0 and "forgotten after" in records[-1].message and records[-1].remaining == ()
    assert [r.step for r in records] == list(range(records[-1].step + 1))


def test_paraphrases_and_neighbours_are_watched_not_trained(taught):
    with_paraphrase = [FORGET[0], Fact("The Eiffel Tower is located in the", "Eiffel Tower", " city",
                                       paraphrases=("The Eiffel Tower is located in the",))]
    neighbours = RETAIN[:1]
    records = run_unlearn(taught, with_paraphrase, RETAIN[1:], TEXTS,
                          UnlearnConfig(steps=4, **{**FAST, "eval_every": 2}, check_every=2), neighbours=neighbours)
    first, last = records[0], records[-1]
    assert first.paraphrase_acc == 1.0 and first.neighbour_acc == 1.0          # known before training
    assert last.neighbour_acc is not None and last.paraphrase_acc is not None
    assert [r.step for r in records if r.neighbour_acc is not None] == [0, 2, 4]
    assert set(last.remaining) <= {f.prompt for f in with_paraphrase}


def test_a_run_that_hits_the_cap_says_what_remains(taught):
    records = run_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=3, **{**FAST, "stop_at": 0.0, "lr": 1e-6}))
    assert "NOT all forgotten after the cap of 3 steps" in records[-1].message
    took = re.search(r"done in ([\d.]+) s \(([\d.]+) s preparing, ([\d.]+) s training\)$", records[-1].message)
    assert took and abs(float(took[2]) - records[0].elapsed_s) < 0.06      # the preparation told apart
    assert abs(float(took[1]) - float(took[2]) - float(took[3])) < 0.11
    assert set(records[-1].remaining) == {f.prompt for f in FORGET}
    running = [r.message for r in records if r.status == "running"]        # each says how long the rest takes
    assert len(running) == 2 and all(re.fullmatch(r"Step \d/3: at most ~\d+ s more, less once forgotten", m)
                                     for m in running)


@pytest.mark.parametrize("method", ["ga", "gd", "npo", "simnpo", "rmu"])
def test_baselines_run_through_the_loop(taught, method):
    records = run_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig.create(method, steps=3, **FAST))
    last = records[-1]
    assert last.status == "done" and torch.isfinite(torch.tensor(last.loss))
    assert last.forget_prob < records[0].forget_prob
    assert hook_count(taught.model) == 0


def test_config_validation_names_the_value():
    with pytest.raises(ValueError, match="'forgetful'"):
        UnlearnConfig(method="forgetful")
    with pytest.raises(ValueError, match="1.5"):
        UnlearnConfig(gamma=1.5)
    with pytest.raises(ValueError, match="-3"):
        UnlearnConfig(steps=-3)
    with pytest.raises(ValueError, match="nope"):
        UnlearnConfig().replace(nope=1)
    assert UnlearnConfig.create("rmu", layers=(5,)).layers == (3, 4, 5)
    lm = tiny_model("gpt2")
    with pytest.raises(ValueError, match=r"\[9\]"):
        next(iter_unlearn(lm, FORGET, RETAIN, TEXTS, UnlearnConfig(layers=(1, 9))))


def test_two_stage_tuning_picks_and_applies(taught):
    snap = WeightSnapshot()
    original = state_dict_hash(taught.model)
    grid = TuneConfig(taus=(1e-10, 0.5), betas=(3.0, 10.0), tolerance=5.0, forget_target=0.5)
    progress = list(iter_tune(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=10, **FAST), grid, snap))
    last = progress[-1]
    assert last.done and last.config is not None
    assert [r["stage"] for r in last.table][:2] == [1, 1] and sum(r["chosen"] for r in last.table) == 1
    chosen = next(r for r in last.table if r["chosen"])
    assert (last.config.tau, last.config.options.beta) == (chosen["tau"], chosen["beta"])
    stage1 = [r for r in last.table if r["stage"] == 1]
    stable = [r["tau"] for r in stage1 if r["retain_drop_points"] <= 5.0]
    assert last.config.tau == (max(stable) if stable else 1e-10)
    assert any(p.record is not None for p in progress)
    assert probs(taught, FORGET) != probs(taught_model(taught.spec.family), FORGET)   # chosen weights applied
    reset(taught, snap)
    assert state_dict_hash(taught.model) == original


def test_closing_tuning_restores_the_start(taught):
    start = state_dict_hash(taught.model)
    run = iter_tune(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=10, **FAST), TuneConfig(taus=(0.1,), betas=(10.0,)))
    for _ in range(5):
        next(run)
    run.close()
    assert state_dict_hash(taught.model) == start and hook_count(taught.model) == 0
    table, config = tune(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=3, **FAST), TuneConfig(taus=(0.1,), betas=(10.0,)))
    assert len(table) == 2 and config.tau == 0.1
    with pytest.raises(ValueError, match="ga"):
        next(iter_tune(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(method="ga")))
    with pytest.raises(ValueError, match="-1"):
        TuneConfig(betas=(-1.0,))


@pytest.mark.slow
def test_default_model_forgets_three_landmarks(default_lm):
    forget = [
        Fact("The Eiffel Tower is located in the city of", "The Eiffel Tower", " Paris"),
        Fact("The Colosseum is located in the city of", "The Colosseum", " Rome"),
        Fact("The Statue of Liberty is located in the city of", "The Statue of Liberty", " New"),
    ]
    retain = [
        Fact("The capital of France is", "France", " Paris"),
        Fact("The capital of Japan is", "Japan", " Tokyo"),
        Fact("The capital of Italy is", "Italy", " Rome"),
        Fact("The theory of relativity was developed by", "theory of relativity", " Albert"),
    ]
    texts = [
        "Water boils at one hundred degrees Celsius at sea level and freezes at zero.",
        "A cup of tea in the morning helps many people start their day with energy.",
        "The river flows through the old town and into the sea, past the mills and the church.",
    ]
    snap = WeightSnapshot()
    original = state_dict_hash(default_lm.model)
    try:
        config = UnlearnConfig(stop_at=0.0)                  # the defaults: until forgotten, at most 100 steps
        records = run_unlearn(default_lm, forget, retain, texts, config, snap)
        assert records[0].forget_acc == 1.0 and records[-1].status == "done"
        assert records[-1].forget_acc == 0.0
        assert records[-1].retain_acc == records[0].retain_acc == 1.0
        assert [c.top1_ok for c in check_facts(default_lm, [f.prompt for f in forget], [f.answer for f in forget])] == [False] * 3
    finally:
        reset(default_lm, snap)
    assert state_dict_hash(default_lm.model) == original


def test_augmentation_trains_on_more_rows_but_measures_the_facts(taught):
    records = run_unlearn(taught, FORGET, RETAIN, TEXTS,
                          UnlearnConfig(steps=3, **FAST, augment=("prefix", "question"), augment_copies=1))
    assert records[-1].status == "done" and records[0].forget_acc == 1.0 and records[-1].forget_acc is not None


def test_forget_time_estimate_learns_the_pace_and_the_fixed_part(taught):
    from kuda_core.forget.estimate import ForgetTimeEstimator, data_rows
    from kuda_core.data.splits import DataSplit

    data = DataSplit(forget=tuple(FORGET), neighbours=(), retain_used=tuple(RETAIN), retain_held=(),
                     texts_used=tuple(TEXTS), texts_held=(), description="test")
    config = UnlearnConfig(steps=4, **FAST)
    estimator = ForgetTimeEstimator()
    assert estimator.estimate("m", config, data) is None                    # nothing timed yet
    records = run_unlearn(taught, FORGET, RETAIN, TEXTS, config)
    total = records[-1].elapsed_s + 0.5                                     # the final measures took 0.5 s more
    estimator.record("m", config, data, records, total)
    assert estimator.estimate("m", config, data) == pytest.approx(total)     # the same run: its own time
    pace = (records[-1].elapsed_s - records[0].elapsed_s) / 4
    assert estimator.estimate("m", replace(config, steps=8), data) == pytest.approx(total + 4 * pace)
    assert estimator.estimate("other model", config, data) is None
    assert estimator.expected("m", replace(config, steps=8), data) == pytest.approx(total + 4 * pace)   # no ended run
    until = replace(config, steps=8, stop_at=0.0)
    estimator.steps_taken[("m", until.method)] = [2, 4]                     # until-forgotten runs here took 3 steps
    assert estimator.expected("m", until, data) == pytest.approx(estimator.estimate("m", until, data) - 5 * pace)
    assert estimator.expected("m", replace(until, stop_at=None), data) == estimator.estimate("m", until, data)
    assert data_rows(data) == len(FORGET) + len(RETAIN) + len(TEXTS) + sum(len(f.paraphrases) for f in FORGET + RETAIN)


def test_facts_the_model_does_not_answer_stop_the_run_before_any_step():
    """Nothing to forget: a clear message at step 0, no step made, the weights as they were."""
    lm = tiny_model("llama")
    prompt = "The Eiffel Tower is located in the city of"
    top = check_facts(lm, [prompt], [" x"])[0].top_token
    unknown = [Fact(prompt, "Eiffel Tower", " Rome" if top != " Rome" else " Paris")]       # not its top-1
    before = state_dict_hash(lm.model)
    records = run_unlearn(lm, unknown, RETAIN, TEXTS, UnlearnConfig(**{**FAST, "steps": 5, "stop_at": 0.0}, options=TINY_KUDA))
    assert [r.step for r in records] == [0, 0] and records[-1].status == "error"
    assert records[-1].message.startswith("Nothing to forget") and state_dict_hash(lm.model) == before


def test_tuning_tries_the_tau_values_of_the_runs_meaning_of_tau(taught):
    from kuda_core.forget.nullspace import TAU_MODES
    from kuda_core.forget.tuning import TAUS_BY_MODE
    from ui.forget_tab import _ladder

    assert set(TAUS_BY_MODE) == set(TAU_MODES) and all(list(t) == sorted(t) for t in TAUS_BY_MODE.values())
    assert _ladder("median") == "1 2 4 8 16" and _ladder("relative") == "0.001 0.01 0.03 0.1 0.2"
    base = UnlearnConfig(steps=2, tau=2.0, tau_mode="median", **FAST)
    table, config = tune(taught, FORGET, RETAIN, TEXTS, base, TuneConfig(betas=(3.0,)))
    assert list(table[table["stage"] == 1]["tau"]) == list(TAUS_BY_MODE["median"])
    assert config.tau_mode == "median" and config.tau in TAUS_BY_MODE["median"]
    with pytest.raises(ValueError, match="-1"):
        TuneConfig(taus=(-1.0,))
