"""Fit and validate the fluency verdict (kuda_core/inspect/fluency.py) on the hand-labelled set.

    .venv/bin/python bench/fit_fluency.py            # features, fit on the calibration half, validation

Rows of tests/fixtures/fluency_labels.jsonl are split by a hash of their id: the calibration half
chooses the threshold (5-fold cross-validation: agreement, penalised above 10% acceptance of
non-fluent rows) and fits the weights; the validation half is only measured. Prints the weights
to copy into fluency.py, then the agreement on both halves and a sample of disagreements.
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
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7)


def load_labels() -> list[dict]:
    return [json.loads(line) for line in LABELS.read_text().splitlines() if line.strip()]


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
    for name, part in (("calibration", calibration), ("validation", validation)):
        checks = fluency.check_fluency(lm, [r["prompt"] for r in part], [r["continuation"] for r in part])
        verdict = np.array([c.fluent for c in checks])
        label = np.array([r["label"] == "fluent" for r in part])
        print(f"{name}: {len(part)} rows, agreement {(verdict == label).mean():.3f}, "
              f"non-fluent accepted {verdict[~label].mean():.3f} ({int(verdict[~label].sum())} of {int((~label).sum())}), "
              f"fluent rejected {(~verdict[label]).mean():.3f}")


if __name__ == "__main__":
    main()
