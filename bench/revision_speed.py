"""KUDA's default run on a dev topic with this tree's code and with an earlier revision's, side by side.

    $ .venv/bin/python bench/revision_speed.py --base HEAD~1                 # capitals, A B A B
    $ .venv/bin/python bench/revision_speed.py --base 1b20706 --topic sports --rounds 1
    $ .venv/bin/python bench/revision_speed.py --base HEAD~1 --topic landmarks --layers 5,6,7 --rounds 1

For changes meant to make a run faster without changing what it does. The base revision is checked
out in a temporary git worktree; each run is a fresh process (base and current alternate, so that
this machine's drift hits both alike) that unlearns one dev topic with KUDA's frozen settings on the
layers Locate suggests (or the --layers given, e.g. those a saved test run used: a test topic may run here,
since nothing is chosen from a same-run check), exactly as bench/robustness.py does, and prints the time of the whole run
(setup, steps and checks), its steps, the final record's measures and a hash of the trained weights.
The last lines give the ratio of the mean times and whether the two revisions ended on the same
weights and measures (same weights: the change did not change the run).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from quality import DEV_TOPICS, TEST_TOPICS  # noqa: E402

# Run inside a tree (its own kuda_core and bench/): one KUDA run, one JSON line on stdout.
RUNNER = """
import json, sys, time
sys.path.insert(0, "."); sys.path.insert(0, "bench")
import torch
from quality import topic_data, suggested_layers
from unlearn_quality import frozen_settings
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.loop import iter_unlearn
from kuda_core.model.loading import load_model
from kuda_core.model.snapshot import WeightSnapshot, state_dict_hash
lm = load_model("default")
data = topic_data(sys.argv[1])
layers = tuple(map(int, sys.argv[2].split(","))) if len(sys.argv) > 2 else suggested_layers(lm, data.forget)
config = UnlearnConfig.create("kuda", layers=layers, **frozen_settings()["kuda"])
torch.manual_seed(0)
started = time.perf_counter()
records = list(iter_unlearn(lm, data.forget, data.retain_used, data.texts_used, config, WeightSnapshot(),
                            data.neighbours))
seconds = time.perf_counter() - started
last = records[-1]
print(json.dumps({"seconds": seconds, "steps": last.step, "weights": state_dict_hash(lm.model),
                  "measures": [last.forget_acc, last.paraphrase_acc, last.neighbour_acc, last.retain_acc,
                               last.forget_prob, last.neighbour_prob]}))
"""


def one_run(tree: Path, topic: str, layers: str | None) -> dict:
    done = subprocess.run([sys.executable, "-c", RUNNER, topic, *([layers] if layers else [])], cwd=tree,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"run in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the earlier revision (git rev)")
    parser.add_argument("--topic", default="capitals", choices=DEV_TOPICS + TEST_TOPICS)
    parser.add_argument("--layers", default=None, help="e.g. 5,6,7 (default: Locate's suggestion, traced first)")
    parser.add_argument("--rounds", type=int, default=2, help="base / current pairs, alternating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base_tree), args.base], cwd=ROOT, check=True)
        try:
            runs = {"base": [], "current": []}
            for round_ in range(args.rounds):
                for label, tree in (("base", base_tree), ("current", ROOT)):
                    result = one_run(tree, args.topic, args.layers)
                    runs[label].append(result)
                    print(f"round {round_ + 1} {label:<8} {result['seconds']:7.1f} s  {result['steps']} steps  "
                          f"measures {[round(m, 4) if m is not None else None for m in result['measures']]}  "
                          f"weights {result['weights'][:12]}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=True)
    base_s = statistics.mean(r["seconds"] for r in runs["base"])
    current_s = statistics.mean(r["seconds"] for r in runs["current"])
    same_weights = {r["weights"] for r in runs["base"]} == {r["weights"] for r in runs["current"]}
    same_measures = all(b["measures"] == c["measures"] for b, c in zip(runs["base"], runs["current"]))
    print(f"{args.topic}: base {args.base} {base_s:.1f} s, current {current_s:.1f} s, "
          f"current / base = {current_s / base_s:.3f}")
    print(f"same trained weights: {same_weights}; same final measures: {same_measures}")


if __name__ == "__main__":
    main()
