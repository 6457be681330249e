"""The fluency verdict against the hand-labelled continuations (tests/fixtures/fluency_labels.jsonl).

The weights were fitted on the calibration half (bench/fit_fluency.py); this test measures the
validation half, which nothing was fitted or chosen on, and holds the verdict to what it reached
there (agreement 0.823, non-fluent accepted 0.170; the issue's 0.90 / 0.10 are not reached).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from fit_fluency import is_validation, load_labels  # noqa: E402

from kuda_core.inspect.fluency import check_fluency  # noqa: E402


def test_the_split_is_fixed_and_balanced():
    rows = load_labels()
    validation = [r for r in rows if is_validation(r)]
    assert 0.4 < len(validation) / len(rows) < 0.6
    assert {r["label"] for r in validation} == {"fluent", "not fluent"}


@pytest.mark.slow
def test_verdict_agrees_with_held_out_labels(default_lm):
    rows = [r for r in load_labels() if is_validation(r)]
    checks = check_fluency(default_lm, [r["prompt"] for r in rows], [r["continuation"] for r in rows])
    verdict = np.array([c.fluent for c in checks])
    label = np.array([r["label"] == "fluent" for r in rows])
    agreement, accepted = (verdict == label).mean(), verdict[~label].mean()
    print(f"validation: agreement {agreement:.3f}, non-fluent accepted {accepted:.3f}")
    assert agreement >= 0.80 and accepted <= 0.20
