"""Is it really gone? Every method at its frozen settings on the TEST topics, then the attacks.

    .venv/bin/python bench/robustness.py                          # all methods
    .venv/bin/python bench/robustness.py --methods kuda,gd --split dev
    .venv/bin/python bench/robustness.py --methods ga,gd --add     # add methods to the earlier reports
    .venv/bin/python bench/robustness.py --methods gd --topics brands --add   # one method on one more topic
    .venv/bin/python bench/robustness.py --report                  # the reports again from the saved results
    .venv/bin/python bench/robustness.py --split dev --methods kuda,kuda+augment --topics capitals,elements,sports
    .venv/bin/python bench/robustness.py --choose                   # the fixed rule on the dev results -> KUDA's settings
    .venv/bin/python bench/robustness.py --choose --candidates gd,gd+lr3e-5   # one round's candidates, one method

Per method and topic (the same runs as bench/unlearn_quality.py): share of the forgotten facts
brought back by a 3-shot prefix of true facts of the same relation and by the question format with
2 answered examples; relearning recovery beyond its control after 10 and 30 steps (fine-tuning
the edited projections on half the forget facts, measuring the other half, minus the same
fine-tuning on unrelated facts); the logit-lens median rank of the answer, the lowest over the
layers above the edited ones (high = not readable there). Writes bench/results/robustness_<split>.md,
and the quality report of the same runs (bench/results/unlearn_quality_<split>.md), so one run gives both.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from quality import RESULTS, SPLITS, summary  # noqa: E402
from unlearn_quality import align, frozen_settings, run_split, table, write_report  # noqa: E402

from dev_rounds import VARIANTS  # noqa: E402

from kuda_core.forget.methods import METHODS  # noqa: E402
from kuda_core.forget.setup import trainable_names  # noqa: E402
from kuda_core.inspect.attacks.lens import logit_lens  # noqa: E402
from kuda_core.inspect.attacks.prompts import AttackConfig, iter_prompt_attacks  # noqa: E402
from kuda_core.inspect.attacks.relearn import RelearnConfig, iter_relearn  # noqa: E402

CANDIDATES = ("kuda", *[label for label, (method, _) in VARIANTS.items() if method == "kuda"])   # KUDA's rounds
COLUMNS = ("3-shot recovered", "question, 2 examples recovered", "relearn @10", "relearn @30", "lens rank")


def attacks(lm, data, snapshot, config) -> dict:
    """The attack measures of one unlearned model (weights put back by the attacks themselves)."""
    forget, context = list(data.forget), [*data.neighbours, *data.retain_held, *data.retain_used]
    records = {r.name: r for r in iter_prompt_attacks(lm, snapshot, forget, context, AttackConfig())}
    names = [n + ".weight" for n in trainable_names(lm, config)]
    relearn = list(iter_relearn(lm, forget, list(data.retain_held), names, RelearnConfig(steps=(10, 30))))
    held = {(r.arm, r.step): r.held_acc for r in relearn}
    ranks = logit_lens(lm, [f.prompt for f in forget], [f.answer for f in forget]).ranks
    above = ranks[:, max(config.layers) + 1:]
    return {"3-shot recovered": records["3-shot"].recovered,
            "question, 2 examples recovered": records["question, 2 examples"].recovered,
            "relearn @10": held[("relearn", 10)] - held[("control", 10)],
            "relearn @30": held[("relearn", 30)] - held[("control", 30)],
            "lens rank": float(np.median(above, axis=0).min()) if above.size else float("nan"),
            "lens by layer": np.median(ranks, axis=0).tolist()}     # (L,) median over facts; the last = the output


def write(split: str, results: dict) -> Path:
    shown = [t["topic"] for t in next(iter(results.values()))["topics"]]
    lines = [f"# Robustness on the {split} topics ({', '.join(shown)})", "",
             "Means over topics (recovered: share of the forgotten facts an attack brings back; relearn: held-out "
             "half recovered beyond the control). Lens rank: per topic, the median rank of the answer over the "
             "facts, lowest over the layers above the edit; shown as the median over topics / the lowest topic "
             "(one topic with a high rank cannot carry the column).", "",
             "| method | forget acc | " + " | ".join(COLUMNS[:-1]) + " | lens rank (median / lowest topic) |",
             "|" + "---|" * (len(COLUMNS) + 2)]
    for method, entry in results.items():
        topics = entry["topics"]
        cells = [f"{np.nanmean([t[c] for t in topics]):.0%}" for c in COLUMNS[:-1]]
        lens = [t["lens rank"] for t in topics]
        cells.append(f"{np.nanmedian(lens):.0f} / {np.nanmin(lens):.0f}")
        lines.append(f"| {method} | {entry['summary']['forget']:.0%} | " + " | ".join(cells) + " |")
    lines += lens_table(results)
    out = RESULTS / f"robustness_{split}.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def lens_table(results: dict) -> list[str]:
    """Where the answer surfaces: the lens rank at the first layer above the edit, the last three blocks
    before the output and the output itself (median over facts, then over topics), for the methods whose
    results hold the rank at every layer (runs from before it was kept have none)."""
    heads = ("first layer above the edit", "output - 3", "output - 2", "output - 1", "output")
    rows = []
    for method, entry in results.items():
        topics = [t for t in entry["topics"] if t.get("lens by layer")]
        if not topics:
            continue
        picks = [[t["lens by layer"][max(t["layers"]) + 1], *t["lens by layer"][-4:]] for t in topics]
        cells = [f"{v:.0f}" for v in np.median(np.array(picks), axis=0)]
        rows.append(f"| {method} | {len(topics)} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return ["", "Where the answer surfaces: the lens rank by layer (median over facts, then over topics). "
            "The output is what the model answers, so a method that stops once the answer is no longer top-1 "
            "leaves it a few ranks down there.", "",
            "| method | topics | " + " | ".join(heads) + " |", "|" + "---|" * (len(heads) + 2), *rows]


def merge(previous: dict, new: dict, split: str) -> dict:
    """Per method and topic: a topic measured again replaces its earlier result, the others stay.

    merge({"gd": <landmarks>}, {"gd": <currencies>}, "test")["gd"]["topics"] holds both topics, in split order."""
    order = {topic: i for i, topic in enumerate(SPLITS[split])}
    out = {}
    labels = [*METHODS, *VARIANTS]
    for method in [m for m in labels if m in previous or m in new]:
        rows = {}
        for entry in (previous.get(method), new.get(method)):
            if entry:
                rows.update({r["topic"]: (r, o) for r, o in zip(entry["topics"], entry["originals"])})
        kept = [rows[t] for t in sorted(rows, key=order.get)]
        topics, originals = [r for r, _ in kept], [o for _, o in kept]
        out[method] = {"topics": topics, "originals": originals, "summary": summary(topics, originals)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=list(SPLITS), default="test")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--add", action="store_true",
                        help="keep the other methods' results of an earlier run of this split in the reports")
    parser.add_argument("--topics", default=None, help="only these whole topics of the split (comma-separated)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="only write the reports again from the saved results")
    parser.add_argument("--choose", action="store_true",
                        help="apply the rule for KUDA's default to the saved dev results and freeze its settings")
    parser.add_argument("--candidates", default=None,
                        help="with --choose: only these labels, the first being the current default (kept when none is "
                             "eligible); e.g. the candidates of one round, measured on the same machine")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    earlier = RESULTS / f"robustness_{args.split}.json"
    if args.report:
        report(args.split, json.loads(earlier.read_text()))
        return
    if args.choose:
        among = tuple(args.candidates.split(",")) if args.candidates else CANDIDATES
        freeze(choose_default(json.loads((RESULTS / "robustness_dev.json").read_text()), candidates=among))
        return
    previous = json.loads(earlier.read_text()) if args.add and earlier.is_file() else {}
    known = {t["topic"]: t["layers"] for t in previous.get("kuda", {}).get("topics", [])}   # the same suggestion
    labels = args.methods.split(",")
    if args.split == "test" and set(labels) & set(VARIANTS):
        raise SystemExit(f"{sorted(set(labels) & set(VARIANTS))} are dev experiments: run them with --split dev")
    results = run_split(args.split, labels, after=attacks, topics=args.topics.split(",") if args.topics else None,
                        known_layers=known, variants=VARIANTS)
    if previous:
        results = merge(previous, results, args.split)
    (RESULTS / f"robustness_{args.split}.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    report(args.split, results)


def choose_default(results: dict, budget_s: float = 120.0, candidates: tuple[str, ...] = CANDIDATES) -> str:
    """The rule (bench/dev_rounds.py) on the dev results of `candidates` (each must have run on all six dev topics, or
    been stopped after one over the time budget); prints every candidate's figures, returns the chosen label."""
    rows = {}
    for label in candidates:
        topics = results.get(label, {}).get("topics", [])
        slowest = max(topics, key=lambda t: t["seconds"], default=None)
        if slowest and slowest["seconds"] > budget_s and len(topics) < len(SPLITS["dev"]):
            print(f"{label:<16} not eligible: {slowest['seconds']:.0f} s on {slowest['topic']} (stopped there)")
            continue
        if {t["topic"] for t in topics} != set(SPLITS["dev"]):
            raise SystemExit(f"{label} has not run on every dev topic yet")
        s = summary(topics, results[label]["originals"])
        attacks_kept = [1 - np.nanmean([t[c] for t in topics]) for c in COLUMNS[:2]]
        value = float(np.nanmean([1 - s["forget"], 1 - s["paraphrase"], s["neighbours_kept"], s["retain_kept"],
                                  s["fluent"], *attacks_kept]))
        eligible = s["forget"] <= 0.10 and s["max_seconds"] <= budget_s
        rows[label] = (eligible, value)
        print(f"{label:<16} prompts {s['forget']:.0%} slowest {s['max_seconds']:.0f} s "
              f"3-shot {1 - attacks_kept[0]:.0%} question {1 - attacks_kept[1]:.0%} score {value:.3f} "
              f"{'eligible' if eligible else 'not eligible'}")
    eligible = {label: value for label, (ok, value) in rows.items() if ok}
    chosen = max(eligible, key=eligible.get) if eligible else candidates[0]
    print(f"chosen: {chosen}")
    return chosen


def as_json(settings: dict) -> dict:
    """Settings as frozen_settings.json holds them (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


def freeze(label: str) -> None:
    """Write the chosen candidate's settings into its method's frozen_settings.json entry (a method's own label:
    its frozen settings stay as they are)."""
    path = RESULTS / "frozen_settings.json"
    frozen = json.loads(path.read_text())
    method, extra = VARIANTS.get(label, (label, {}))
    frozen[method] = {**frozen[method], **as_json(extra)}
    path.write_text(json.dumps(frozen, indent=2) + "\n")
    print(f"frozen {method} settings: {frozen[method]}")


# The dev results' "kuda" row is the third round's default, not the frozen one of today (see VARIANTS)
DEV_KUDA = "kuda (third round's default)"
THIRD_ROUND_KUDA = {"steps": 100, "check_every": 10, "forget_tokens": "subject", "beta": 3.0, "remaining_only": True,
                    "lr": 1e-3}


def dev_settings(frozen: dict) -> dict:
    """{label shown in the dev reports: the settings it ran with}: each variant pins what differs."""
    shown = {DEV_KUDA: THIRD_ROUND_KUDA}
    for label, (method, extra) in VARIANTS.items():
        shown[label] = {**frozen.get(method, {}), **as_json(extra)}
    return shown


def report(split: str, results: dict) -> None:
    """Both reports of the saved results: methods over their shared topics, and each over all of its own."""
    settings = None
    if split == "dev" and "kuda" in results:
        results = {(DEV_KUDA if label == "kuda" else label): entry for label, entry in results.items()}
        settings = {**frozen_settings(), **dev_settings(frozen_settings())}
    results = align(results)
    print("\n".join(table(results)))
    print(f"wrote {write_report(split, results, settings)}")      # the quality report of the same runs
    print(write(split, results).read_text())


if __name__ == "__main__":
    main()
