"""Evaluation: log-probs, perplexity, probe accuracy, fluency, before/after comparison."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kuda_core.model.generation import greedy_batch, greedy_batch_with_stats, next_token_stats
from kuda_core.inspect.fluency import check_fluency, repetition_rate, score, words
from kuda_core.inspect.compare import compare_answers
from kuda_core.inspect.evaluate import TABLE_COLUMNS, EvalConfig, evaluate, iter_evaluate, perplexity, probe_stats
from kuda_core.workflows.summaries import answers_summary, answers_table
from kuda_core.model.generation import greedy_continuation, top_next_tokens
from kuda_core.model.hooks import hook_count
from kuda_core.model.logprobs import (
    continuation_logprobs, encode_continuation, next_token_logprobs, perplexity_from_logprobs, score_ids,
    sequence_logprobs,
)
from kuda_core.data.checks import check_facts, names_answer
from kuda_core.model.snapshot import WeightSnapshot

PROMPTS = ["The capital of France is", "The Colosseum is in", "Water boils at one hundred"]
TEXTS = [
    "The Eiffel Tower is located in the city of Paris.",
    "Water boils at one hundred degrees at sea level.",
    "A cup of tea in the morning helps many people start their day.",
]


def edit_layer(lm, layer: int = 1, scale: float = 0.5, seed: int = 0) -> WeightSnapshot:
    """Snapshot the MLP output weight of `layer`, then add Gaussian noise to it."""
    name = lm.spec.mlp_out.format(layer) + ".weight"
    snap = WeightSnapshot.take(lm.model, [name])
    weight = dict(lm.model.named_parameters())[name]
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        weight.add_(scale * torch.randn(weight.shape, generator=generator))
    return snap


# ----------------------------------------------------------------------------- pure helpers


def test_repetition_rate_by_hand():
    assert repetition_rate("Paris Paris Paris Paris") == pytest.approx(2 / 3)   # 3 bigrams, 1 distinct
    assert repetition_rate("the city of the gods") == 0.0
    assert repetition_rate("") == 0.0 and repetition_rate("one") == 0.0
    assert repetition_rate("a a b", n=1) == pytest.approx(1 / 3)
    assert words("Paris, France! 42") == ["Paris", ",", "France", "!", "42"]   # punctuation counts: salad shows
    with pytest.raises(ValueError):
        repetition_rate("x", n=0)


def test_fluency_score_rises_with_fit_and_likelihood_and_falls_with_loops():
    fluent = score((1.5, -1.2, 0.0, 0.9))            # fits the prompt, likely, no loop, varied words
    assert fluent > 0.65
    assert score((0.0, -1.2, 0.0, 0.9)) < fluent     # could follow anything
    assert score((1.5, -4.0, 0.0, 0.9)) < fluent     # unlikely text
    assert score((1.5, -1.2, 0.6, 0.4)) < 0.65       # a loop
    with pytest.raises(ValueError, match="answer_sets"):
        next(iter_evaluate(None, None, {"forget": ([], [])}, config=EvalConfig(answer_sets=("missing",))))


def test_perplexity_is_token_weighted():
    assert perplexity_from_logprobs([np.array([-1.0, -1.0]), np.array([-3.0])]) == pytest.approx(np.exp(5 / 3))
    assert np.isnan(perplexity_from_logprobs([np.array([])]))


# ----------------------------------------------------------------------------- log-probs on models


def test_batched_logprobs_equal_one_by_one(tiny_lm):
    batched = sequence_logprobs(tiny_lm, TEXTS, batch_size=3)
    for text, values in zip(TEXTS, batched):
        alone = sequence_logprobs(tiny_lm, [text], batch_size=1)[0]
        assert len(values) == len(tiny_lm.tokenizer(text)["input_ids"]) - 1
        np.testing.assert_allclose(values, alone, atol=1e-5)
    left = next_token_logprobs(tiny_lm, PROMPTS, [3, 4, 5], batch_size=3)
    one = np.stack([next_token_logprobs(tiny_lm, [p], [3, 4, 5])[0] for p in PROMPTS])
    np.testing.assert_allclose(left, one, atol=1e-5)


def test_continuation_logprobs_cover_the_continuation(tiny_lm):
    values = continuation_logprobs(tiny_lm, PROMPTS, [" Paris", " Rome is old", " degrees"])
    for prompt, cont, lp in zip(PROMPTS, [" Paris", " Rome is old", " degrees"], values):
        ids, start = encode_continuation(tiny_lm, prompt, cont)
        assert len(lp) == len(ids) - start and np.all(lp <= 0)
    # when the joined ids equal the whole text's ids, the continuation's log-probs are its tail
    whole = sequence_logprobs(tiny_lm, ["The capital of France is"])[0]
    ids, start = encode_continuation(tiny_lm, "The capital of", " France is")
    if ids == tiny_lm.tokenizer("The capital of France is")["input_ids"]:
        tail = continuation_logprobs(tiny_lm, ["The capital of"], [" France is"])[0]
        np.testing.assert_allclose(tail, whole[start - 1:], atol=1e-5)
    # long prompts keep their continuation (left truncation)
    long_prompt = "water " * 200
    lp = continuation_logprobs(tiny_lm, [long_prompt], [" Paris"])[0]
    assert len(lp) == len(tiny_lm.tokenizer(" Paris", add_special_tokens=False)["input_ids"])
    with pytest.raises(ValueError):
        score_ids(tiny_lm, [[1, 2]], [1, 1])


def test_batched_answers_equal_one_by_one(tiny_lm):
    prompts = PROMPTS + ["The Eiffel Tower is located in the city of"]
    assert greedy_batch(tiny_lm, prompts, 6, batch_size=3) == [greedy_continuation(tiny_lm, p, 6) for p in prompts]
    answers = [" Paris", None, " degrees", tiny_lm.tokenizer(" the", add_special_tokens=False)["input_ids"][0]]
    stats = next_token_stats(tiny_lm, prompts, answers, k=3, batch_size=2)
    assert stats[1].answer == top_next_tokens(tiny_lm, prompts[1], 1)[0][0] and stats[1].top1_ok
    checks = check_facts(tiny_lm, [prompts[0], prompts[2]], [" Paris", " degrees"])
    for stat, check in zip([stats[0], stats[2]], checks):
        assert stat.answer_rank == check.rank and stat.answer_p == pytest.approx(check.prob, abs=1e-6)
    for stat, prompt in zip(stats, prompts):
        expected = top_next_tokens(tiny_lm, prompt, 3)
        assert [t for t, _ in stat.top] == [t for t, _ in expected]
        assert [p for _, p in stat.top] == pytest.approx([p for _, p in expected], abs=1e-6)
    assert stats[3].answer_id == answers[3]
    texts, from_generation = greedy_batch_with_stats(tiny_lm, prompts, 6, 2, answers, k=3)
    assert texts == greedy_batch(tiny_lm, prompts, 6, batch_size=2)
    for generated, direct in zip(from_generation, stats):     # the first generated step is the next-token pass
        assert (generated.answer, generated.answer_id, generated.answer_rank) == (direct.answer, direct.answer_id,
                                                                                 direct.answer_rank)
        assert generated.answer_p == pytest.approx(direct.answer_p, abs=1e-6)
        assert [t for t, _ in generated.top] == [t for t, _ in direct.top]
    with pytest.raises(ValueError):
        greedy_batch(tiny_lm, prompts, 0)
    with pytest.raises(ValueError):
        greedy_batch_with_stats(tiny_lm, prompts, 6, answers=answers[:2])


def test_perplexity_matches_manual(tiny_lm):
    manual = np.exp(-np.concatenate(sequence_logprobs(tiny_lm, TEXTS)).mean())
    assert perplexity(tiny_lm, TEXTS, batch_size=2) == pytest.approx(manual, rel=1e-6)
    with pytest.raises(ValueError):
        perplexity(tiny_lm, [])


def test_probe_stats_on_the_models_own_answers(tiny_lm):
    # answers are words after the prompt: the model's most likely next token that starts with a space
    ranked = [[t for t, _ in top_next_tokens(tiny_lm, p, 50)] for p in PROMPTS]
    answers = [next(t for t in tokens if t.startswith(" ") and t.strip()) for tokens in ranked]
    ranks = [tokens.index(a) + 1 for tokens, a in zip(ranked, answers)]
    stats = probe_stats(tiny_lm, PROMPTS, answers)
    assert stats.n == 3 and stats.accuracy == np.mean([r == 1 for r in ranks])
    assert stats.median_rank == np.median(ranks)
    later = [next(t for t in tokens[r:] if t.startswith(" ") and t.strip()) for tokens, r in zip(ranked, ranks)]
    wrong = probe_stats(tiny_lm, PROMPTS, later)
    assert wrong.accuracy == 0.0 and wrong.mean_p < stats.mean_p


# ----------------------------------------------------------------------------- before / after


def test_compare_answers_unchanged_model(tiny_lm):
    rows = compare_answers(tiny_lm, None, PROMPTS, config=EvalConfig(max_new_tokens=5, top_k=3))
    for row in rows:
        assert not row.changed and row.original_text == row.current_text
        assert row.fluent == row.original_fluent
        assert row.original_p == row.current_p and row.original_rank == row.current_rank == 1
        assert len(row.current_top) == 3 and row.answer == row.original_top[0][0]
    frame = answers_table({"forget": rows})
    assert len(frame) == 3 and {"set", "prompt", "changed", "fluent", "ppl (original model)"} <= set(frame.columns)
    assert set(frame["fluent"]) == {"same text"}                   # an unchanged text is not the edit's doing
    # the model's own answer (its top-1 token) is in its own continuation
    assert all(r.names_answer == names_answer(r.current_text, r.answer, r.prompt) for r in rows)


def test_answers_summary_says_when_a_changed_forget_answer_still_names_it():
    import pandas as pd
    frame = pd.DataFrame([
        {"set": "forget facts", "changed": True, "fluent": "yes", "answer in text": "yes"},
        {"set": "forget facts", "changed": True, "fluent": "no", "answer in text": "no"},
        {"set": "neighbours (held out)", "changed": False, "fluent": "same text", "answer in text": "yes"},
        {"set": "other facts", "changed": False, "fluent": "same text", "answer in text": "yes"},
        {"set": "other facts", "changed": False, "fluent": "no", "answer in text": "yes"},
    ])
    summary = answers_summary(frame)
    assert summary.startswith("forget facts: 2 of 2 changed, 1 of 2 new texts fluent (of the changed, 1 still says the "
                              "answer further on")
    assert "neighbours (held out): 0 of 1 changed, every text as before;" in summary
    assert summary.endswith("other facts: 0 of 2 changed, 0 of 1 new texts fluent")


def test_compare_answers_reads_the_original_through_the_snapshot(tiny_lm):
    config = EvalConfig(max_new_tokens=6, top_k=3)
    before = compare_answers(tiny_lm, None, PROMPTS, config=config)
    snap = edit_layer(tiny_lm, scale=2.0)
    edited = dict(tiny_lm.model.named_parameters())[next(iter(snap.originals))].detach().clone()
    after = compare_answers(tiny_lm, snap, PROMPTS, config=config)
    for b, a in zip(before, after):
        assert a.original_text == b.current_text and a.original_p == pytest.approx(b.current_p)
        assert a.original_top == b.original_top
    assert any(a.current_p != pytest.approx(a.original_p) for a in after)
    # the edited weights are back in place afterwards
    assert torch.equal(dict(tiny_lm.model.named_parameters())[next(iter(snap.originals))], edited)


def test_current_fluency_is_the_verdict_on_each_current_answer(tiny_lm):
    """Unchanged answers reuse the original's verdict, changed ones are judged afresh: both equal a direct check."""
    config = EvalConfig(max_new_tokens=6, top_k=3)
    prompts = PROMPTS + ["The Louvre is a museum in", "Berlin is the capital of"]
    snap = edit_layer(tiny_lm, scale=0.03)
    rows = compare_answers(tiny_lm, snap, prompts, config=config)
    assert any(r.text_changed for r in rows) and not all(r.text_changed for r in rows)
    direct = check_fluency(tiny_lm, prompts, [r.current_text for r in rows], snap)
    assert [r.fluency_score for r in rows] == pytest.approx([c.score for c in direct], abs=1e-4)
    assert [r.fluent for r in rows] == [c.fluent for c in direct]


def test_fluency_is_measured_under_the_original_weights(tiny_lm):
    answers = [" Paris and the river", " of of of of of of", ""]
    plain = check_fluency(tiny_lm, PROMPTS, answers)
    snap = edit_layer(tiny_lm, scale=2.0)
    through_snapshot = check_fluency(tiny_lm, PROMPTS, answers, snap)
    assert [c.score for c in through_snapshot] == pytest.approx([c.score for c in plain])
    assert [c.fit for c in through_snapshot] == pytest.approx([c.fit for c in plain])
    assert through_snapshot[1].repetition > 0.5 and not through_snapshot[1].fluent
    assert through_snapshot[2].perplexity == float("inf") and not through_snapshot[2].fluent


def test_evaluate_table_for_unchanged_model(tiny_lm):
    probe_sets = {"forget": (PROMPTS[:2], [" Paris", " Rome"]), "retain": (PROMPTS[2:], [" degrees"])}
    config = EvalConfig(max_new_tokens=4, answer_sets=("forget",))
    progress = list(iter_evaluate(tiny_lm, None, probe_sets, {"general": TEXTS}, config))
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(p.result is None for p in progress[:-1])
    result = progress[-1].result
    table = result.table
    assert list(table.columns) == TABLE_COLUMNS
    assert set(table["set"]) == {"forget", "retain", "general"}
    assert np.allclose(table["change"], 0.0)
    assert set(table[table["set"] == "forget"]["metric"]) >= {"top-1 accuracy", "fluent answers", "changed answers"}
    assert list(result.answers) == ["forget"] and len(result.answers["forget"]) == 2


def test_evaluate_after_edit_and_benchmarks(tiny_lm):
    snap = edit_layer(tiny_lm, scale=2.0)
    calls = []

    def bench(lm):
        calls.append(snap.is_modified(lm.model))
        return {"score": 1.0 if snap.is_modified(lm.model) else 0.0}

    result = evaluate(tiny_lm, snap, {"forget": (PROMPTS, [" Paris"] * 3)}, {"general": TEXTS},
                            EvalConfig(max_new_tokens=4), benchmarks={"bench": bench})
    row = result.table[(result.table["set"] == "bench")].iloc[0]
    assert calls == [False, True] and row["original"] == 0.0 and row["unlearned"] == 1.0
    ppl = result.table[result.table["metric"] == "perplexity"].iloc[0]
    assert ppl["original"] != ppl["unlearned"]
    assert snap.is_modified(tiny_lm.model) and hook_count(tiny_lm.model) == 0


def test_stopping_early_keeps_the_edited_weights(tiny_lm):
    snap = edit_layer(tiny_lm, scale=2.0)
    name = next(iter(snap.originals))
    edited = dict(tiny_lm.model.named_parameters())[name].detach().clone()
    run = iter_evaluate(tiny_lm, snap, {"forget": (PROMPTS, [" Paris"] * 3)}, {"general": TEXTS})
    next(run)
    next(run)
    run.close()
    assert torch.equal(dict(tiny_lm.model.named_parameters())[name], edited)


@pytest.mark.slow
def test_default_model_fluency_separates_fluent_from_garbage(default_lm):
    prompts = ["The Eiffel Tower is located in the city of"] * 4
    answers = [" Rome, which is a city in Italy.", " Sollitum and Sollit", " Paris. Paris. Paris. Paris. Paris.",
               " the 4A11A1A11A11A11A11"]
    checks = check_fluency(default_lm, prompts, answers)
    assert [c.fluent for c in checks] == [True, False, False, False]
