"""Probe data, loaders, splits, first-token checks and forget / retain row loading."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from kuda_core.data import rows as datasets_io
from kuda_core.model import network
from kuda_core.data.facts import make_fact
from kuda_core.data.rows import (
    Limits, RowSet, check_overlap, load_hf_rows, load_rows_file, parse_rows_text, rows_from_records,
)
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


# ---------------------------------------------------------------- datasets_io

FACT_ROWS = [
    {"prompt": "The capital of France is", "subject": "France", "answer": "Paris", "topic": "capitals"},
    {"prompt": "Big Ben is in the city of ", "subject": "Big Ben", "answer": " London",
     "paraphrases": ["Big Ben stands in", "You can hear Big Ben in"]},
]
TEXT_ROWS = [{"text": "Bread needs flour, water and time."}, {"text": "  Rain fell all day.  "}]


def _write(tmp_path, name, rows):
    path = tmp_path / name
    frame = pd.DataFrame(rows)
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif name.endswith(".json"):
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif name.endswith(".csv"):
        if "paraphrases" in frame:
            frame["paraphrases"] = frame["paraphrases"].map(lambda p: " || ".join(p) if isinstance(p, list) else "")
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.json", "rows.csv", "rows.parquet"])
def test_load_rows_file_reads_facts_in_every_format(tmp_path, name):
    rows = load_rows_file(_write(tmp_path, name, FACT_ROWS))
    assert rows.kind == "facts" and rows.source == name and len(rows) == 2
    france, big_ben = rows.facts
    assert france.answer == " Paris" and france.topic == "capitals" and france.paraphrases == ()
    assert big_ben.prompt == "Big Ben is in the city of" and big_ben.answer == " London"
    assert big_ben.paraphrases == ("Big Ben stands in", "You can hear Big Ben in")
    assert "2 facts, 0 texts" in rows.summary()


@pytest.mark.parametrize("name", ["texts.jsonl", "texts.csv", "texts.parquet"])
def test_load_rows_file_reads_texts(tmp_path, name):
    rows = load_rows_file(_write(tmp_path, name, TEXT_ROWS))
    assert rows.kind == "texts"
    assert rows.texts == ["Bread needs flour, water and time.", "Rain fell all day."]
    assert rows.all_texts() == rows.texts


def test_mixed_rows_and_column_names_in_any_case(tmp_path):
    records = [{"Prompt": "The capital of Italy is", "SUBJECT": "Italy", "Answer": "Rome", "Text": ""},
               {"Prompt": "", "SUBJECT": "", "Answer": "", "Text": "A plain sentence."}]
    rows = rows_from_records(records, "mixed")
    assert rows.kind == "mixed" and rows.facts[0].answer == " Rome" and rows.texts == ["A plain sentence."]
    assert rows.all_texts() == ["The capital of Italy is Rome", "A plain sentence."]


def test_column_mapping(tmp_path):
    path = _write(tmp_path, "qa.csv", [{"question": "The capital of Spain is", "entity": "Spain", "target": "Madrid"}])
    rows = load_rows_file(path, columns={"prompt": "question", "subject": "entity", "answer": "target"})
    assert rows.facts[0].text == "The capital of Spain is Madrid"
    with pytest.raises(ValueError, match="column 'query'.*found columns"):
        load_rows_file(path, columns={"prompt": "query"})


def test_missing_columns_are_named(tmp_path):
    path = _write(tmp_path, "partial.csv", [{"prompt": "The capital of Spain is", "answer": "Madrid"}])
    with pytest.raises(ValueError, match=r"missing subject; found columns \['prompt', 'answer'\]"):
        load_rows_file(path)
    path = _write(tmp_path, "other.jsonl", [{"question": "q", "label": 1}])
    with pytest.raises(ValueError, match=r"needs columns prompt, subject, answer .* or 'text'.*\['question', 'label'\]"):
        load_rows_file(path)


def test_bad_rows_name_the_row(tmp_path):
    path = _write(tmp_path, "bad.jsonl", [FACT_ROWS[0], {"prompt": "The capital of Peru is", "subject": "Chile", "answer": "Lima"}])
    with pytest.raises(ValueError, match=r"bad.jsonl, row 2: Subject 'Chile' does not occur"):
        load_rows_file(path)
    path = _write(tmp_path, "noanswer.jsonl", [{"prompt": "The capital of Peru is", "subject": "Peru", "answer": ""}])
    with pytest.raises(ValueError, match="row 1: The answer is empty"):
        load_rows_file(path)


def test_empty_inputs(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        load_rows_file(empty)
    blank = _write(tmp_path, "blank.csv", [{"text": ""}, {"text": "  "}])
    with pytest.raises(ValueError, match="every row is empty"):
        load_rows_file(blank)
    with pytest.raises(ValueError, match="holds no rows"):
        rows_from_records([], "nothing")
    with pytest.raises(ValueError, match="No rows"):
        parse_rows_text("  \n\n")


def test_size_and_row_limits(tmp_path):
    path = _write(tmp_path, "many.jsonl", [{"text": f"Sentence number {i}."} for i in range(50)])
    assert len(load_rows_file(path, Limits(max_rows=50))) == 50
    with pytest.raises(ValueError, match="more than 10 rows"):
        load_rows_file(path, Limits(max_rows=10))
    with pytest.raises(ValueError, match="MiB; the limit is"):
        load_rows_file(path, Limits(max_bytes=100))
    with pytest.raises(ValueError, match="must be positive"):
        Limits(max_rows=0)


def test_unsupported_or_unreadable_files(tmp_path):
    path = tmp_path / "rows.xlsx"
    path.write_bytes(b"binary")
    with pytest.raises(ValueError, match=r"Unsupported file type '.xlsx'"):
        load_rows_file(path)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match="Could not read broken.parquet"):
        load_rows_file(broken)
    with pytest.raises(FileNotFoundError):
        load_rows_file(tmp_path / "missing.csv")


def test_parse_rows_text():
    rows = parse_rows_text(
        "The capital of France is | France | Paris\n"
        "\n"
        "Bread needs flour and water.\n"
        "Big Ben is in | Big Ben | London | Big Ben stands in | You can hear Big Ben in\n"
    )
    assert rows.kind == "mixed" and rows.source == "typed rows"
    assert [f.answer for f in rows.facts] == [" Paris", " London"]
    assert rows.facts[1].paraphrases == ("Big Ben stands in", "You can hear Big Ben in")
    assert rows.texts == ["Bread needs flour and water."]
    with pytest.raises(ValueError, match="Line 2: expected 'prompt | subject | answer', got 2"):
        parse_rows_text("ok text\nThe capital of France is | Paris")
    with pytest.raises(ValueError, match="Line 1: Subject 'Spain'"):
        parse_rows_text("The capital of France is | Spain | Paris")


def test_make_fact_normalises_spaces():
    fact = make_fact("The capital of France is  ", " France ", "Paris ")
    assert (fact.prompt, fact.subject, fact.answer) == ("The capital of France is", "France", " Paris")


def test_check_overlap():
    forget = parse_rows_text(
        "The capital of France is | France | Paris\nThe capital of Spain is | Spain | Madrid\n"
        "Big Ben is in | Big Ben | London\nA shared   sentence."
    )
    retain = RowSet(
        facts=[make_fact("the capital of  france is", "france", "Paris"),
               make_fact("Big Ben stands in the city of", "Big Ben", "London")],
        texts=["a shared sentence.", "Something else."],
        source="retain",
    )
    found = check_overlap(forget, retain)
    assert [(o.forget_row, o.reason) for o in found] == [
        ("The capital of France is Paris", "same text"),
        ("Big Ben is in London", "same subject and answer"),
        ("A shared   sentence.", "same text"),
    ]
    assert check_overlap(forget, RowSet(texts=["unrelated"], source="r")) == []


def test_probe_topics_overlap_only_when_shared():
    facts = load_probes()
    forget, retain = split_by_topic(facts, ["landmarks"])
    found = check_overlap(RowSet(forget, [], "f"), RowSet(retain, [], "r"))
    assert all(o.reason == "same subject and answer" for o in found)


def test_hf_rows_refused_offline(monkeypatch):
    monkeypatch.setenv("KUDA_ONLINE", "0")
    assert not network.is_online()
    with pytest.raises(ConnectionError, match="hub access is off"):
        load_hf_rows("someone/some-dataset")
    with pytest.raises(ValueError, match="dataset name"):
        load_hf_rows("  ")


def test_hf_rows_online_path_uses_datasets(monkeypatch):
    import datasets

    calls = {}

    class Fake:
        def to_list(self):
            return [{"text": "One passage."}]

    def fake_load(name, config, split):
        calls.update(name=name, config=config, split=split)
        return Fake()

    monkeypatch.setenv("KUDA_ONLINE", "1")
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    rows = load_hf_rows("someone/texts", split="test", limits=Limits(max_rows=5))
    assert rows.texts == ["One passage."] and rows.source == "someone/texts:test"
    assert calls == {"name": "someone/texts", "config": None, "split": "test[:6]"}
    assert datasets_io.DEFAULT_LIMITS.max_rows == 100_000
