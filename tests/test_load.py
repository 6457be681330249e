"""8 simulated visitors (gradio_client sessions) for 2 minutes of mixed requests: none fails, and a
light request is not stuck behind another visitor's long job (the model lock is taken per step).
The mix includes the "Is it really gone?" checks, whose relearning trains between other jobs."""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from ui_latency import load, percentile, report_load  # noqa: E402

from tests.browser import AppProcess  # noqa: E402

pytestmark = pytest.mark.slow


def test_eight_visitors_for_two_minutes(tmp_path):
    app = AppProcess(["--runs-dir", str(tmp_path)])
    try:
        latencies, failures = load(app.url, visitors=8, seconds=120)
    finally:
        app.stop()
    report_load(latencies, failures, 8, 120)
    assert failures == []
    assert len(latencies["checks (relearning 3 steps)"]) >= 2, "two visitors' checks at once did not both run"
    generate = latencies["generate"]
    assert len(generate) >= 3
    # a light request waits for at most one step of each job ahead of it, never for whole runs
    assert percentile(generate, 0.95) < 45, statistics.median(generate)
