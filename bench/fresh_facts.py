"""The newcomer's path on facts written after the default was frozen: one fact at a time, as the app does it.

    $ .venv/bin/python bench/fresh_facts.py                 # all facts, then bench/results/fresh_facts.{json,md}
    $ .venv/bin/python bench/fresh_facts.py --per-relation 1
    $ .venv/bin/python bench/fresh_facts.py --source dev --lone-kshot 4   # probe facts of the dev topics, a variant

`--source dev` takes the same path on probe facts of the dev topics (the first answered ones per
topic), for choosing; `--lone-kshot N` runs with N k-shot rows for a fact forgotten alone
(forget.augment.LONE_KSHOT_COPIES) instead of the default; `--answer-rank K` counts a fact answered while
its answer is among the top K tokens (every checked row: prompt, paraphrases, augmented rows) instead of
the default's.

Fourteenth round, declared here before it runs (session of 2026-12-07): a lone fact is hidden more than
removed (fresh facts: the 3-shot prefix brings back 5 of 10, median lens rank 24), and the run stops as
soon as its answer leaves the top token in every checked row, k-shot rows included. Candidate: such a run
goes on until the answer has left the top 10 (`answer_rank` 10), a margin in the contexts the attacks
use. Runs of the candidate and of the current default (answer_rank 1) on the same 18 dev probe facts,
side by side on this machine (`--source dev --answer-rank 1` and `--answer-rank 10`, started together).
Rule: 10 becomes the default for a run whose forget facts are all lone (each has fewer than two other
forget facts of its relation; every bench topic has nine or more, so the topic figures are untouched) if
the 3-shot attack brings back no more facts than with 1, the median lens rank above the edit is at least
twice as high, at most 1 fact fewer is forgotten (top-1), the neighbours are kept within 5 points and the
fluent answers (verdict) within 2, and the slowest fact takes at most 120 s; else 1 stays.
As it ran (both at once, one thread each; bench/results/fresh_facts_dev_rank{1,10}.md): the default gave
the stored thirteenth-round figures again (3-shot 3 of 18, question 5, fluent 8, lens 12); with 10 the
3-shot attack brought back 3, the question format 3, the median lens rank rose to 27, 17 of 18 were
forgotten (Austria, still "Europe" at the 100-step cap), neighbours 100%, slowest 96 s, but the fluent
answers (verdict) fell from 8 to 5 (Austria, iodine, phosphorus): beyond the 2 allowed, so 1 stays.

The prompt attacks also run with 4 other draws of shots and examples (SHOT_DRAWS; added after the
fourteenth round, a measurement and not a choice): one draw per fact decides "brought back" for that
fact, and the other draws show how much of a count is the draw.

bench/data/fresh_facts.jsonl holds typed rows (prompt | subject | answer, no relation) that are not
in the probes: capitals, landmarks, books, currencies and languages the probes do not name. Nothing
was chosen on them. The rule, fixed before the run: the relation is inferred as for a typed row;
a fact the default model does not answer (top-1) is left out; per relation the first
`--per-relation` answered facts in file order are used. Per fact, exactly what a visitor gets on the
defaults: Locate's suggestion from an MLP trace (10 samples, strongest subject token, 3 layers),
then KUDA's default Forget on that one fact, with the probes as retain data less the rows that
state the fact (neighbours: held-out probes of its relation). Measured: forgotten or not, the new
answer (20 tokens) and the fluency verdict on it, whether it says the answer further on, the
neighbours and other held-out facts kept, the prompt attacks (3-shot, question with 2 examples)
and the logit-lens rank above the edit. Weights are restored bit for bit after each fact.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from quality import DEV_TOPICS, RESULTS, original_measures, run_method, suggested_layers  # noqa: E402

from kuda_core.data.checks import check_facts, names_answer  # noqa: E402
from kuda_core.data.facts import Fact  # noqa: E402
from kuda_core.data.probes import load_probes  # noqa: E402
from kuda_core.data.relations import with_relations  # noqa: E402
from kuda_core.forget import augment  # noqa: E402
from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.inspect.attacks.lens import logit_lens  # noqa: E402
from kuda_core.inspect.attacks.prompts import AttackConfig, iter_prompt_attacks  # noqa: E402
from kuda_core.inspect.fluency import check_fluency  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402
from kuda_core.workflows.data import DataChoice, build_split  # noqa: E402

FACTS = ROOT / "bench" / "data" / "fresh_facts.jsonl"
SHOT_DRAWS = 5      # the prompt attacks again with other shots and examples (seeds 0..4; 0 is the one reported)


def chosen_facts(lm, per_relation: int, source: str = "fresh") -> list[Fact]:
    """The rule of the module docstring: relation inferred, answered by the model, first per relation
    (source "dev": the probe facts of the dev topics, as typed rows without relation or paraphrases)."""
    if source == "dev":
        typed = [Fact(f.prompt, f.subject, f.answer) for f in load_probes() if f.topic in DEV_TOPICS]
    else:
        typed = [Fact.from_dict(json.loads(line)) for line in FACTS.read_text().splitlines() if line.strip()]
    facts = with_relations(typed, load_probes())
    known = [f for f, c in zip(facts, check_facts(lm, [f.prompt for f in facts], [f.answer for f in facts]))
             if c.top1_ok]
    taken: dict[str, list[Fact]] = {}
    for fact in known:
        if len(taken.setdefault(fact.relation, [])) < per_relation:
            taken[fact.relation].append(fact)
    return [f for group in taken.values() for f in group]


def after_forget(lm, data, snapshot, config) -> dict:
    """The fluency of the new answer, the prompt attacks and the lens, on the unlearned model."""
    fact = data.forget[0]
    context = [*data.neighbours, *data.retain_held, *data.retain_used]
    draws = [{r.name: r for r in iter_prompt_attacks(lm, snapshot, [fact], context, AttackConfig(seed=seed))}
             for seed in range(SHOT_DRAWS)]                                   # draw 0: the reported attack
    records = draws[0]
    ranks = logit_lens(lm, [fact.prompt], [fact.answer]).ranks                  # (1, L)
    return {"3-shot p": records["3-shot"].unlearned_p, "3-shot recovered": records["3-shot"].recovered,
            "question p": records["question, 2 examples"].unlearned_p,
            "question recovered": records["question, 2 examples"].recovered,
            "3-shot draws recovered": sum(d["3-shot"].recovered > 0 for d in draws),
            "question draws recovered": sum(d["question, 2 examples"].recovered > 0 for d in draws),
            "lens rank": float(ranks[0, max(config.layers) + 1:].min())}


def run_fact(lm, fact: Fact, answer_rank: int | None = None) -> dict:
    data = build_split(DataChoice(facts=(fact,)))
    layers = suggested_layers(lm, [fact])
    config = UnlearnConfig.create("kuda", layers=layers)                       # the app's defaults
    if answer_rank is not None:
        config = config.replace(answer_rank=answer_rank)
    before = original_measures(lm, data)
    result = run_method(lm, data, config, before, after=after_forget)
    answer = result["answers"][0]
    verdict = check_fluency(lm, [fact.prompt], [answer])[0]       # original weights are back: the verdict's reader
    return {"relation": fact.relation, "prompt": fact.prompt, "answer": fact.answer, "layers": list(layers),
            "forgotten": result["forget"] == 0.0, "steps": result["steps"], "seconds": round(result["seconds"], 1),
            "message": result["message"], "new answer": answer, "fluent": verdict.fluent,
            "says answer later": names_answer(answer, fact.answer, fact.prompt),
            "neighbours": len(data.neighbours),
            "neighbours kept": _kept(result["neighbours"], before["neighbours"]),
            "other kept": _kept(result["retain"], before["retain"]),
            **{k: result[k] for k in ("3-shot p", "3-shot recovered", "question p", "question recovered",
                                      "3-shot draws recovered", "question draws recovered", "lens rank")}}


def _kept(after: float, before: float) -> float:
    return float(after / before) if before and np.isfinite(before) else float("nan")


def _back(row: dict, attack: str) -> str:
    """" (back in k/5 draws)" where the row has the draws."""
    key = f"{attack} draws recovered"
    return f" (back in {row[key]}/{SHOT_DRAWS})" if key in row else ""


def _draws(forgotten: list[dict]) -> list[str]:
    """A line on the attacks over SHOT_DRAWS draws of shots (rows of runs that measured them)."""
    rows = [r for r in forgotten if "3-shot draws recovered" in r]
    if not rows:
        return []
    line = f"Over {SHOT_DRAWS} draws of shots per forgotten fact:"
    for key, name in (("3-shot draws recovered", "the 3-shot prefix"), ("question draws recovered",
                                                                        "the question with 2 examples")):
        line += (f" {name} brings back {sum(r[key] for r in rows)} of {SHOT_DRAWS * len(rows)} (fact, draw) pairs, "
                 f"{sum(r[key] > 0 for r in rows)} of {len(rows)} facts in at least one draw;")
    return ["", line.rstrip(";") + "."]


def report(rows: list[dict]) -> str:
    forgotten = [r for r in rows if r["forgotten"]]
    mean = lambda key, of=rows: float(np.nanmean([r[key] for r in of])) if of else float("nan")  # noqa: E731
    lines = [
        "# KUDA's defaults on fresh facts, one fact at a time (bench/fresh_facts.py)", "",
        f"{len(rows)} facts; forgotten {len(forgotten)} of {len(rows)}; of the forgotten, fluent new answers "
        f"{sum(r['fluent'] for r in forgotten)}, still saying the answer further on "
        f"{sum(r['says answer later'] for r in forgotten)}, brought back by the 3-shot prefix "
        f"{sum(r['3-shot recovered'] > 0 for r in forgotten)} and by the question with 2 examples "
        f"{sum(r['question recovered'] > 0 for r in forgotten)}; neighbours kept {mean('neighbours kept'):.0%}, "
        f"other facts kept {mean('other kept'):.0%}; median lens rank above the edit "
        f"{np.median([r['lens rank'] for r in rows]):.0f}; mean {mean('seconds'):.0f} s, slowest "
        f"{max(r['seconds'] for r in rows):.0f} s.", *_draws(forgotten), "",
        "| relation | fact | layers | forgotten | steps | s | new answer | fluent | neighbours kept | other kept "
        "| 3-shot p | question p | lens rank |", "|" + "---|" * 13]
    for r in rows:
        text = r["new answer"].replace("\n", " ").replace("|", "/").strip()
        lines.append(f"| {r['relation']} | {r['prompt']} {r['answer'].strip()} | {r['layers'][0]}-{r['layers'][-1]} "
                     f"| {'yes' if r['forgotten'] else '**no**'} | {r['steps']} | {r['seconds']:.0f} | {text} "
                     f"| {'yes' if r['fluent'] else 'no'} | {r['neighbours kept']:.0%} of {r['neighbours']} "
                     f"| {r['other kept']:.0%} | {r['3-shot p']:.2f}{_back(r, '3-shot')} "
                     f"| {r['question p']:.2f}{_back(r, 'question')} | {r['lens rank']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-relation", type=int, default=3)
    parser.add_argument("--source", choices=("fresh", "dev"), default="fresh")
    parser.add_argument("--lone-kshot", type=int, default=None, help="k-shot rows for a fact forgotten alone")
    parser.add_argument("--answer-rank", type=int, default=None,
                        help="a fact counts as answered while its answer is in the top K tokens")
    args = parser.parse_args()
    if args.lone_kshot is not None:
        augment.LONE_KSHOT_COPIES = args.lone_kshot
    name = "fresh_facts" + ("_dev" if args.source == "dev" else "") + \
        (f"_lone{args.lone_kshot}" if args.lone_kshot is not None else "") + \
        (f"_rank{args.answer_rank}" if args.answer_rank is not None else "")
    lm = load_model("default")
    rows = []
    for fact in chosen_facts(lm, args.per_relation, args.source):
        rows.append(run_fact(lm, fact, args.answer_rank))
        r = rows[-1]
        print(f"{r['prompt']!r}: forgotten {r['forgotten']} after {r['steps']} steps ({r['seconds']} s), "
              f"{r['new answer']!r}, neighbours kept {r['neighbours kept']:.0%}", flush=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    (RESULTS / f"{name}.md").write_text(report(rows))
    print(report(rows))


if __name__ == "__main__":
    main()
