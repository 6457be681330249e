"""KUDA with augmentation: training only on the rows of facts still answered vs on every row, side by side.

    $ .venv/bin/python bench/narrow_speed.py                          # capitals (dev), augmentation x1
    $ .venv/bin/python bench/narrow_speed.py --topic sports --copies 2

KUDA's remaining_only rests forgotten facts: their rows leave the loss. Before, every step still ran
them through the trained layers; now the forget batches are narrowed to the facts still answered at
each check (kuda_core.forget.focus). Both runs use KUDA's frozen settings (at lr 3e-3 unless --lr,
no stall boost) plus augmentation (prefix, k-shot, question) on one dev topic, layers from the
Locate suggestion, one after the other in this process, and print wall time, steps, the time per
step and the ratio, and the forget / neighbour accuracy each reached (the loss is the same; the trajectories can differ in the last digits, since
padding changes the shapes of the matrix products, and with more than forget_batch rows the cycling).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from quality import DEV_TOPICS, accuracy, suggested_layers, topic_data  # noqa: E402
from unlearn_quality import frozen_settings  # noqa: E402

from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.forget.context import StepContext  # noqa: E402
from kuda_core.forget.loop import iter_unlearn  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402
from kuda_core.model.snapshot import WeightSnapshot  # noqa: E402


def one_run(lm, data, config, narrowed: bool, after=None) -> dict:
    """Unlearn, measure (and `after()`, on the unlearned model), restore; with narrowing switched off by
    skipping StepContext.narrow_to_answered."""
    real = StepContext.narrow_to_answered
    if not narrowed:
        StepContext.narrow_to_answered = lambda self: None
    snapshot = WeightSnapshot()
    try:
        torch.manual_seed(0)
        started = time.perf_counter()
        records = list(iter_unlearn(lm, data.forget, data.retain_used, data.texts_used, config, snapshot,
                                    data.neighbours))
        seconds = time.perf_counter() - started
        forget = accuracy(lm, [f.prompt for f in data.forget], [f.answer for f in data.forget])
        neighbours = accuracy(lm, [f.prompt for f in data.neighbours], [f.answer for f in data.neighbours])
        extra = after() if after is not None else None
    finally:
        StepContext.narrow_to_answered = real
        snapshot.restore(lm.model)
    return {"seconds": seconds, "steps": records[-1].step, "forget": forget, "neighbours": neighbours, "after": extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="capitals", choices=DEV_TOPICS)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--lr", type=float, default=3e-3, help="3e-3: the frozen lr when the README's figures ran")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model("default")
    data = topic_data(args.topic)
    layers = suggested_layers(lm, data.forget)
    config = UnlearnConfig.create("kuda", layers=layers, **{**frozen_settings().get("kuda", {}),
                                                            "augment": ("prefix", "kshot", "question"),
                                                            "augment_copies": args.copies, "lr": args.lr,
                                                            "stall_boost": 1.0})
    print(f"{args.topic}: {len(data.forget)} facts, layers {layers}, augmentation x{args.copies}")
    results = {label: one_run(lm, data, config, narrowed) for label, narrowed in (("every row", False),
                                                                                  ("narrowed", True))}
    for label, r in results.items():
        print(f"{label:<10} {r['seconds']:6.1f} s  {r['steps']:3d} steps  {r['seconds'] / max(r['steps'], 1):.2f} s/step"
              f"  forget {r['forget']:.2f}  neighbours {r['neighbours']:.2f}")
    full, narrow = results["every row"], results["narrowed"]
    print(f"ratio (every row / narrowed): wall {full['seconds'] / narrow['seconds']:.2f}x, per step "
          f"{(full['seconds'] / full['steps']) / (narrow['seconds'] / narrow['steps']):.2f}x")


if __name__ == "__main__":
    main()
