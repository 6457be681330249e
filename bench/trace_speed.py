"""Fast causal tracing vs the plain per-cell algorithm, side by side on the default model.

    $ python bench/trace_speed.py                      # all kinds, 10 samples, 2 threads
    $ python bench/trace_speed.py --kinds mlp --samples 3 --threads 4
    $ python bench/trace_speed.py --kinds mlp --floor   # the fast path against this CPU's matmul rate

Prints one row per kind: wall-clock and CPU seconds of the reference and of the fast path (median
of --repeats runs), their ratios, and the largest absolute difference of the (T, L) probability
grids. Other processes on the same cores slow both; with several threads on a busy machine the
many small passes of the reference suffer most, so compare the CPU-time ratio too (or use
--threads 1).

It also counts the floating-point operations of both paths (torch.utils.flop_counter, in a
separate untimed pass): the reference is one forward pass of 1 + samples rows per cell, the fast
path counts its own run. Their ratio is what the algorithm saves; the wall ratio can exceed it
only by running its matrix products more efficiently than the reference's small passes, so it
shows how far a faster implementation of the same exact algorithm could go.
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

from kuda_core.model.loading import load_model  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from kuda_core.locate.tracing import KINDS, TraceConfig, trace, trace_reference  # noqa: E402

PROMPT, SUBJECT, ANSWER = "The Eiffel Tower is located in the city of", "Eiffel Tower", " Paris"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="fast runs per kind (median reported)")
    parser.add_argument("--floor", action="store_true",
                        help="only the fast path: its FLOPs, this machine's matmul rate and the time they imply")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model(args.model, device="cpu")
    if args.floor:
        print_floor(lm, args)
        return
    print(f"{lm.name}: {lm.n_layers} layers; prompt {PROMPT!r} -> {ANSWER!r}; "
          f"{args.samples} samples; {torch.get_num_threads()} threads")
    print(f"{'kind':<7}{'ref wall s':>11}{'fast wall s':>12}{'ratio':>7}{'ref cpu s':>10}{'fast cpu s':>11}"
          f"{'ratio':>7}{'ref TFLOP':>10}{'fast TFLOP':>11}{'ratio':>7}{'max |diff|':>12}  p_clean  p_corrupt")
    for kind in args.kinds:
        config = TraceConfig(kind=kind, samples=args.samples)
        slow, slow_wall, slow_cpu = timed(trace_reference, lm, config)
        runs = [timed(trace, lm, config) for _ in range(args.repeats)]
        fast = runs[0][0]
        fast_wall = statistics.median(r[1] for r in runs)
        fast_cpu = statistics.median(r[2] for r in runs)
        diff = float(np.nanmax(np.abs(slow.scores - fast.scores)))
        slow_flops, fast_flops = reference_flops(lm, config, len(fast.tokens)), counted_flops(trace, lm, config)
        print(f"{kind:<7}{slow_wall:>11.1f}{fast_wall:>12.2f}{slow_wall / fast_wall:>6.1f}x{slow_cpu:>10.1f}"
              f"{fast_cpu:>11.2f}{slow_cpu / fast_cpu:>6.1f}x{slow_flops / 1e12:>10.2f}{fast_flops / 1e12:>11.2f}"
              f"{slow_flops / fast_flops:>6.1f}x{diff:>12.2e}  {fast.p_clean:.4f}   {fast.p_corrupt:.4f}",
              flush=True)


def matmul_rate(seconds: float = 3.0) -> float:
    """FLOP/s of large fp32 matrix products on the current threads: the most this CPU does for a trace."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)     # (n, n): large enough to run at peak
    a @ b
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        done += 1
    return done * 2 * 2048 ** 3 / (time.perf_counter() - started)


def print_floor(lm, args) -> None:
    """Per kind: the fast path's FLOPs, its wall time, and the least time those FLOPs take at the matmul rate."""
    rate = matmul_rate()
    print(f"{lm.name}, {torch.get_num_threads()} threads: fp32 matmul rate {rate / 1e9:.0f} GFLOP/s")
    for kind in args.kinds:
        config = TraceConfig(kind=kind, samples=args.samples)
        wall = statistics.median(timed(trace, lm, config)[1] for _ in range(args.repeats))
        flops = counted_flops(trace, lm, config)
        print(f"{kind:<7}{flops / 1e9:>8.0f} GFLOP  fast wall {wall:6.2f} s  least possible at that rate "
              f"{flops / rate:6.2f} s  ({flops / rate / wall:.0%} of peak reached)", flush=True)


def timed(function, lm, config):
    """(result, wall seconds, CPU seconds of this process) of one trace."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(lm, PROMPT, SUBJECT, ANSWER, config)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def counted_flops(function, lm, config) -> int:
    """Floating-point operations of one trace, counted op by op (untimed)."""
    with FlopCounterMode(display=False) as counter:
        function(lm, PROMPT, SUBJECT, ANSWER, config)
    return counter.get_total_flops()


def reference_flops(lm, config, n_tokens: int) -> int:
    """The reference's operations: a 1-row prediction pass, then 1 + T x L passes of 1 + samples rows."""
    ids = lm.tokenizer(PROMPT, return_tensors="pt")["input_ids"].to(lm.device)  # (1, T)
    with torch.inference_mode(), FlopCounterMode(display=False) as one:
        lm.model(input_ids=ids)
    with torch.inference_mode(), FlopCounterMode(display=False) as batch:
        lm.model(input_ids=ids.repeat(1 + config.samples, 1))
    return one.get_total_flops() + (1 + n_tokens * lm.n_layers) * batch.get_total_flops()


if __name__ == "__main__":
    main()
