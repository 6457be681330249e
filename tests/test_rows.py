"""Forget / retain rows from files, typed text and the hub (kuda_core.data.rows): formats, limits, errors, overlap."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from kuda_core.data import rows as datasets_io
from kuda_core.data.facts import make_fact
from kuda_core.data.overlap import all_overlaps, check_overlap
from kuda_core.data.probes import load_probes, split_by_topic
from kuda_core.data.rows import (
    Limits, RowSet, load_hf_rows, load_rows_file, parse_rows_text, rows_from_records,
)
from kuda_core.model import network


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


def test_a_repeated_fact_or_an_invisible_answer_is_refused_with_its_line():
    with pytest.raises(ValueError, match=r"Line 3 repeats line 1 \('the capital of  peru is' -> 'lima'\)"):
        parse_rows_text("The capital of Peru is | Peru | Lima\nSome text.\nthe capital of  peru is | Peru | lima")
    record = {"prompt": "The capital of Peru is", "subject": "Peru", "answer": " Lima"}
    with pytest.raises(ValueError, match="forget.csv, row 3 repeats row 1"):
        rows_from_records([record, {"text": "Some text."}, record], "forget.csv")
    assert len(parse_rows_text("The capital of Peru is | Peru | Lima\nThe capital of Peru is | Peru | Cusco").facts) == 2
    with pytest.raises(ValueError, match="Line 1: The answer is empty"):
        parse_rows_text("The capital of Peru is | Peru | \u200b")                  # a zero-width space only


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


def test_a_typed_fact_in_another_form_is_not_kept_as_a_neighbour_or_retained():
    """'The Mona Lisa was painted by | the mona lisa | Leonardo' is the probes' Mona Lisa fact (same prompt,
    same subject, an answer that begins the same): it is neither trained to stay nor measured as kept."""
    from kuda_core.data.facts import Fact
    from kuda_core.workflows.data import DataChoice, build_split

    typed = Fact("The Mona Lisa was painted by", "the mona lisa", " Leonardo")
    probes = RowSet(load_probes(), [], "probes")
    assert [o.reason for o in all_overlaps(RowSet([typed], [], "typed"), probes)] == ["same prompt"]
    reworded = Fact("Who painted the Mona Lisa? It was", "the Mona Lisa", " Leonardo")
    assert [o.reason for o in all_overlaps(RowSet([reworded], [], "typed"), probes)] == ["same subject and answer"]
    data = build_split(DataChoice(facts=(typed,)))
    assert data.forget[0].relation == "painter" and data.neighbours           # its relation's neighbours are there
    for fact in (*data.neighbours, *data.retain_used, *data.retain_held):
        assert "mona lisa" not in fact.prompt.casefold(), fact
    other = Fact("The Mona Lisa is a painting by", "Mona Lisa", " Raphael")   # same subject, another answer
    assert all_overlaps(RowSet([other], [], "typed"), probes) == []


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
