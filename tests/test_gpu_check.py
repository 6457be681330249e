"""bench/gpu_check.py, the script a GPU machine runs once, as a dry run on the CPU with a small shape."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_the_gpu_check_runs_through_on_the_cpu(tmp_path):
    command = [sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--device", "cpu", "--big-hidden", "128",
               "--big-layers", "4", "--big-intermediate", "256", "--big-heads", "4", "--big-vocab", "1000"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env={"OUT": str(tmp_path),
                          "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    tiny = [rows for name, rows in report.items() if "modified_before_reset" in rows]
    assert len(tiny) >= 2 and all(r["modified_before_reset"] and not r["modified_after_reset"] for r in tiny)
    unlearn = report["llama-7b-shape-bfloat16"]["unlearn"]
    assert unlearn["status"] == "done" and unlearn["steps"] > 0 and not unlearn["modified_after_reset"]
