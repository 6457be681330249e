"""The fluency verdict against the hand-labelled continuations (tests/fixtures/fluency_labels.jsonl).

The weights were fitted on the calibration half (bench/fit_fluency.py); these tests measure the
validation half, which nothing was fitted or chosen on, and the answers of the test-split runs
labelled blind by a second labeller after the verdict was frozen
(tests/fixtures/fluency_labels_test_topics.jsonl), and hold the verdict to what it reached there
(validation: agreement 0.833, non-fluent accepted 0.160; test topics: 0.844 / 0.130; the issue's
0.90 / 0.10 are not reached). Two labellers reading the same 90 validation rows agreed on 93%.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from fit_fluency import TEST_TOPIC_LABELS, agreement, is_validation, labeller_agreement, load_labels  # noqa: E402


def test_the_split_is_fixed_and_balanced():
    rows = load_labels()
    validation = [r for r in rows if is_validation(r)]
    assert 0.4 < len(validation) / len(rows) < 0.6
    assert {r["label"] for r in validation} == {"fluent", "not fluent"}


def test_two_labellers_agree_more_often_than_the_verdict():
    share, compared = labeller_agreement()
    assert compared >= 80 and share >= 0.90       # the labels are a fair yardstick: 84 of 90 rows agree


def test_a_contraction_is_one_word_not_a_loop():
    """ "... it's a famous spot ... It's a" was read as a loop (it / ' / s / a twice) and called not fluent."""
    from kuda_core.inspect.fluency import repetition_rate, words

    assert words("it's a dog, O'Brien's 12") == ["it's", "a", "dog", ",", "O'Brien's", "12"]
    assert repetition_rate("it's a dog and it's a cat") == pytest.approx(1 / 6)
    assert repetition_rate("Paris Paris Paris Paris") == pytest.approx(2 / 3)


@pytest.mark.slow
def test_verdict_agrees_with_held_out_labels(default_lm):
    agreed, accepted, _ = agreement(default_lm, [r for r in load_labels() if is_validation(r)])
    print(f"validation: agreement {agreed:.3f}, non-fluent accepted {accepted:.3f}")
    assert agreed >= 0.80 and accepted <= 0.20


@pytest.mark.slow
def test_verdict_agrees_with_labels_of_the_test_topic_runs(default_lm):
    agreed, accepted, _ = agreement(default_lm, load_labels(TEST_TOPIC_LABELS))
    print(f"test topics: agreement {agreed:.3f}, non-fluent accepted {accepted:.3f}")
    assert agreed >= 0.80 and accepted <= 0.20
