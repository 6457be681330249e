"""Multiple choice: template, loading, scoring paths, and a case whose accuracy is known."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from kuda_core.model.hooks import Hooks, hook_count
from kuda_core.model.logprobs import continuation_logprobs, next_token_logprobs
from kuda_core.inspect.benchmarks.multiple_choice import (
    LETTERS, MCConfig, MCQuestion, accuracy, default_topic, format_prompt, hub_source, iter_mc_eval,
    letter_token_ids, load_mc, mc_accuracy, predictions_from_scores, question_from_row,
)

FIXTURES = Path(__file__).parent / "fixtures"
WMDP = FIXTURES / "wmdp_sample.jsonl"
MMLU = FIXTURES / "mmlu_sample.jsonl"


def test_question_validation():
    with pytest.raises(ValueError, match="4 choices"):
        MCQuestion("Q?", ("a", "b", "c"), 0)
    with pytest.raises(ValueError, match="index 0..3"):
        MCQuestion("Q?", ("a", "b", "c", "d"), 4)
    with pytest.raises(ValueError, match="index 0..3"):
        MCQuestion("Q?", ("a", "b", "c", "d"), True)
    with pytest.raises(ValueError, match="Empty question"):
        MCQuestion(" ", ("a", "b", "c", "d"), 0)
    with pytest.raises(ValueError):
        MCConfig(batch_size=0)


def test_template_matches_lm_eval_harness_layout():
    q = MCQuestion(" What is 2+2? ", ("1", "2", "3", "4"), 3, subject="elementary_mathematics")
    assert format_prompt(q, "arithmetic") == (
        "The following are multiple choice questions (with answers) about arithmetic.\n\n"
        "What is 2+2?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:"
    )
    assert format_prompt(q).startswith("The following are multiple choice questions (with answers) about elementary mathematics.")
    assert format_prompt(MCQuestion("Q?", ("a", "b", "c", "d"), 0)) == "Q?\nA. a\nB. b\nC. c\nD. d\nAnswer:"


def test_rows_in_several_shapes():
    assert question_from_row({"question": "Q", "choices": ["a", "b", "c", "d"], "answer": "C"}).answer == 2
    assert question_from_row({"question": "Q", "choices": '["a", "b", "c", "d"]', "answer": "1"}).answer == 1
    row = question_from_row({"question": "Q", "A": "a", "B": "b", "C": "c", "D": "d", "answer": 3})
    assert row.choices == ("a", "b", "c", "d") and row.answer == 3
    with pytest.raises(ValueError, match="choices"):
        question_from_row({"question": "Q", "answer": 0})


def test_load_fixtures_and_other_formats(tmp_path):
    wmdp, mmlu = load_mc(WMDP), load_mc(MMLU)
    assert len(wmdp) == 8 and len(mmlu) == 8
    assert mmlu[0].subject == "high_school_geography" and mmlu[0].choices[mmlu[0].answer] == "Paris"
    assert len(load_mc(WMDP, limit=3)) == 3
    frame = pd.DataFrame([{"question": q.question, "choices": json.dumps(list(q.choices)), "answer": q.answer} for q in wmdp])
    frame.to_csv(tmp_path / "wmdp.csv", index=False)
    assert load_mc(tmp_path / "wmdp.csv") == wmdp
    parquet = pd.DataFrame([{"question": q.question, "choices": list(q.choices), "answer": q.answer} for q in wmdp])
    parquet.to_parquet(tmp_path / "wmdp.parquet")
    assert load_mc(tmp_path / "wmdp.parquet") == wmdp
    (tmp_path / "bad.jsonl").write_text('{"question": "Q", "choices": ["a"], "answer": 0}\n')
    with pytest.raises(ValueError, match="row 1"):
        load_mc(tmp_path / "bad.jsonl")


def test_hub_names_and_offline_error(monkeypatch):
    assert hub_source("wmdp-bio") == ("cais/wmdp", "wmdp-bio")
    assert hub_source("cais/wmdp:wmdp-cyber") == ("cais/wmdp", "wmdp-cyber")
    assert hub_source("mmlu") == ("cais/mmlu", "all")
    assert hub_source("mmlu:anatomy") == ("cais/mmlu", "anatomy")
    with pytest.raises(ValueError, match="Unknown dataset"):
        hub_source("wmdp-physics")
    monkeypatch.setenv("KUDA_ONLINE", "0")
    with pytest.raises(ConnectionError, match="KUDA_ONLINE"):
        load_mc("wmdp-bio")
    assert default_topic("wmdp-cyber") == "cybersecurity"
    assert default_topic("data/wmdp_bio_test.jsonl") == "biology"
    assert default_topic("mmlu") is None


def test_predictions_and_accuracy_by_hand():
    scores = np.array([[0.0, -1.0, -2.0, -3.0], [-5.0, -1.0, -0.5, -9.0], [-1.0, -1.0, -2.0, -2.0]])
    predictions = predictions_from_scores(scores, [0, 1, 1])
    assert [p.letter for p in predictions] == ["A", "C", "A"]      # a tie goes to the earlier letter
    assert accuracy(predictions) == pytest.approx(1 / 3)
    assert np.isnan(accuracy([]))
    with pytest.raises(ValueError, match="shape"):
        predictions_from_scores(scores[:, :3], [0, 1, 1])


def test_tiny_models_give_valid_letters(tiny_lm):
    questions = load_mc(WMDP)
    result = mc_accuracy(tiny_lm, questions, MCConfig(topic="biology"))
    assert result.n == 8 and 0.0 <= result.accuracy <= 1.0
    assert all(p.letter in LETTERS for p in result.predictions)
    assert all(np.isfinite(p.scores).all() and max(p.scores) <= 0.0 for p in result.predictions)
    steps = list(iter_mc_eval(tiny_lm, questions, MCConfig(limit=5), chunk=2))
    assert [done for done, _, _ in steps] == [2, 4, 5] and steps[-1][1] == 5


def test_constructed_model_always_answers_b(tiny_lm):
    """Push the logit of the token that spells " B" up by 100: every prediction must be B, so the
    accuracy is the share of questions whose answer is B (3 of the 8 fixture questions)."""
    questions = load_mc(WMDP)
    b_token = tiny_lm.tokenizer(" B", add_special_tokens=False)["input_ids"][-1]

    def boost(logits, name):
        logits = logits.clone()
        logits[..., b_token] += 100.0
        return logits

    with Hooks(tiny_lm.model, edit_outputs={tiny_lm.spec.lm_head: boost}):
        result = mc_accuracy(tiny_lm, questions)
    assert [p.letter for p in result.predictions] == ["B"] * 8
    assert result.accuracy == pytest.approx(sum(q.answer == 1 for q in questions) / 8) == pytest.approx(3 / 8)
    assert hook_count(tiny_lm.model) == 0


def test_single_token_path_equals_continuation_path(tiny_lm):
    """The fast path (one forward pass, letter logits) and the general one (continuation
    log-likelihood) agree when a continuation is one token."""
    prompts = [format_prompt(q, "biology") for q in load_mc(WMDP)[:4]]
    candidates = [" A", " B", " the", " is", " of", " city", " river", " Paris"]
    encoded = {c: tiny_lm.tokenizer(c, add_special_tokens=False)["input_ids"] for c in candidates}
    single = [c for c in candidates if len(encoded[c]) == 1][:4]
    assert len(single) >= 2, "expected some one-token words in the tiny vocabulary"
    fast = next_token_logprobs(tiny_lm, prompts, [encoded[c][0] for c in single], batch_size=3)   # (4, K)
    slow = np.array([[continuation_logprobs(tiny_lm, [p], [c])[0][0] for c in single] for p in prompts])
    np.testing.assert_allclose(fast, slow, atol=1e-4)


def test_letter_ids_detection(tiny_lm):
    ids = letter_token_ids(tiny_lm.tokenizer)
    assert ids is None or (len(set(ids)) == 4)


@pytest.mark.slow
def test_default_model_fast_path(default_lm):
    assert letter_token_ids(default_lm.tokenizer) is not None
    questions = load_mc(MMLU)[:4]
    result = mc_accuracy(default_lm, questions, MCConfig())
    assert result.n == 4 and all(p.letter in LETTERS for p in result.predictions)
    with torch.no_grad():
        prompt = format_prompt(questions[0])
        slow = [continuation_logprobs(default_lm, [prompt], [f" {x}"])[0].sum() for x in LETTERS]
    np.testing.assert_allclose(result.predictions[0].scores, slow, atol=1e-3)
