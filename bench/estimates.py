"""The app's run-time estimates against the times measured right after them, on the default model.

    .venv/bin/python bench/estimates.py                # traces and Forget runs, alone on this machine

Traces: the estimator is calibrated as the app does at start (one timed pass, no trace recorded),
then each trace is estimated, run and recorded, as the Locate tab does. Forget: the estimator
learns from one short run (as after a visitor's first run), then estimates longer runs and a larger
fact set before each runs (each of them recorded after, as the Forget tab does). Prints estimated
and measured seconds and their ratio; the aim is a ratio between 0.5 and 2.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.forget.estimate import ForgetTimeEstimator  # noqa: E402
from kuda_core.locate.config import TraceConfig  # noqa: E402
from kuda_core.locate.estimate import TraceTimeEstimator  # noqa: E402
from kuda_core.locate.tracing import trace  # noqa: E402
from kuda_core.workflows import jobs  # noqa: E402
from kuda_core.workflows.data import DataChoice, build_split  # noqa: E402
from kuda_core.workflows.host import ModelHost  # noqa: E402
from kuda_core.workflows.runs import RunRecord  # noqa: E402
from kuda_core.workflows.visitor import Visitor  # noqa: E402

EIFFEL = "The Eiffel Tower is located in the city of"
TRACES = [(EIFFEL, "Eiffel Tower", "mlp", 10), (EIFFEL, "Eiffel Tower", "hidden", 3),
          ("The Colosseum is located in the city of", "Colosseum", "attn", 5)]


def row(name: str, estimated: float | None, measured: float) -> None:
    ratio = f"{measured / estimated:.2f}" if estimated else "no estimate yet"
    shown = f"{estimated:.1f}" if estimated else "-"
    print(f"| {name} | {shown} | {measured:.1f} | {ratio} |", flush=True)


def traces(lm) -> None:
    estimator = TraceTimeEstimator()
    estimator.calibrate(lm)
    for prompt, subject, kind, samples in TRACES:
        estimated = estimator.estimate(lm, prompt, subject, (kind,), samples)
        started = time.perf_counter()
        trace(lm, prompt, subject, None, TraceConfig(kind=kind, samples=samples))
        measured = time.perf_counter() - started
        estimator.record(estimated, measured)
        row(f"trace {kind}, {samples} samples, {subject}", estimated, measured)


def forget_runs(host: ModelHost) -> None:
    estimator, model = ForgetTimeEstimator(), (host.version, id(host.lm.model))
    eiffel = DataChoice(prompts=(EIFFEL,))
    topic = DataChoice(topics=("landmarks",))
    config = UnlearnConfig.create("kuda", layers=(5, 6, 7), steps=10, stop_at=None)   # every step runs
    for name, choice, steps in [("Forget, Eiffel fact, 10 steps (teaches the estimator)", eiffel, 10),
                                ("Forget, Eiffel fact, 30 steps", eiffel, 30),
                                ("Forget, landmarks topic, 20 steps", topic, 20)]:
        run = RunRecord(choice, build_split(choice), replace(config, steps=steps))
        estimated = estimator.estimate(model, run.config, run.data)
        started = time.perf_counter()
        for _ in jobs.iter_forget(host, Visitor(), run):
            pass
        measured = time.perf_counter() - started
        estimator.record(model, run.config, run.data, run.records, measured)
        row(name, estimated, measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    host = ModelHost()
    host.load("default", device="cpu")
    print("| job | estimated s | measured s | measured / estimated |\n|---|---|---|---|")
    traces(host.lm)
    forget_runs(host)


if __name__ == "__main__":
    main()
