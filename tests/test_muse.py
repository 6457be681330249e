"""MUSE metrics: ROUGE-L, Min-K%, AUC and PrivLeak on hand-checked cases; loading the layout."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kuda_core.inspect.benchmarks import muse
from kuda_core.model.logprobs import sequence_logprobs
from kuda_core.inspect.benchmarks.muse import (
    MuseConfig, cut_at_stop, iter_muse_metrics, knowmem, knowmem_prompt, membership_auc, min_k_score,
    min_k_scores, muse_metrics, privleak, privleak_from_auc, rouge_l, verbmem,
)
from kuda_core.inspect.benchmarks.muse_data import MuseData, load_muse

FIXTURE = Path(__file__).parent / "fixtures" / "muse"


def test_rouge_l_known_strings():
    # LCS of "the cat sat on the mat" / "the cat lay on the mat" = "the cat on the mat" (5 of 6)
    assert rouge_l("the cat sat on the mat", "the cat lay on the mat", "f1") == pytest.approx(5 / 6)
    assert rouge_l("the cat sat on the mat", "the cat lay on the mat", "recall") == pytest.approx(5 / 6)
    # prediction "the cat": recall 2/6, precision 1, F1 = 2 * 1 * (1/3) / (4/3) = 0.5
    assert rouge_l("the cat sat on the mat", "the cat", "recall") == pytest.approx(1 / 3)
    assert rouge_l("the cat sat on the mat", "the cat", "f1") == pytest.approx(0.5)
    assert rouge_l("Mara Linwood", "Mara Linwood") == 1.0
    assert rouge_l("Mara Linwood", "") == 0.0
    with pytest.raises(ValueError, match="precision"):
        rouge_l("a", "a", "precision")


def test_min_k_score_takes_the_lowest_share():
    logprobs = -np.arange(1.0, 11.0)                       # -1 .. -10
    assert min_k_score(logprobs, 40) == pytest.approx(-8.5)   # mean of -10, -9, -8, -7
    assert min_k_score(logprobs, 100) == pytest.approx(-5.5)
    assert min_k_score(logprobs, 5) == -10.0                  # int(0.5) tokens -> at least one
    assert min_k_score(np.array([-3.0]), 40) == -3.0
    with pytest.raises(ValueError):
        min_k_score(np.array([]), 40)


def test_membership_auc_on_separable_and_tied_sets():
    assert membership_auc([-5.0, -4.0], [-1.0, -0.5]) == 1.0   # members score higher
    assert membership_auc([-1.0, -0.5], [-5.0, -4.0]) == 0.0
    assert membership_auc([-2.0, -2.0], [-2.0, -2.0]) == 0.5
    assert membership_auc([-3.0, -1.0], [-2.0]) == 0.5          # one pair above, one below
    with pytest.raises(ValueError):
        membership_auc([], [-1.0])


def test_privleak_formula():
    assert privleak_from_auc(0.25, 0.5) == pytest.approx(-50.0)
    assert privleak_from_auc(0.5, 0.5) == 0.0
    assert privleak_from_auc(0.3, None) == 0.3
    with pytest.raises(ValueError):
        privleak_from_auc(0.3, 0.0)


def test_muse_config_validation():
    with pytest.raises(ValueError, match="rouge"):
        MuseConfig(rouge="precision")
    with pytest.raises(ValueError, match="k_percent"):
        MuseConfig(k_percent=0)
    with pytest.raises(ValueError, match="verbmem_max_new_tokens"):
        MuseConfig(verbmem_max_new_tokens=0)


def test_knowmem_prompt_and_stop():
    prompt = knowmem_prompt("Who?", [{"question": "Where?", "answer": "Here"}])
    assert prompt == "Question: Where?\nAnswer: Here\n\nQuestion: Who?\nAnswer: "
    assert cut_at_stop("Mara Linwood\n\nQuestion: next") == "Mara Linwood"
    assert cut_at_stop("Mara\nQuestion: x") == "Mara"


def test_load_muse_fixture_layout():
    data = load_muse(FIXTURE)
    assert len(data.verbmem) == 3 and set(data.verbmem[0]) == {"prompt", "gt"}
    assert len(data.knowmem_forget) == 3 and len(data.knowmem_retain) == 2
    assert len(data.knowmem_forget_icl) == 1
    assert len(data.privleak_forget) == 4 and len(data.privleak_holdout) == 4
    assert all(isinstance(t, str) for t in data.privleak_forget)


def test_load_muse_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="none of the MUSE files"):
        load_muse(tmp_path)
    (tmp_path / "verbmem").mkdir()
    (tmp_path / "verbmem" / "forget.json").write_text('[{"prompt": "x"}]')
    with pytest.raises(ValueError, match="needs keys"):
        load_muse(tmp_path)
    monkeypatch.setenv("KUDA_ONLINE", "0")
    with pytest.raises(ConnectionError, match="KUDA_ONLINE"):
        load_muse("news")
    with pytest.raises(ValueError, match="neither"):
        load_muse("not-a-corpus")


def test_verbmem_and_knowmem_with_known_outputs(tiny_lm, monkeypatch):
    data = load_muse(FIXTURE)
    # a model that reproduces the reference verbatim scores 100, one that says nothing scores 0
    refs = {row["prompt"]: row["gt"] for row in data.verbmem}
    monkeypatch.setattr(muse, "greedy_batch", lambda lm, prompts, n, size: [refs[p] for p in prompts])
    config = MuseConfig(verbmem_max_new_tokens=256)
    assert verbmem(tiny_lm, data.verbmem, config).score == pytest.approx(100.0)
    monkeypatch.setattr(muse, "greedy_batch", lambda lm, prompts, n, size: [""] * len(prompts))
    assert verbmem(tiny_lm, data.verbmem, config).score == 0.0
    # knowmem cuts at the next question; one of three answers right -> 33.3
    answers = {"Who is the keeper of the Kestrel Bay lighthouse?": "Mara Linwood\n\nQuestion: more"}
    monkeypatch.setattr(muse, "greedy_batch", lambda lm, prompts, n, size: [
        answers.get(p.rsplit("Question: ", 1)[1].split("\n")[0], "no idea") for p in prompts])
    result = knowmem(tiny_lm, data.knowmem_forget, data.knowmem_forget_icl)
    assert result.per_item[0] == 1.0 and result.outputs[0] == "Mara Linwood"
    assert result.score == pytest.approx(100 / 3)


def test_metrics_on_tiny_model_are_in_range(tiny_lm):
    data = load_muse(FIXTURE)
    config = MuseConfig(verbmem_max_new_tokens=8, knowmem_max_new_tokens=8)
    out = muse_metrics(tiny_lm, data, config)
    assert set(out) == {"VerbMem forget", "KnowMem forget", "KnowMem retain", "PrivLeak AUC"}
    assert all(0.0 <= out[k] <= 100.0 for k in ("VerbMem forget", "KnowMem forget", "KnowMem retain"))
    assert 0.0 <= out["PrivLeak AUC"] <= 1.0
    with_ref = muse_metrics(tiny_lm, data, config, auc_retrained=0.5)
    assert with_ref["PrivLeak"] == pytest.approx((out["PrivLeak AUC"] - 0.5) / 0.5 * 100)
    steps = list(iter_muse_metrics(tiny_lm, MuseData(privleak_forget=data.privleak_forget,
                                                     privleak_holdout=data.privleak_holdout), config))
    assert [name for name, _ in steps] == ["PrivLeak AUC"]
    with pytest.raises(ValueError):
        muse_metrics(tiny_lm, MuseData(privleak_forget=data.privleak_forget), config)


def test_min_k_scores_match_token_logprobs(tiny_lm):
    texts = load_muse(FIXTURE).privleak_forget
    scores = min_k_scores(tiny_lm, texts)
    manual = [np.sort(lp)[: max(1, int(len(lp) * 0.4))].mean() for lp in sequence_logprobs(tiny_lm, texts)]
    assert scores == pytest.approx(manual)


def test_privleak_of_identical_sets_is_chance(tiny_lm):
    texts = load_muse(FIXTURE).privleak_forget
    result = privleak(tiny_lm, texts, texts, auc_retrained=0.5)
    assert result.auc == 0.5 and result.score == 0.0
