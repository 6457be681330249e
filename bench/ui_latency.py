"""Latency of the app's named API on the default model: each action alone, then with 8 visitors at once.

    .venv/bin/python bench/ui_latency.py                       # starts the app, prints both tables
    .venv/bin/python bench/ui_latency.py --visitors 8 --seconds 120 --url http://127.0.0.1:7860/

Alone: generate, one trace kind (mlp, 10 samples, the Eiffel prompt), a 10-step Forget, Compare on
the default sets, Evaluate on the default sets (twice: the second reads the original side from the
cache), Export. Under load: every simulated visitor (its own gradio_client session) loops over
generate / a small trace / Compare / a 5-step Forget / the "Is it really gone?" checks (3 relearning
steps, which train between other visitors' jobs; visitors 0 and 1 open with them) chosen at random, for
the given time; failures are counted and light requests' latency reported (median, 95th percentile).
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACT = "The Eiffel Tower is located in the city of | Eiffel Tower | Paris"
LIGHT = ("generate",)
WEIGHTS = (4, 2, 2, 2, 1)   # generate, trace, compare, forget, checks: a room mostly asks the model things
ACTIONS = {
    "generate": dict(prompt="The capital of France is", max_new_tokens=20, api_name="/generate"),
    "trace (mlp, 3 samples)": dict(kinds=["mlp"], samples=3, api_name="/trace"),
    "compare": dict(api_name="/compare"),
    "forget (5 steps)": dict(facts=FACT, settings='{"steps": 5}', api_name="/forget"),
    "checks (relearning 3 steps)": dict(shots=3, examples=2, steps="3", api_name="/checks"),
}
NEEDS_RUN = ("compare", "checks (relearning 3 steps)")     # these need a Forget run of the visitor first


def timed(client, **kwargs) -> float:
    started = time.perf_counter()
    client.predict(**kwargs)
    return time.perf_counter() - started


def estimated(outputs) -> str:
    """The app's own estimate quoted in a trace's status ("Traced ' Paris' in 9.8 s (estimated 12 s): ...")."""
    found = re.search(r"\(estimated (\d+) s\)", " ".join(str(o) for o in outputs))
    return f"{found.group(1)} s" if found else "not shown"


def alone(url: str) -> list[tuple[str, float]]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    rows = [("generate", timed(client, **ACTIONS["generate"]))]
    started = time.perf_counter()
    outputs = client.predict(kinds=["mlp"], samples=10, api_name="/trace")
    rows += [(f"trace (mlp, 10 samples; the app estimated {estimated(outputs)})", time.perf_counter() - started),
            ("forget (10 steps)", timed(client, facts=FACT, settings='{"steps": 10}', api_name="/forget")),
            ("compare (default sets)", timed(client, api_name="/compare")),
            ("evaluate (default sets, first)", timed(client, api_name="/evaluate")),
            ("evaluate (original side cached)", timed(client, api_name="/evaluate")),
            ("export", timed(client, path=f"latency-{int(time.time())}", api_name="/export"))]
    return rows


def load(url: str, visitors: int, seconds: float, seed: int = 0) -> tuple[dict[str, list[float]], list[str]]:
    """{action: latencies} and the failures of `visitors` clients looping for `seconds`.

    Visitors 0 and 1 each make a Forget run first (before the clock starts) and open with the checks,
    so that two relearning attacks train at once while the others' jobs take turns with them.
    """
    from gradio_client import Client

    latencies: dict[str, list[float]] = {name: [] for name in ACTIONS}
    failures: list[str] = []
    lock = threading.Lock()
    prepared = [Client(url, verbose=False) for _ in range(min(2, visitors))]
    runs = [threading.Thread(target=c.predict, kwargs=ACTIONS["forget (5 steps)"]) for c in prepared]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    deadline = time.perf_counter() + seconds

    def visitor(number: int) -> None:
        rng = random.Random(seed + number)
        opening = ["checks (relearning 3 steps)"] if number < len(prepared) else []
        client = prepared[number] if opening else Client(url, verbose=False)
        has_run = bool(opening)
        while time.perf_counter() < deadline:
            name = opening.pop() if opening else rng.choices(list(ACTIONS), weights=WEIGHTS)[0]
            if name in NEEDS_RUN and not has_run:
                name = "forget (5 steps)"
            try:
                took = timed(client, **ACTIONS[name])
                with lock:
                    latencies[name].append(took)
                has_run = has_run or name.startswith("forget")
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    failures.append(f"{name}: {type(error).__name__}: {error}"[:300])

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def report_load(latencies: dict[str, list[float]], failures: list[str], visitors: int, seconds: float) -> None:
    print(f"\n{visitors} visitors for {seconds:.0f} s: {sum(map(len, latencies.values()))} requests, "
          f"{len(failures)} failed")
    print("| action | requests | median s | 95th percentile s | max s |\n|---|---|---|---|---|")
    for name, values in latencies.items():
        if values:
            print(f"| {name} | {len(values)} | {statistics.median(values):.2f} | {percentile(values, 0.95):.2f} | "
                  f"{max(values):.2f} |")
    for failure in failures[:10]:
        print("FAILED", failure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=None, help="a running app (default: start one)")
    parser.add_argument("--visitors", type=int, default=8, help="0: the actions alone only")
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    app = None
    if args.url is None:
        from tests.browser import AppProcess

        app = AppProcess()
        args.url = app.url
    try:
        print("| action (alone) | seconds |\n|---|---|")
        for name, seconds in alone(args.url):
            print(f"| {name} | {seconds:.2f} |", flush=True)
        if args.visitors > 0:
            report_load(*load(args.url, args.visitors, args.seconds), args.visitors, args.seconds)
    finally:
        if app is not None:
            app.stop()


if __name__ == "__main__":
    main()
