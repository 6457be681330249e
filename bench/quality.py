"""Shared by the quality benches: the dev / test topics, each topic's data, one run and its measures.

    data = topic_data(topic)                              # DataSplit: half the topic forgotten, the rest neighbours
    layers = suggested_layers(lm, data.forget)            # what Locate suggests on its defaults
    result = run_method(lm, data, UnlearnConfig.create("kuda", layers=layers))   # dict of measures + answers

Dev topics choose every default and every baseline's settings; test topics are only measured, with
settings frozen in bench/results/frozen_settings.json before the test run. A topic's known facts
(the default model answers all of them) are shuffled with a fixed seed: the first half (at most
15) is forgotten, the other facts of the same relation are the neighbours (held out, never
trained on); the other relations' facts are retain facts, a quarter of them held out.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from kuda_core.data.checks import check_facts
from kuda_core.data.probes import load_general_texts, load_probes, topics
from kuda_core.data.splits import DataSplit, split_probes
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.loop import iter_unlearn
from kuda_core.inspect.fluency import check_fluency
from kuda_core.locate.config import TraceConfig
from kuda_core.locate.suggest import DEFAULT_TOKEN, layer_scores, suggest_window
from kuda_core.locate.tracing import trace
from kuda_core.model.generation import greedy_batch
from kuda_core.model.loading import cache_dir
from kuda_core.model.logprobs import perplexity_of
from kuda_core.model.snapshot import WeightSnapshot, state_dict_hash

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEV_TOPICS = ("capitals", "languages", "continents", "elements", "opposites", "sports")
TEST_TOPICS = ("landmarks", "currencies", "authors", "cities", "nationalities", "brands")
SPLITS = {"dev": DEV_TOPICS, "test": TEST_TOPICS}
MAX_FORGET = 15
HOLDOUT = 0.25


def topic_data(topic: str, seed: int = 0) -> DataSplit:
    """Half of the topic's facts (at most MAX_FORGET) forgotten; neighbours and retain as in the module docstring."""
    probes = load_probes()
    facts = list(topics(probes)[topic])
    random.Random(seed).shuffle(facts)
    forget = facts[: min(MAX_FORGET, len(facts) // 2)]
    return split_probes(probes, load_general_texts(), prompts=[f.prompt for f in forget], holdout_fraction=HOLDOUT,
                        seed=seed)


def suggested_layers(lm, facts, samples: int = 10, token: str = DEFAULT_TOKEN, size: int = 3,
                     exclude_layer0: bool = True) -> tuple[int, ...]:
    """The window Locate suggests from MLP traces of `facts` (its defaults unless told otherwise)."""
    effects, ranges = [], []
    for fact in facts:
        effect, subject_range = _mlp_trace(lm, fact, samples)
        effects.append(effect)
        ranges.append(subject_range)
    return suggest_window(layer_scores(effects, ranges, token), size, exclude_layer0).layers


def _mlp_trace(lm, fact, samples: int) -> tuple[np.ndarray, tuple[int, int]]:
    """(indirect effect grid, subject range) of a fact's MLP trace, kept on disk between bench runs."""
    key = hashlib.sha256(json.dumps([lm.name, fact.prompt, fact.subject, fact.answer, samples]).encode()).hexdigest()
    path = cache_dir() / "bench-traces" / f"{key[:24]}.json"
    if not path.is_file():
        result = trace(lm, fact.prompt, fact.subject, fact.answer, TraceConfig(kind="mlp", samples=samples))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"effect": np.nan_to_num(result.indirect_effect).tolist(),
                                    "range": list(result.subject_range)}))
    saved = json.loads(path.read_text())
    return np.array(saved["effect"]), tuple(saved["range"])


def accuracy(lm, prompts, answers) -> float:
    if not prompts:
        return float("nan")
    return float(np.mean([c.top1_ok for c in check_facts(lm, list(prompts), list(answers))]))


def known_paraphrases(lm, facts) -> list[tuple[str, str]]:
    pairs = [(p, f.answer) for f in facts for p in f.paraphrases]
    checks = check_facts(lm, [p for p, _ in pairs], [a for _, a in pairs]) if pairs else []
    return [pair for pair, c in zip(pairs, checks) if c.top1_ok]


def measure(lm, data: DataSplit, paraphrases, snapshot) -> dict:
    """Accuracy of every set, held-out perplexity, and the fluency of the forgotten facts' answers."""
    forget = list(data.forget)
    checks = check_facts(lm, [f.prompt for f in forget], [f.answer for f in forget])
    answers = greedy_batch(lm, [f.prompt for f in forget], 20)
    fluent = check_fluency(lm, [f.prompt for f in forget], answers, snapshot)
    forgotten = [i for i, c in enumerate(checks) if not c.top1_ok]
    return {
        "forget": float(np.mean([c.top1_ok for c in checks])),
        "paraphrase": accuracy(lm, [p for p, _ in paraphrases], [a for _, a in paraphrases]),
        "neighbours": accuracy(lm, [f.prompt for f in data.neighbours], [f.answer for f in data.neighbours]),
        "retain": accuracy(lm, [f.prompt for f in data.retain_held], [f.answer for f in data.retain_held]),
        "ppl": perplexity_of(lm, list(data.texts_held)),
        "fluent": float(np.mean([fluent[i].fluent for i in forgotten])) if forgotten else float("nan"),
        "n_forgotten": len(forgotten),
        "answers": answers,
    }


def run_method(lm, data: DataSplit, config: UnlearnConfig, baseline: dict | None = None, after=None) -> dict:
    """Train, measure, restore the original weights (checked bit for bit); returns the measures.

    `after(lm, data, snapshot, config) -> dict` adds measures taken on the unlearned model (attacks)."""
    torch.manual_seed(0)
    original = state_dict_hash(lm.model)
    paraphrases = known_paraphrases(lm, data.forget) if baseline is None else baseline["_paraphrases"]
    snapshot = WeightSnapshot()
    started = time.perf_counter()
    records = list(iter_unlearn(lm, data.forget, data.retain_used, data.texts_used, config, snapshot, data.neighbours))
    seconds = time.perf_counter() - started
    result = measure(lm, data, paraphrases, snapshot)
    result.update(seconds=seconds, steps=records[-1].step, status=records[-1].status, message=records[-1].message)
    if after is not None:
        result.update(after(lm, data, snapshot, config))
    snapshot.restore(lm.model)
    if state_dict_hash(lm.model) != original:
        raise RuntimeError("restoring the original weights was not bit-exact")
    return result


def original_measures(lm, data: DataSplit) -> dict:
    """The measures of the untouched model (the reference for every run on this data)."""
    paraphrases = known_paraphrases(lm, data.forget)
    return {**measure(lm, data, paraphrases, None), "_paraphrases": paraphrases}


def summary(results: list[dict], originals: list[dict]) -> dict:
    """Means over topics: accuracies, neighbour / retain kept relative to the original, ppl change, time."""
    def mean(key):
        values = [r[key] for r in results if not np.isnan(r[key])]
        return float(np.mean(values)) if values else float("nan")

    kept = lambda key: float(np.mean([r[key] / o[key] for r, o in zip(results, originals) if o[key] > 0]))  # noqa: E731
    return {"forget": mean("forget"), "paraphrase": mean("paraphrase"), "neighbours_kept": kept("neighbours"),
            "retain_kept": kept("retain"), "fluent": mean("fluent"), "seconds": mean("seconds"),
            "max_seconds": max(r["seconds"] for r in results), "steps": mean("steps"),
            "ppl_change": float(np.mean([r["ppl"] / o["ppl"] - 1 for r, o in zip(results, originals)]))}
