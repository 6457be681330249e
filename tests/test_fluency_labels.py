"""The hand-labelled fluency sets (rule in docs/fluency_rule.md) are well formed: fluency_labels.jsonl,
fluency_labels_test_topics.jsonl (answers of the test-split runs) and fluency_second_labeller.jsonl."""
import json
from collections import Counter
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "fluency_labels.jsonl"
TEST_TOPICS = Path(__file__).parent / "fixtures" / "fluency_labels_test_topics.jsonl"
SECOND = Path(__file__).parent / "fixtures" / "fluency_second_labeller.jsonl"
TEST_SPLIT_TOPICS = {"landmarks", "currencies", "authors", "cities", "nationalities", "brands"}
METHODS = {"kuda", "ga", "gd", "npo", "simnpo", "rmu"}


def load_rows(path: Path = FIXTURE) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_fluency_labels_fields_and_values():
    for row in load_rows():
        assert {"id", "prompt", "continuation", "source", "forgotten", "label", "note"} <= set(row), row["id"]
        assert row["label"] in ("fluent", "not fluent"), row["id"]
        assert (row["source"] == "original") == (row["forgotten"] is None), row["id"]


def test_fluency_labels_unique_and_sized():
    rows = load_rows()
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({(r["prompt"], r["continuation"]) for r in rows}) == len(rows)
    unlearned = [r for r in rows if r["forgotten"]]
    assert len(unlearned) >= 150 and sum(r["source"] == "original" for r in rows) >= 60
    assert {r["source"].split()[0] for r in unlearned} == METHODS
    labels = Counter(r["label"] for r in unlearned)
    assert labels["not fluent"] >= 0.35 * len(unlearned) and labels["fluent"] >= 0.30 * len(unlearned)


def test_test_topic_labels_are_new_forgotten_answers_of_every_method():
    rows, first = load_rows(TEST_TOPICS), load_rows()
    assert len(rows) >= 150 and len({r["id"] for r in rows}) == len(rows)
    assert not {(r["prompt"], r["continuation"]) for r in rows} & {(r["prompt"], r["continuation"]) for r in first}
    assert {r["method"] for r in rows} == METHODS and {r["topic"] for r in rows} <= TEST_SPLIT_TOPICS
    for row in rows:
        assert row["label"] in ("fluent", "not fluent") and row["forgotten"] is True, row["id"]
        assert not row["continuation"].strip().startswith(row["answer"].strip()), row["id"]   # the answer is not first
    assert 0.3 <= sum(r["label"] == "fluent" for r in rows) / len(rows) <= 0.7


def test_second_labeller_rows_are_rows_of_the_first_set():
    first = {r["id"] for r in load_rows()}
    rows = load_rows(SECOND)
    assert len({r["id"] for r in rows}) == len(rows) >= 80 and {r["id"] for r in rows} <= first
    assert {r["label"] for r in rows} == {"fluent", "not fluent"}
