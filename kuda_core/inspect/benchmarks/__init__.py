"""Benchmarks run before and after unlearning: multiple choice (WMDP / MMLU) and MUSE metrics.

    >>> runs = make_benchmarks(mc=[{"source": "tests/fixtures/wmdp_sample.jsonl"}],
    ...                        muse={"source": "tests/fixtures/muse"})
    >>> runs["MC wmdp_sample"](lm)          # {"accuracy": 0.4}
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from kuda_core.model.loading import LoadedModel
from kuda_core.inspect.benchmarks.multiple_choice import MCConfig, default_topic, load_mc, mc_accuracy
from kuda_core.inspect.benchmarks.muse import MuseConfig, muse_metrics
from kuda_core.inspect.benchmarks.muse_data import load_muse

Benchmark = Callable[[LoadedModel], Mapping[str, float]]


def make_benchmarks(mc: Sequence[Mapping] = (), muse: Mapping | None = None) -> dict[str, Benchmark]:
    """Benchmark functions from specs: mc = [{"source", "split"?, "limit"?, "topic"?, "batch_size"?}],
    muse = {"source", "auc_retrained"?, <MuseConfig fields>}. Data is loaded (and checked) here."""
    benchmarks: dict[str, Benchmark] = {}
    for spec in mc:
        questions = load_mc(spec["source"], spec.get("split", "test"), spec.get("limit"))
        config = MCConfig(spec.get("topic") or default_topic(spec["source"]), spec.get("batch_size", 8))
        benchmarks[f"MC {Path(str(spec['source'])).stem}"] = (
            lambda lm, q=questions, c=config: {"accuracy": mc_accuracy(lm, q, c).accuracy})
    if muse is not None:
        data = load_muse(muse["source"])
        config = MuseConfig(**{k: v for k, v in muse.items() if k not in ("source", "auc_retrained")})
        auc = muse.get("auc_retrained")
        benchmarks["MUSE"] = lambda lm: muse_metrics(lm, data, config, auc)
    return benchmarks
