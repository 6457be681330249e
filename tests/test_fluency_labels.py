"""The hand-labelled fluency set (tests/fixtures/fluency_labels.jsonl, rule in docs/fluency_rule.md) is well formed."""
import json
from collections import Counter
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "fluency_labels.jsonl"
METHODS = {"kuda", "ga", "gd", "npo", "simnpo", "rmu"}


def load_rows() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]


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
