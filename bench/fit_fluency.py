"""Fit and validate the fluency verdict (kuda_core/inspect/fluency.py) on the hand-labelled set.

    .venv/bin/python bench/fit_fluency.py            # features, fit on the calibration half, validation

Rows of tests/fixtures/fluency_labels.jsonl are split by a hash of their id: the calibration half
chooses the threshold (5-fold cross-validation: agreement, penalised above 10% acceptance of
non-fluent rows) and fits the weights; the validation half is only measured. Prints the weights
to copy into fluency.py, then the agreement of the verdict in fluency.py on both halves and on
tests/fixtures/fluency_labels_test_topics.jsonl (answers of the test-split runs, labelled blind
after the verdict was frozen), and how often a second labeller, reading 90 validation rows
blind, agreed with the first (tests/fixtures/fluency_second_labeller.jsonl): the ceiling a verdict
can be held to.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from kuda_core.inspect import fluency  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402

LABELS = ROOT / "tests" / "fixtures" / "fluency_labels.jsonl"
TEST_TOPIC_LABELS = ROOT / "tests" / "fixtures" / "fluency_labels_test_topics.jsonl"
SECOND_LABELLER = ROOT / "tests" / "fixtures" / "fluency_second_labeller.jsonl"
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7)


def load_labels(path: Path = LABELS) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def labeller_agreement() -> tuple[float, int]:
    """(share of the second labeller's rows with the first labeller's label, rows compared)."""
    first = {r["id"]: r["label"] for r in load_labels()}
    second = load_labels(SECOND_LABELLER)
    return float(np.mean([first[r["id"]] == r["label"] for r in second])), len(second)


def agreement(lm, rows: list[dict]) -> tuple[float, float, float]:
    """(agreement with the labels, share of non-fluent accepted, share of fluent rejected) of the verdict."""
    checks = fluency.check_fluency(lm, [r["prompt"] for r in rows], [r["continuation"] for r in rows])
    verdict = np.array([c.fluent for c in checks])
    label = np.array([r["label"] == "fluent" for r in rows])
    return float((verdict == label).mean()), float(verdict[~label].mean()), float((~verdict[label]).mean())


def is_validation(row: dict) -> bool:
    """The fixed split: half of the rows, by a hash of the id."""
    return int(hashlib.md5(row["id"].encode()).hexdigest(), 16) % 2 == 1


def features(lm, rows: list[dict]) -> np.ndarray:
    checks = fluency.check_fluency(lm, [r["prompt"] for r in rows], [r["continuation"] for r in rows])
    return np.array([[getattr(c, name) for name in fluency.FEATURES] for c in checks])


def choose_threshold(x: np.ndarray, y: np.ndarray) -> float:
    scores = {}
    for threshold in THRESHOLDS:
        agree, accept = [], []
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
            model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x[train], y[train])
            fluent = model.predict_proba(x[test])[:, 1] >= threshold
            agree.append((fluent == y[test]).mean())
            accept.append(fluent[~y[test]].mean())
        scores[threshold] = np.mean(agree) - max(0.0, np.mean(accept) - 0.10)
        print(f"threshold {threshold}: cross-validated agreement {np.mean(agree):.3f}, "
              f"non-fluent accepted {np.mean(accept):.3f}")
    return max(scores, key=scores.get)


def main() -> None:
    torch.set_num_threads(1)
    lm = load_model("default")
    rows = load_labels()
    calibration = [r for r in rows if not is_validation(r)]
    validation = [r for r in rows if is_validation(r)]
    x, y = features(lm, calibration), np.array([r["label"] == "fluent" for r in calibration])
    threshold = choose_threshold(x, y)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    scaler, logistic = model.named_steps["standardscaler"], model.named_steps["logisticregression"]
    print("\nMEAN =", tuple(round(float(v), 4) for v in scaler.mean_))
    print("SCALE =", tuple(round(float(v), 4) for v in scaler.scale_))
    print("WEIGHTS =", tuple(round(float(v), 4) for v in logistic.coef_[0]))
    print("INTERCEPT =", round(float(logistic.intercept_[0]), 4))
    print("THRESHOLD =", threshold)
    print("\nThe verdict in fluency.py:")
    parts = (("calibration", calibration), ("validation", validation), ("test topics", load_labels(TEST_TOPIC_LABELS)))
    for name, part in parts:
        agree, accepted, rejected = agreement(lm, part)
        print(f"{name}: {len(part)} rows, agreement {agree:.3f}, non-fluent accepted {accepted:.3f}, "
              f"fluent rejected {rejected:.3f}")
    share, rows_compared = labeller_agreement()
    print(f"second labeller: agrees with the first on {share:.3f} of {rows_compared} validation rows")


if __name__ == "__main__":
    main()
