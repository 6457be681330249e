"""Collect greedy continuations from real unlearning runs, unlabelled, for a hand-labelled fluency set.

    .venv/bin/python bench/collect_fluency.py                          # every run below + the original model
    .venv/bin/python bench/collect_fluency.py --runs kuda-default,rmu-coeff20 --out /tmp/c.jsonl

Each run forgets the facts of one topic that the default model knows (answer's first token top-1),
retains the known facts of the other topics and the general texts (as bench/unlearn_quality.py,
without the held-out split: nothing is measured here). After the run, the 20-token greedy
continuation of every forget prompt and of every paraphrase the original model knew is written
with `forgotten` = the answer's first token is no longer top-1. The original model's continuations
of all probe prompts and paraphrases are written once, as source "original" (forgotten null).
Runs already in the output file are skipped, so an interrupted collection resumes. The weights are
reset (bit-exact, checked by hash) after each run. Labels are added by hand afterwards
(tests/fixtures/fluency_labels.jsonl, rule in docs/fluency_rule.md).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from kuda_core.data.checks import check_facts  # noqa: E402
from kuda_core.data.probes import load_general_texts, load_probes, split_by_topic  # noqa: E402
from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.forget.loop import iter_unlearn, reset  # noqa: E402
from kuda_core.model.generation import greedy_batch  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402
from kuda_core.model.snapshot import WeightSnapshot, state_dict_hash  # noqa: E402

# name -> (method, topic, overrides of the method's defaults). Defaults at 50 steps, then mild
# (few steps: wrong-but-fluent answers) and over-trained settings (long, large lr, no protection).
RUNS: dict[str, tuple[str, str, dict]] = {
    "kuda-default": ("kuda", "landmarks", {}),
    "kuda-steps200": ("kuda", "capitals", {"steps": 200}),
    "kuda-lr5e-3": ("kuda", "languages", {"lr": 5e-3}),
    "kuda-beta50-lam0-notau": ("kuda", "people", {"beta": 50.0, "lam": 0.0, "tau": None}),
    "kuda-lam0-notau-lr3e-3": ("kuda", "currencies", {"lam": 0.0, "tau": None, "lr": 3e-3}),
    "ga-default": ("ga", "capitals", {}),
    "ga-steps20": ("ga", "works", {"steps": 20}),
    "ga-lr5e-4-steps100": ("ga", "landmarks", {"lr": 5e-4, "steps": 100}),
    "ga-lr1e-3": ("ga", "people", {"lr": 1e-3}),
    "gd-default": ("gd", "companies", {}),
    "gd-lr1e-3": ("gd", "currencies", {"lr": 1e-3}),
    "npo-default": ("npo", "landmarks", {}),
    "npo-lr1e-3": ("npo", "capitals", {"lr": 1e-3}),
    "simnpo-default": ("simnpo", "geography", {}),
    "simnpo-lr1e-3": ("simnpo", "people", {"lr": 1e-3}),
    "rmu-default": ("rmu", "capitals", {}),
    "rmu-coeff20-steps150": ("rmu", "landmarks", {"coeff": 20.0, "steps": 150}),
    "rmu-alpha1-lr3e-3": ("rmu", "science", {"alpha": 1.0, "lr": 3e-3}),
    "rmu-steps15": ("rmu", "works", {"steps": 15}),
    "rmu-lr2e-4": ("rmu", "companies", {"lr": 2e-4}),
    "kuda-steps30": ("kuda", "geography", {"steps": 30}),
}


def known(lm, prompts: list[str], answers: list[str]) -> list[bool]:
    return [c.top1_ok for c in check_facts(lm, prompts, answers)]


def write(handle, rows: list[dict]) -> None:
    for row in rows:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    handle.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated names from {list(RUNS)}")
    parser.add_argument("--out", default=str(ROOT / "runs" / "fluency_raw.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["source"] for line in out.open()} if out.exists() else set()

    lm = load_model("default", device="cpu")
    original_hash = state_dict_hash(lm.model)
    facts = load_probes()
    facts_known = [f for f, ok in zip(facts, known(lm, [f.prompt for f in facts], [f.answer for f in facts])) if ok]
    texts = load_general_texts()

    with out.open("a") as handle:
        if "original" not in done:
            started = time.perf_counter()
            items = [(f, f.prompt, "prompt") for f in facts] + [(f, p, "paraphrase") for f in facts for p in f.paraphrases]
            continuations = greedy_batch(lm, [p for _, p, _ in items], max_new_tokens=20)
            write(handle, [{"source": "original", "method": None, "settings": None, "topic": f.topic, "kind": kind,
                            "prompt": p, "answer": f.answer, "continuation": c, "forgotten": None}
                           for (f, p, kind), c in zip(items, continuations)])
            print(f"original: {len(items)} continuations in {time.perf_counter() - started:.0f} s", flush=True)

        for name in args.runs.split(","):
            if name in done:
                print(f"{name}: already in {out}, skipped", flush=True)
                continue
            method, topic, overrides = RUNS[name]
            forget, retain = split_by_topic(facts_known, [topic])
            pairs = [(f, p) for f in forget for p in f.paraphrases]
            pairs = [pair for pair, ok in zip(pairs, known(lm, [p for _, p in pairs], [f.answer for f, _ in pairs])) if ok]
            config = UnlearnConfig.create(method, **{"steps": 50, **overrides, "eval_every": 0, "stop_at": None})
            snapshot = WeightSnapshot()
            started = time.perf_counter()
            records = list(iter_unlearn(lm, forget, retain, texts, config, snapshot))
            seconds = time.perf_counter() - started
            if records[-1].status == "error":
                print(f"{name}: error {records[-1].message}", flush=True)
                reset(lm, snapshot)
                continue
            items = [(f, f.prompt, "prompt") for f in forget] + [(f, p, "paraphrase") for f, p in pairs]
            continuations = greedy_batch(lm, [p for _, p, _ in items], max_new_tokens=20)
            still = known(lm, [p for _, p, _ in items], [f.answer for f, _, _ in items])
            settings = {k: v for k, v in config.settings().items()
                        if k in ("steps", "lr", "tau", "layers", *config.options.model_fields)}
            write(handle, [{"source": name, "method": method, "settings": {**settings, "layers": list(config.layers)},
                            "topic": topic, "kind": kind, "prompt": p, "answer": f.answer, "continuation": c,
                            "forgotten": not ok, "run_seconds": round(seconds, 1)}
                           for (f, p, kind), c, ok in zip(items, continuations, still)])
            n_forgotten = sum(not ok for ok in still)
            print(f"{name}: {method} on {topic} ({len(forget)} facts, {len(pairs)} paraphrases), {records[-1].step} steps "
                  f"in {seconds:.0f} s; {n_forgotten}/{len(items)} prompts forgotten", flush=True)
            reset(lm, snapshot)
            assert state_dict_hash(lm.model) == original_hash, "reset was not bit-exact"


if __name__ == "__main__":
    main()
