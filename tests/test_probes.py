"""Probe data, loaders, splits and first-token checks (row files: tests/test_rows.py)."""
from __future__ import annotations

import json

import pytest

from kuda_core.data.checks import FactCheck, check_fact, check_facts
from kuda_core.data.facts import Fact
from kuda_core.data.probes import load_general_texts, load_probes, shipped_file, split_by_topic, topics
from kuda_core.data.splits import holdout_split
from kuda_core.model.tokens import answer_token_id, token_text

EIFFEL = Fact(
    prompt="The Eiffel Tower is located in the city of", subject="Eiffel Tower", answer=" Paris",
    relation="located in city", topic="landmarks",
    paraphrases=["The Eiffel Tower can be found in the city of", "Tourists who want to see the Eiffel Tower travel to"],
)


# ---------------------------------------------------------------- Fact validation

def test_fact_keeps_fields_and_turns_paraphrases_into_a_tuple():
    assert EIFFEL.paraphrases == tuple(EIFFEL.paraphrases) and isinstance(EIFFEL.paraphrases, tuple)
    assert EIFFEL.text == "The Eiffel Tower is located in the city of Paris"
    assert Fact.from_dict(EIFFEL.to_dict()) == EIFFEL
    hash(EIFFEL)  # frozen and hashable


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"subject": "Big Ben"}, "'Big Ben' does not occur"),
        ({"subject": "  "}, "subject is empty"),
        ({"answer": " "}, "answer is empty"),
        ({"answer": ""}, "answer is empty"),
        ({"prompt": ""}, "prompt is empty"),
        ({"paraphrases": ["Where is it?"]}, r"paraphrase 'Where is it\?'"),
        ({"paraphrases": [""]}, "Empty or non-string paraphrase"),
        ({"paraphrases": "The Eiffel Tower is in"}, "got a string"),
        ({"answer": 3}, "Fact.answer must be a string"),
    ],
)
def test_fact_rejects_bad_values_naming_them(changes, message):
    values = {**EIFFEL.to_dict(), **changes}
    with pytest.raises(ValueError, match=message):
        Fact(**values)


def test_fact_from_dict_names_missing_keys():
    with pytest.raises(ValueError, match="lacks subject, answer"):
        Fact.from_dict({"prompt": "x"})


# ---------------------------------------------------------------- loaders and splits

def test_load_probes_and_general_texts_from_the_repo():
    facts = load_probes()
    assert len(facts) >= 120
    assert all(isinstance(f, Fact) for f in facts)
    by_topic = topics(facts)
    assert all(len(group) >= 10 for group in by_topic.values()), {t: len(g) for t, g in by_topic.items()}
    assert any(f.prompt == EIFFEL.prompt and f.answer == " Paris" for f in facts)
    for fact in facts:
        assert fact.answer.startswith(" ") and not fact.prompt.endswith(" "), fact
        assert len(fact.paraphrases) >= 2 and all(fact.subject in p for p in fact.paraphrases), fact
        assert fact.prompt not in fact.paraphrases
    assert len({(f.prompt, f.answer) for f in facts}) == len(facts), "duplicate facts"
    by_relation = {}
    for fact in facts:
        by_relation.setdefault(fact.relation, []).append(fact)
    big = [r for r, group in by_relation.items() if len(group) >= 20]
    assert len(big) >= 8, {r: len(g) for r, g in by_relation.items()}  # every probe is known: the slow test below
    for relation in big:  # forget half of a relation, keep the rest: answers must vary, subjects must not repeat
        group = by_relation[relation]
        assert len({f.answer for f in group}) >= 4, relation
        assert len({f.subject for f in group}) == len(group), relation
    texts = load_general_texts()
    assert len(texts) >= 30 and all(20 < len(t) < 600 for t in texts)
    assert len(set(texts)) == len(texts)


def test_general_texts_do_not_state_probe_answers_with_their_subjects():
    texts = " ".join(load_general_texts()).lower()
    for fact in load_probes():
        together = fact.subject.lower() in texts and fact.answer.strip().lower() in texts
        assert not (together and fact.text.lower() in texts), fact


def test_load_probes_with_a_relative_or_absolute_path(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(EIFFEL.to_dict()) + "\n\n", encoding="utf-8")
    assert load_probes(path) == [EIFFEL]
    assert len(load_probes(shipped_file("probes.jsonl"))) == len(load_probes())


def test_load_probes_reports_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    row = {**EIFFEL.to_dict(), "subject": "Louvre"}
    path.write_text(json.dumps(EIFFEL.to_dict()) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: Subject 'Louvre'"):
        load_probes(path)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"Could not read bad.jsonl as json"):
        load_probes(path)
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no rows"):
        load_probes(path)
    with pytest.raises(FileNotFoundError):
        load_probes(tmp_path / "missing.jsonl")


def test_load_general_texts_rejects_rows_without_text(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": 1, "text": "Hello there."}\n{"id": 2}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"t.jsonl:2: missing or empty 'text'"):
        load_general_texts(path)


def test_split_by_topic():
    facts = load_probes()
    forget, retain = split_by_topic(facts, ["capitals", "landmarks"])
    assert forget and retain and len(forget) + len(retain) == len(facts)
    assert {f.topic for f in forget} == {"capitals", "landmarks"}
    assert not {f.topic for f in retain} & {"capitals", "landmarks"}
    assert split_by_topic(facts, "capitals")[0] == [f for f in facts if f.topic == "capitals"]
    with pytest.raises(ValueError, match="Unknown topic.*'planets'"):
        split_by_topic(facts, ["planets"])
    with pytest.raises(ValueError, match="at least one topic"):
        split_by_topic(facts, [])


def test_holdout_split_is_deterministic_disjoint_and_ordered():
    items = list(range(40))
    used, held = holdout_split(items, 0.25, seed=3)
    assert len(held) == 10 and len(used) == 30
    assert sorted(used + held) == items and used == sorted(used) and held == sorted(held)
    assert holdout_split(items, 0.25, seed=3) == (used, held)
    assert holdout_split(items, 0.25, seed=4) != (used, held)
    assert holdout_split(items, 0.0) == (items, [])
    assert holdout_split([], 0.5) == ([], [])
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            holdout_split(items, bad)


# ---------------------------------------------------------------- first-token checks

def test_check_facts_agrees_with_check_fact_on_tiny_models(tiny_lm):
    facts = [
        EIFFEL,
        Fact("The capital of France is", "France", " Paris"),
        Fact("The Colosseum is in", "Colosseum", " Rome"),
        Fact("Microsoft was founded by", "Microsoft", " Bill"),
        Fact("The official language of Brazil is", "Brazil", " Portuguese"),
        Fact("Big Ben is in", "Big Ben", " London"),
        Fact("Water boils at one hundred degrees at sea", "Water", " level"),
    ]
    batched = check_facts(tiny_lm, [f.prompt for f in facts], [f.answer for f in facts], batch_size=3)
    vocab = tiny_lm.model.config.vocab_size
    for fact, together in zip(facts, batched):
        alone = check_fact(tiny_lm, fact)
        assert isinstance(alone, FactCheck)
        assert together.rank == alone.rank and together.top1_ok == alone.top1_ok
        assert together.top_token == alone.top_token
        assert together.prob == pytest.approx(alone.prob, rel=1e-4, abs=1e-7)
        assert together.margin == pytest.approx(alone.margin, abs=1e-4)
        assert 1 <= alone.rank <= vocab and 0.0 < alone.prob < 1.0
        assert alone.top1_ok == (alone.rank == 1) == (alone.margin > 0)


def test_check_facts_matches_a_plain_forward_pass(tiny_lm):
    import torch

    prompt, answer = "The capital of Japan is", " Tokyo"
    ids = tiny_lm.tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        probs = tiny_lm.model(ids).logits[0, -1].softmax(-1)
    target = answer_token_id(tiny_lm.tokenizer, prompt, answer)
    result = check_facts(tiny_lm, [prompt], [answer])[0]
    assert result.prob == pytest.approx(float(probs[target]), rel=1e-4)
    assert result.rank == int((probs > probs[target]).sum()) + 1
    assert result.top_token == token_text(tiny_lm.tokenizer, int(probs.argmax()))


def test_check_facts_validates_its_input(tiny_lm):
    with pytest.raises(ValueError, match="2 prompts but 1 answers"):
        check_facts(tiny_lm, ["a b", "c d"], [" x"])
    with pytest.raises(ValueError, match="Empty prompt"):
        check_facts(tiny_lm, [" "], [" x"])
    with pytest.raises(ValueError, match="batch_size"):
        check_facts(tiny_lm, ["a b"], [" x"], batch_size=0)
    assert check_facts(tiny_lm, [], []) == []


@pytest.mark.slow
def test_every_probe_is_known_by_the_default_model(default_lm):
    facts = load_probes()
    assert len(facts) >= 120
    assert all(len(f.paraphrases) >= 2 and all(f.subject in p for p in f.paraphrases) for f in facts)
    assert len(load_general_texts()) >= 30
    checks = check_facts(default_lm, [f.prompt for f in facts], [f.answer for f in facts])  # ~2 s on 2 idle cores
    failures = [(f.prompt, f.answer, c.top_token, round(c.prob, 3)) for f, c in zip(facts, checks) if not c.top1_ok]
    assert not failures, failures
    # batching changes nothing: a few facts alone give the same numbers
    for fact, together in list(zip(facts, checks))[::40]:
        alone = check_fact(default_lm, fact)
        assert alone.top1_ok and alone.prob == pytest.approx(together.prob, rel=1e-3)
