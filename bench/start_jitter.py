"""Does a run repeat when only the rounding changes? KUDA with and without start_jitter, side by side.

    $ .venv/bin/python bench/start_jitter.py                         # capitals (dev), jitter 1e-4
    $ .venv/bin/python bench/start_jitter.py --topic sports --jitter 1e-3

KUDA's forget gradient is zero where a run starts (cos(v, v0) is at its maximum), so Adam's first
steps follow rounding. Each setting runs twice at KUDA's frozen settings of the time (lr 3e-3, no
augmentation, no stall boost, pinned here) on one dev topic: with
the forget batches narrowed to the facts still answered and with every row (the same loss in exact
arithmetic, other batch shapes, so other rounding). A setting whose two runs agree is repeatable
across machines; one whose runs differ is not. Prints steps, forget / paraphrase / neighbour accuracy
and seconds of each run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from narrow_speed import one_run  # noqa: E402
from quality import DEV_TOPICS, accuracy, known_paraphrases, suggested_layers, topic_data  # noqa: E402
from unlearn_quality import frozen_settings  # noqa: E402

from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="capitals", choices=DEV_TOPICS)
    parser.add_argument("--jitter", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", action="store_true", help="skip the runs without jitter")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model("default")
    data = topic_data(args.topic)
    layers = suggested_layers(lm, data.forget)
    paraphrases = known_paraphrases(lm, data.forget)
    print(f"{args.topic}: {len(data.forget)} facts, layers {layers}, {len(paraphrases)} known paraphrases")
    for jitter in ((0.0, args.jitter) if not args.only else (args.jitter,)):
        config = UnlearnConfig.create("kuda", layers=layers, **{**frozen_settings().get("kuda", {}), "lr": 3e-3,
                                                                "augment": (), "stall_boost": 1.0,
                                                                "start_jitter": jitter})
        for narrowed in (True, False):
            r = one_run(lm, data, config, narrowed,
                        after=lambda: accuracy(lm, [p for p, _ in paraphrases], [a for _, a in paraphrases]))
            print(f"jitter {jitter:g} {'narrowed ' if narrowed else 'every row'}: {r['steps']:3d} steps  "
                  f"forget {r['forget']:.2f}  paraphrases {r['after']:.2f}  neighbours {r['neighbours']:.2f}  "
                  f"{r['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
