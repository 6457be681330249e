"""The app's memory over a visitor's whole story: resident memory before, after and at the peak of each action.

    .venv/bin/python bench/memory.py                                   # starts the app, two visitors one after another
    .venv/bin/python bench/memory.py --url http://127.0.0.1:7860/ --visitors 3
    .venv/bin/python bench/memory.py --visitors 3 --together         # the three stories at the same time

Each visitor (its own gradio_client session) runs the story through the named API: a trace of all three kinds,
Forget on the traced fact with the suggested layers, Compare, the checks ("Is it really gone?"), Evaluate, Runs,
Export. A thread samples the app process's resident set size (psutil) every 0.2 s. What the table shows: how much
each action leaves behind (after - before) and how high it goes while it runs (peak - before). With --url the
app's process is the one listening on that port.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPT, SUBJECT = "The Eiffel Tower is located in the city of", "Eiffel Tower"


class Sampler(threading.Thread):
    """Samples one process's RSS (bytes) every `every` s; `window()` gives the peak since the last call."""

    def __init__(self, process: psutil.Process, every: float = 0.2):
        super().__init__(daemon=True)
        self.process, self.every, self.peak, self.running = process, every, 0, True

    def rss(self) -> int:
        return self.process.memory_info().rss

    def run(self):
        while self.running:
            self.peak = max(self.peak, self.rss())
            time.sleep(self.every)

    def window(self) -> int:
        peak, self.peak = max(self.peak, self.rss()), self.rss()
        return peak


def story(client):
    """The actions of one visitor, in order: (name, callable)."""
    found = {}

    def trace():
        status, layers, _ = client.predict(prompt=PROMPT, subject=SUBJECT, kinds=["hidden", "mlp", "attn"], samples=3,
                                           api_name="/trace")
        found["layers"] = layers

    return [("trace (3 kinds, 3 samples)", trace),
            ("forget (defaults)", lambda: client.predict(facts=f"{PROMPT} | {SUBJECT} | Paris", layers=found["layers"],
                                                         api_name="/forget")),
            ("compare", lambda: client.predict(api_name="/compare")),
            ("checks", lambda: client.predict(api_name="/checks")),
            ("evaluate", lambda: client.predict(api_name="/evaluate")),
            ("runs", lambda: client.predict(api_name="/runs")),
            ("export", lambda: client.predict(api_name="/export"))]


def listening(port: int) -> psutil.Process:
    """The process listening on `port` (this machine)."""
    for connection in psutil.net_connections("tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
            return psutil.Process(connection.pid)
    raise SystemExit(f"No process listens on port {port}")


def together(url: str, process: psutil.Process, visitors: int) -> None:
    """Every visitor runs the story at the same time (threads); one line per visitor, then the whole span."""
    from gradio_client import Client

    sampler = Sampler(process)
    sampler.start()
    start_rss, started, done = sampler.rss(), time.perf_counter(), []

    def one(number: int) -> None:
        client = Client(url, verbose=False)
        began = time.perf_counter()
        for _, action in story(client):
            action()
        done.append((number, time.perf_counter() - began))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(1, visitors + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sampler.running = False
    print("| visitors at once | story s (each) | before GiB | peak GiB | after GiB |\n|---|---|---|---|---|")
    print(f"| {visitors} | {', '.join(f'{s:.0f}' for _, s in sorted(done))} | {start_rss / 2**30:.2f} | "
          f"{sampler.window() / 2**30:.2f} | {sampler.rss() / 2**30:.2f} |")
    if len(done) < visitors:
        raise SystemExit(f"{visitors - len(done)} visitor(s) failed (see above)")


def measure(url: str, process: psutil.Process, visitors: int) -> None:
    from gradio_client import Client

    sampler = Sampler(process)
    sampler.start()
    print(f"app pid {process.pid}, {sampler.rss() / 2**30:.2f} GiB resident at the start")
    print("| visitor | action | s | before GiB | peak GiB | after GiB |\n|---|---|---|---|---|---|")
    for visitor in range(1, visitors + 1):
        client = Client(url, verbose=False)
        for name, action in story(client):
            before, started = sampler.rss(), time.perf_counter()
            sampler.window()
            action()
            took, peak, after = time.perf_counter() - started, sampler.window(), sampler.rss()
            print(f"| {visitor} | {name} | {took:.0f} | {before / 2**30:.2f} | {peak / 2**30:.2f} | "
                  f"{after / 2**30:.2f} |", flush=True)
    sampler.running = False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="a running app on this machine (default: start one)")
    parser.add_argument("--visitors", type=int, default=2)
    parser.add_argument("--together", action="store_true", help="the visitors' stories at the same time")
    args = parser.parse_args(argv)
    run = together if args.together else measure
    if args.url is not None:
        return run(args.url, listening(int(args.url.rstrip("/").rsplit(":", 1)[1])), args.visitors)
    from tests.browser import AppProcess

    app = AppProcess()
    try:
        run(app.url, psutil.Process(app.process.pid), args.visitors)
    finally:
        app.stop()


if __name__ == "__main__":
    main()
