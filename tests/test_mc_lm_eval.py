"""The project's multiple-choice scorer gives lm-evaluation-harness's numbers on the same questions.

lm-eval runs its own HF wrapper (HFLM) around the model already in memory, with a local task that
uses our zero-shot template; both sides score " A" .. " D" after "Answer:". acc_norm divides each
log-likelihood by the choice's length in bytes, equal for single letters, so it equals acc here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kuda_core.inspect.benchmarks.multiple_choice import MCConfig, load_mc, mc_accuracy, score_questions

FIXTURE = Path(__file__).parent / "fixtures" / "wmdp_sample.jsonl"
TEMPLATE = ("The following are multiple choice questions (with answers) about biology.\n\n{{question.strip()}}\n"
            "A. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:")


def lm_eval_scores(lm) -> tuple[np.ndarray, dict]:
    """(log-likelihoods (N, 4), results) of lm-eval on the fixture, in file order."""
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    task = {"task": "kuda_mc_fixture", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(FIXTURE)}},
            "test_split": "test", "output_type": "multiple_choice", "doc_to_text": TEMPLATE,
            "doc_to_choice": ["A", "B", "C", "D"], "doc_to_target": "answer",
            "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}]}
    adds_bos = lm.tokenizer("x")["input_ids"][0] == lm.tokenizer.bos_token_id   # score what our prompts see
    wrapper = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=4, device=str(lm.device),
                   add_bos_token=adds_bos)
    out = simple_evaluate(model=wrapper, tasks=[task], log_samples=True, verbosity="ERROR")
    samples = sorted(out["samples"]["kuda_mc_fixture"], key=lambda s: s["doc_id"])
    scores = np.array([[ll for ll, _ in s["filtered_resps"]] for s in samples])
    return scores, out["results"]["kuda_mc_fixture"]


def check_agreement(lm) -> None:
    questions = load_mc(FIXTURE)
    ours = score_questions(lm, questions, MCConfig(topic="biology"))
    theirs, results = lm_eval_scores(lm)
    np.testing.assert_allclose(ours, theirs, atol=2e-4, rtol=1e-4)
    accuracy = mc_accuracy(lm, questions, MCConfig(topic="biology")).accuracy
    assert accuracy == pytest.approx(results["acc,none"]) == pytest.approx(results["acc_norm,none"])


def test_tiny_models_agree_with_lm_eval(tiny_lm):
    check_agreement(tiny_lm)


@pytest.mark.slow
def test_default_model_agrees_with_lm_eval(default_lm):
    check_agreement(default_lm)
