"""Fast causal tracing vs the plain per-cell algorithm, side by side on the default model.

    $ python bench/trace_speed.py                      # all kinds, 10 samples, 2 threads
    $ python bench/trace_speed.py --kinds mlp --samples 3 --threads 4

Prints one row per kind: reference time, fast time (median of --repeats runs), the ratio and the
largest absolute difference of the (T, L) probability grids. Run it on a quiet machine: other
processes on the same cores change both times, the ratio less.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from kuda_core.models import load_model  # noqa: E402
from kuda_core.tracing import KINDS, TraceConfig, trace, trace_reference  # noqa: E402

PROMPT, SUBJECT, ANSWER = "The Eiffel Tower is located in the city of", "Eiffel Tower", " Paris"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="fast runs per kind (median reported)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model(args.model, device="cpu")
    print(f"{lm.name}: {lm.n_layers} layers; prompt {PROMPT!r} -> {ANSWER!r}; "
          f"{args.samples} samples; {torch.get_num_threads()} threads")
    print(f"{'kind':<7}{'reference s':>13}{'fast s':>9}{'ratio':>8}{'max |diff|':>12}  p_clean  p_corrupt")
    for kind in args.kinds:
        config = TraceConfig(kind=kind, samples=args.samples)
        started = time.perf_counter()
        slow = trace_reference(lm, PROMPT, SUBJECT, ANSWER, config)
        slow_s = time.perf_counter() - started
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            fast = trace(lm, PROMPT, SUBJECT, ANSWER, config)
            times.append(time.perf_counter() - started)
        fast_s = statistics.median(times)
        diff = float(np.nanmax(np.abs(slow.scores - fast.scores)))
        print(f"{kind:<7}{slow_s:>13.1f}{fast_s:>9.2f}{slow_s / fast_s:>7.1f}x{diff:>12.2e}"
              f"  {fast.p_clean:.4f}   {fast.p_corrupt:.4f}", flush=True)


if __name__ == "__main__":
    main()
