"""KUDA and the baselines on the TEST topics (or the dev ones), with settings frozen beforehand.

    .venv/bin/python bench/unlearn_quality.py                        # test topics, frozen settings, all methods
    .venv/bin/python bench/unlearn_quality.py --split dev --methods kuda,gd
    .venv/bin/python bench/unlearn_quality.py --methods kuda --keep-others  # KUDA again, the baselines as stored

Every method gets the same data and the layers Locate suggests on its defaults (MLP traces of the
forget facts, strongest subject token, 3 layers); RMU trains l-2..l of the top one. Settings come
from bench/results/frozen_settings.json (chosen on the dev topics with bench/dev_search.py and
committed before any test run); a method not listed there runs on its defaults. Measures (quality.py):
forget accuracy on the prompts and on the paraphrases the original model knew, held-out neighbours
and other facts kept (of the original), fluent share of the forgotten facts' new answers
(inspect.fluency, validated on hand labels), held-out perplexity change, wall time. Writes
bench/results/unlearn_quality_<split>.md (tables, settings, verbatim answers) and .json.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from quality import RESULTS, SPLITS, original_measures, run_method, suggested_layers, summary, topic_data  # noqa: E402

from kuda_core.data.probes import load_probes  # noqa: E402
from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.forget.methods import METHODS  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402

FROZEN = RESULTS / "frozen_settings.json"
ALL_TOPICS = re.compile(r" \(all \d+ topics\)$")     # the label align() gives a method over more topics
TARGETS = (("forget", "<=", 0.10, "forget accuracy (prompts) <= 10%"),
           ("paraphrase", "<=", 0.20, "forget accuracy (paraphrases) <= 20%"),
           ("neighbours_kept", ">=", 0.85, "held-out neighbours >= 85% of the original"),
           ("retain_kept", ">=", 0.95, "other held-out facts >= 95% of the original"),
           ("fluent", ">=", 0.70, "fluent answers to forgotten facts >= 70%"),
           ("max_seconds", "<=", 120.0, "wall time <= 120 s (the slowest topic)"))


def frozen_settings() -> dict:
    return json.loads(FROZEN.read_text()) if FROZEN.is_file() else {}


def run_split(split: str, methods: list[str], after=None, topics: list[str] | None = None,
              known_layers: dict | None = None, variants: dict | None = None) -> dict:
    """{method: {"topics": [per-topic results], "originals": [...], "summary": {...}}} on a split
    (all its topics, or the given whole topics of it). `known_layers` {topic: layers} skips the
    tracing behind the suggestion where an earlier run of the same split already made it.
    `variants` {label: (method, settings)}: a label in `methods` runs that method with these
    settings on top of its frozen ones (dev experiments)."""
    lm = load_model("default")
    settings = frozen_settings()
    out = {m: {"topics": [], "originals": []} for m in methods}
    for topic in topics or SPLITS[split]:
        if topic not in SPLITS[split]:
            raise SystemExit(f"{topic} is not a {split} topic: {SPLITS[split]}")
        data = topic_data(topic)
        base = original_measures(lm, data)
        layers = tuple((known_layers or {}).get(topic) or suggested_layers(lm, data.forget))
        for method in methods:
            name, extra = (variants or {}).get(method, (method, {}))
            config = UnlearnConfig.create(name, layers=layers, **{**settings.get(name, {}), **extra})
            result = run_method(lm, data, config, base, after)
            result.update(topic=topic, layers=list(config.layers),
                          prompts=[f.prompt for f in data.forget], original_answers=base["answers"])
            out[method]["topics"].append(result)
            out[method]["originals"].append({k: base[k] for k in ("neighbours", "retain", "ppl")})
            print(f"{topic:<14}{method:<8} forget {result['forget']:.2f} para {result['paraphrase']:.2f} "
                  f"neigh {result['neighbours']:.2f} retain {result['retain']:.2f} fluent {result['fluent']:.2f} "
                  f"{result['seconds']:.0f}s {result['steps']} steps", flush=True)
    for method in methods:
        out[method]["summary"] = summary(out[method]["topics"], out[method]["originals"])
    return out


def align(results: dict) -> dict:
    """Methods measured on different topics (a later --add run on fewer of them): every method over the topics
    all of them have, plus "<method> (all N topics)" for those measured on more."""
    shared = set.intersection(*({t["topic"] for t in r["topics"]} for r in results.values()))
    out, more = {}, {}
    for method, entry in results.items():
        keep = [i for i, t in enumerate(entry["topics"]) if t["topic"] in shared]
        topics, originals = [entry["topics"][i] for i in keep], [entry["originals"][i] for i in keep]
        out[method] = {"topics": topics, "originals": originals, "summary": summary(topics, originals)}
        if len(keep) < len(entry["topics"]):
            label = f"{method} (all {len(entry['topics'])} topics)"
            more[label] = {**entry, "summary": summary(entry["topics"], entry["originals"])}
    return out | more


def target_lines(kuda: dict) -> list[str]:
    lines = []
    for key, op, limit, text in TARGETS:
        value = kuda[key]
        ok = value <= limit if op == "<=" else value >= limit
        lines.append(f"- {'met' if ok else 'MISSED'}: {text} (measured {value:.2f})")
    return lines


def table(results: dict) -> list[str]:
    head = ("| method | forget acc (prompts) | forget acc (paraphrases) | neighbours kept | other facts kept | "
            "fluent new answers | perplexity change | steps | mean s | max s |\n|" + "---|" * 10)
    rows = [head]
    for method, entry in results.items():
        s = entry["summary"]
        rows.append(f"| {method} | {s['forget']:.0%} | {s['paraphrase']:.0%} | {s['neighbours_kept']:.0%} | "
                    f"{s['retain_kept']:.0%} | {s['fluent']:.0%} | {100 * s['ppl_change']:+.1f}% | {s['steps']:.0f} | "
                    f"{s['seconds']:.0f} | {s['max_seconds']:.0f} |")
    return rows


def delayed_answers(results: dict) -> list[str]:
    """Forgetting by the first token can be hollow: the answer may come a few tokens later ("Istanbul is a
    large city in the country of origin, Turkey"). Per method: of the forget facts the original model
    answered first and the unlearned one no longer does, the share whose 20-token answer still names it."""
    gold = {f.prompt: f.answer.strip().lower() for f in load_probes()}
    lines = ["| method | answers no longer starting with the answer | of them still naming it within 20 tokens |",
             "|---|---|---|"]
    for method, entry in results.items():
        moved = named = 0
        for topic in entry["topics"]:
            for prompt, new, old in zip(topic["prompts"], topic["answers"], topic["original_answers"]):
                answer, new, old = gold.get(prompt), new.strip().lower(), old.strip().lower()
                if answer and old.startswith(answer) and not new.startswith(answer):
                    moved, named = moved + 1, named + (answer in new)
        lines.append(f"| {method} | {moved} | {named} ({named / max(moved, 1):.0%}) |")
    return lines


def write_report(split: str, results: dict, settings: dict | None = None) -> Path:
    """The quality report of `results`; `settings` {label: settings shown} (default: the frozen settings of
    each label's method)."""
    source = "as each ran: its method's frozen settings, then what its label pins" if settings else \
        "bench/results/frozen_settings.json"
    settings = settings or frozen_settings()
    shown = [t["topic"] for t in next(iter(results.values()))["topics"]]
    lines = [f"# Unlearning quality on the {split} topics ({', '.join(shown)})", "",
             "Means over the topics. Forget = half of a topic's facts (at most 15); neighbours = held-out facts of "
             "the same relation (never trained on); other facts = held-out facts of other relations. Fluent: "
             "inspect.fluency on the 20-token answers to the facts each run made the model forget.", "",
             *table(results), ""]
    kuda = next((results[m] for m in results if m.startswith("kuda (all")), results.get("kuda"))
    if kuda is not None:
        lines += [f"## KUDA targets ({len(kuda['topics'])} topics)", "", *target_lines(kuda["summary"]), ""]
    lines += ["## Delayed answers", "", *delayed_answers(results), ""]
    lines += [f"## Settings ({source})", "",
              *(f"- {m}: {settings.get(m, settings.get(ALL_TOPICS.sub('', m), 'method defaults'))}" for m in results), "",
              "## Per topic", ""]
    for method, entry in results.items():
        for r in entry["topics"]:
            lines.append(f"- {method} / {r['topic']} (layers {r['layers']}): forget {r['forget']:.2f}, paraphrases "
                         f"{r['paraphrase']:.2f}, neighbours {r['neighbours']:.2f}, other {r['retain']:.2f}, fluent "
                         f"{r['fluent']:.2f}, {r['steps']} steps, {r['seconds']:.0f} s")
    lines += ["", "## Answers to the first forget prompts (verbatim, 20 new tokens)", ""]
    for topic_index in range(len(next(iter(results.values()))["topics"])):
        first = next(iter(results.values()))["topics"][topic_index]
        for i in range(2):
            lines.append(f"**{first['prompts'][i]!r}**: original {first['original_answers'][i]!r}")
            lines += [f"- {m}: {t['answers'][i]!r}" for m, entry in results.items()
                      for t in entry["topics"] if t["topic"] == first["topic"]]
            lines.append("")
    out = RESULTS / f"unlearn_quality_{split}.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / f"unlearn_quality_{split}.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=list(SPLITS), default="test")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep-others", action="store_true",
                        help="re-measure only --methods: the other methods' stored results stay, and the stored "
                             "layers of each topic are reused (the same settings; e.g. after a speed change)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    methods = args.methods.split(",")
    if not args.keep_others:
        results = run_split(args.split, methods)
    else:
        stored = json.loads((RESULTS / f"unlearn_quality_{args.split}.json").read_text())
        layers = {t["topic"]: t["layers"] for entry in stored.values() for t in entry["topics"]}
        fresh = run_split(args.split, methods, known_layers=layers)
        results = {m: fresh.get(m, entry) for m, entry in stored.items() if not m.endswith("topics)")}
        results.update({m: fresh[m] for m in methods if m not in results})
    print("\n".join(table(results)))
    print("\n".join(table(results)))
    print(f"wrote {write_report(args.split, results)}")


if __name__ == "__main__":
    main()
