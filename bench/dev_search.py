"""Choose defaults on the DEV topics only: every variant runs on each dev topic; results append to a log.

    .venv/bin/python bench/dev_search.py --stage layers                 # Locate's suggestion rules for KUDA
    .venv/bin/python bench/dev_search.py --stage kuda --layers strongest-3
    .venv/bin/python bench/dev_search.py --stage baselines --layers strongest-3
    .venv/bin/python bench/dev_search.py --summary                      # one line per variant from the log
    .venv/bin/python bench/dev_search.py --choose                       # best variant per method -> frozen settings
    .venv/bin/python bench/dev_search.py --choose --methods kuda --topics capitals,languages,continents,elements,opposites,sports

Each run appends {stage, variant, topic, measures} to bench/results/dev_runs.jsonl; --summary
averages them per variant (quality.summary). Test topics are never touched here.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from quality import DEV_TOPICS, RESULTS, original_measures, run_method, suggested_layers, summary, topic_data  # noqa: E402

from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402

LOG = RESULTS / "dev_runs.jsonl"
# Three of the six dev topics: on 2 CPU cores a run takes 1-3 minutes, and every variant runs on each of them.
# What was run in the end (bench/results/dev_runs.jsonl): the layer rules and KUDA's variants on all three; the
# baselines on capitals only (runs took 3-12 minutes next to the test run), and RMU's two variants never ran, so
# RMU is measured on its defaults. frozen_settings.json was chosen with --choose --topics capitals, the one topic
# every method ran on (KUDA's choice is the same over all three).
# Later, KUDA alone on all six dev topics (the three above were easy: every prompt forgotten within the cap;
# languages, continents and opposites all hit it with 13-21% answered, as four test topics did): beta 3 0.705,
# remaining_only 0.711 (chosen: --choose --methods kuda over the six), remaining_only + lr 3e-3 0.710; 200 steps
# (with or without remaining_only) ran on languages only: more facts answered at step 200 than at 100, and
# 115-131 s for one topic, over the 120 s budget, so they were stopped there.
# After that test run, a second round on the six dev topics (scores): remaining_only + norm_weight 0.3 0.726,
# + norm_weight 1 0.720, + norm_weight 1 + train_inputs 0.720, + train_inputs 0.716; + retain_kl 1 ran on
# languages only (80% still answered, 345 s) and was stopped. Not adopted: the best score (norm 0.3) leaves 23%
# of the dev prompts answered (the score trades forgetting for fluency one for one), and a second default tested
# in the same session would start to reuse the test split. See the README.
# A third round, in a later session, ran in bench/robustness.py with the prompt attacks and a rule fixed
# before it (CANDIDATES, choose_default there): lr 3e-3 was chosen and frozen; its sixth round chose one copy
# of each context augmentation at lr 1e-3, the current default. See the README.
# An eighth round (bench/dev_rounds.py) tuned every baseline on the six dev topics under that rule: the settings
# chosen here on capitals all stayed.
SEARCH_TOPICS = ("capitals", "elements", "sports")
LAYER_RULES = {"last-3": ("last", 3), "strongest-3": ("strongest", 3), "strongest-5": ("strongest", 5),
               "last-5": ("last", 5)}
COMMON = {"steps": 100, "check_every": 10}
# KUDA's variants here ran before augmentation and the stall boost became its defaults (and at lr 1e-3):
# pinned, so that each stays the run it was
KUDA_THEN = {"lr": 1e-3, "augment": (), "stall_boost": 1.0}
BETA_3 = {"forget_tokens": "subject", "beta": 3.0}
REMAINING = {**BETA_3, "remaining_only": True}
STAGES = {
    "layers": {f"kuda {rule}": ("kuda", rule, {"forget_tokens": "subject"}) for rule in LAYER_RULES}
    | {"kuda fixed 4-6": ("kuda", (4, 5, 6), {"forget_tokens": "subject"})},
    # Measured on capitals only and left out of the other topics (2 CPU cores): tau 0.001 and lam 30 stop
    # forgetting (0.93 / 0.73 of capitals still answered), lr 3e-3 is the default's result, and subject+last
    # (forget 0.13, neighbours 0.38), tau 0.01 (0.13, 166 s), lam 10 (0.20) and cos2 (0.40) all lose to "subject"
    "kuda": {
        "subject": ("kuda", None, {"forget_tokens": "subject"}),
        "subject beta 3": ("kuda", None, BETA_3),
        "subject augment prefix+question": ("kuda", None, {"forget_tokens": "subject",
                                                           "augment": ("prefix", "question")}),
        "subject beta 3 steps 200": ("kuda", None, {**BETA_3, "steps": 200}),
        "subject beta 3 remaining": ("kuda", None, REMAINING),
        **{f"subject beta 3 remaining {name}": ("kuda", None, {**REMAINING, **extra}) for name, extra in {
            "lr 3e-3": {"lr": 3e-3}, "norm 1": {"norm_weight": 1.0},
            "norm 1 inputs": {"norm_weight": 1.0, "train_inputs": True}, "norm 0.3": {"norm_weight": 0.3},
            "inputs": {"train_inputs": True}, "kl 1": {"retain_kl": 1.0}, "steps 200": {"steps": 200},
        }.items()},
    },
    "baselines": {
        **{f"{m} lr {lr:g}": (m, None, {"lr": lr}) for m in ("ga", "gd", "npo", "simnpo") for lr in (1e-4, 3e-4)},
        **{f"rmu alpha {a:g}": ("rmu", None, {"alpha": a}) for a in (100.0, 1000.0)},
    },
}


def layers_for(lm, data, rule) -> tuple[int, ...]:
    if isinstance(rule, tuple) and all(isinstance(x, int) for x in rule):
        return rule
    token, size = LAYER_RULES[rule]
    return suggested_layers(lm, data.forget, token=token, size=size)


def run_stage(stage: str, default_rule: str, topics, only: str | None) -> None:
    lm = load_model("default")
    variants = {k: v for k, v in STAGES[stage].items() if only is None or only in k}
    for topic in topics:
        data = topic_data(topic)
        base = original_measures(lm, data)
        for name, (method, rule, settings) in variants.items():
            layers = layers_for(lm, data, rule or default_rule)
            pinned = KUDA_THEN if method == "kuda" else {}
            config = UnlearnConfig.create(method, layers=layers, **{**COMMON, **pinned, **settings})
            result = run_method(lm, data, config, base)
            row = {"stage": stage, "variant": name, "topic": topic, "layers": list(config.layers), "method": method,
                   "settings": {**COMMON, **settings},
                   **{k: v for k, v in result.items() if k != "answers"}, "answers": result["answers"][:5],
                   "original": {k: base[k] for k in ("neighbours", "retain", "ppl")}}
            with LOG.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"{topic:<10} {name:<32} layers {list(config.layers)} forget {result['forget']:.2f} "
                  f"para {result['paraphrase']:.2f} neigh {result['neighbours']:.2f} retain {result['retain']:.2f} "
                  f"fluent {result['fluent']:.2f} {result['seconds']:.0f}s {result['steps']} steps", flush=True)


def score(s: dict) -> float:
    """One number per variant, the same for every method: forgetting (prompts, paraphrases), precision
    (neighbours, other facts), fluency. Wall time is left out: on this shared 2-core machine other jobs
    ran next to the search and doubled some runs' times; the 120 s budget is checked on the test split."""
    parts = [1 - s["forget"], 1 - s["paraphrase"], s["neighbours_kept"], s["retain_kept"], s["fluent"]]
    return float(np.nanmean(parts))


def choose(topics, methods=None) -> dict:
    """The best-scoring variant of every method (or only of `methods`; the others keep their frozen
    settings) over `topics` (a variant must have run on each of them), written to frozen_settings.json."""
    best: dict[str, tuple] = {}
    for (stage, variant), rows in _groups().items():
        rows = [r for r in rows if r["topic"] in topics and "method" in r]   # the layers stage chose no settings
        if {r["topic"] for r in rows} != set(topics) or (methods and rows[0]["method"] not in methods):
            continue
        method, settings = rows[0]["method"], rows[0]["settings"]
        value = score(summary(rows, [r["original"] for r in rows]))
        if method not in best or value > best[method][0]:
            best[method] = (value, variant, settings)
    for method, (value, variant, settings) in best.items():
        print(f"{method}: {variant} (score {value:.3f}) -> {settings}")
    path = RESULTS / "frozen_settings.json"
    frozen = json.loads(path.read_text()) if methods and path.is_file() else {}
    frozen |= {method: settings for method, (_, _, settings) in best.items()}
    path.write_text(json.dumps(frozen, indent=2) + "\n")
    return frozen


def _groups() -> dict:
    groups: dict[tuple, list] = defaultdict(list)
    for line in LOG.read_text().splitlines():
        row = json.loads(line)
        groups[(row["stage"], row["variant"])].append(row)
    return groups


def print_summary() -> None:
    groups = _groups()
    print(f"{'stage/variant':<44}{'n':>3}{'forget':>8}{'para':>7}{'neigh':>7}{'retain':>8}{'fluent':>8}{'sec':>6}{'max':>6}{'score':>7}")
    for (stage, variant), rows in groups.items():
        s = summary(rows, [r["original"] for r in rows])
        print(f"{stage + '/' + variant:<44}{len(rows):>3}{s['forget']:>8.2f}{s['paraphrase']:>7.2f}"
              f"{s['neighbours_kept']:>7.2f}{s['retain_kept']:>8.2f}{s['fluent']:>8.2f}{s['seconds']:>6.0f}"
              f"{s['max_seconds']:>6.0f}{score(s):>7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=list(STAGES))
    parser.add_argument("--layers", default="strongest-3", help="layer rule for stages that do not vary it")
    parser.add_argument("--topics", default=",".join(SEARCH_TOPICS))
    parser.add_argument("--only", default=None, help="run only variants whose name contains this")
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("--choose", action="store_true", help="write frozen_settings.json from the log")
    parser.add_argument("--methods", default=None, help="with --choose: choose only these methods' settings")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.summary:
        print_summary()
        return
    if args.choose:
        choose(args.topics.split(","), args.methods.split(",") if args.methods else None)
        return
    torch.set_num_threads(args.threads)
    topics = args.topics.split(",")
    if any(t not in DEV_TOPICS for t in topics):
        raise SystemExit(f"dev_search runs dev topics only: {DEV_TOPICS}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    run_stage(args.stage, args.layers, topics, args.only)


if __name__ == "__main__":
    main()
