"""Check a probe set against a model: per-topic top-1 accuracy of prompts and paraphrases.

    python bench/check_probes.py                            # kuda_core/assets/probes.jsonl, default model
    python bench/check_probes.py my.jsonl --model default --failures
    python bench/check_probes.py candidates.jsonl --select new_probes.jsonl --per-topic 16
    python bench/check_probes.py my.jsonl --require-relations 8 --require-known 20

A second table gives, per relation, the facts whose prompt is top-1 ("known") and the known
paraphrases. For kuda_core/assets/probes.jsonl at least 8 relations must have at least 20 known facts
(--require-relations / --require-known change this, for any file); otherwise the exit status is 1.

--select builds a probe set from candidates: each candidate row is a fact whose prompt and
paraphrases are all rewordings, with optional "answers" (equally true alternatives, e.g.
[" playwright", " poet"]). The kept answer is the alternative the model gets top-1 on most
rewordings; the first rewording where it is top-1 with a log-prob margin >= --min-margin becomes
the prompt, the others stay as paraphrases (failed ones included: they measure generalisation).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from kuda_core.model.loading import load_model  # noqa: E402
from kuda_core.data.checks import check_facts  # noqa: E402
from kuda_core.data.facts import Fact  # noqa: E402
from kuda_core.data.probes import PROBES_FILE, load_probes, shipped_file, topics  # noqa: E402


def report(lm, facts: list[Fact], show_failures: bool = False) -> tuple[tuple[int, int, int, int], dict]:
    """Print one line per topic; returns ((prompts ok, prompts, paraphrases ok, paraphrases),
    {relation: [facts, prompts ok, paraphrases ok, paraphrases]})."""
    prompts, answers, owners = [], [], []
    for index, fact in enumerate(facts):
        for text in (fact.prompt, *fact.paraphrases):
            prompts.append(text)
            answers.append(fact.answer)
            owners.append(index)
    started = time.perf_counter()
    checks = check_facts(lm, prompts, answers)
    elapsed = time.perf_counter() - started
    by_fact: dict[int, list] = {}
    for owner, check in zip(owners, checks):
        by_fact.setdefault(owner, []).append(check)
    position = {id(f): i for i, f in enumerate(facts)}
    totals = [0, 0, 0, 0]
    relations: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0])
    print(f"{'topic':<14}{'facts':>6}{'prompt ok':>11}{'paraphr. ok':>13}{'mean p':>8}")
    for topic, group in topics(facts).items():
        row = [0, 0, 0, 0]
        probs = []
        for fact in group:
            first, *rest = by_fact[position[id(fact)]]
            row[0] += first.top1_ok
            row[1] += 1
            row[2] += sum(c.top1_ok for c in rest)
            row[3] += len(rest)
            probs.append(first.prob)
            counts = relations[fact.relation]
            for i, value in enumerate((1, first.top1_ok, sum(c.top1_ok for c in rest), len(rest))):
                counts[i] += value
            if show_failures:
                for text, check in zip((fact.prompt, *fact.paraphrases), (first, *rest)):
                    if not check.top1_ok:
                        print(f"   FAIL {text!r} -> {check.top_token!r} (want {fact.answer!r}, "
                              f"p {check.prob:.3f}, rank {check.rank})")
        totals = [a + b for a, b in zip(totals, row)]
        print(f"{topic:<14}{row[1]:>6}{row[0]:>6}/{row[1]:<4}{row[2]:>7}/{row[3]:<5}"
              f"{sum(probs) / len(probs):>8.2f}")
    print(f"{'total':<14}{totals[1]:>6}{totals[0]:>6}/{totals[1]:<4}{totals[2]:>7}/{totals[3]:<5}")
    print(f"{len(prompts)} prompts checked in {elapsed:.1f} s")
    return tuple(totals), dict(relations)  # type: ignore[return-value]


def check_relations(relations: dict, need_relations: int, need_known: int) -> bool:
    """Print facts / known prompts / known paraphrases per relation (from report); True when at
    least need_relations relations have at least need_known facts whose prompt is top-1."""
    print(f"{'relation':<20}{'facts':>6}{'known':>7}{'paraphr. known':>16}")
    for name, (n, known, para_ok, para) in sorted(relations.items(), key=lambda kv: -kv[1][1]):
        mark = "  *" if known >= need_known else ""
        print(f"{name or '(none)':<20}{n:>6}{known:>7}{para_ok:>9}/{para:<6}{mark}")
    enough = sum(known >= need_known for _, known, _, _ in relations.values())
    ok = enough >= need_relations
    if need_relations:
        print(f"{'OK' if ok else 'FAIL'}: {enough} relations (*) have >= {need_known} known facts; "
              f"{need_relations} required")
    return ok


def select(lm, rows: list[dict], per_topic: int, min_margin: float) -> list[Fact]:
    """Facts built from candidate rows (see the module docstring), at most per_topic per topic."""
    jobs = []  # (row index, rewording index, answer)
    for r, row in enumerate(rows):
        wordings = [row["prompt"], *row.get("paraphrases", [])]
        for answer in row.get("answers") or [row["answer"]]:
            for w, text in enumerate(wordings):
                jobs.append((r, w, answer, text))
    checks = check_facts(lm, [j[3] for j in jobs], [j[2] for j in jobs])
    results: dict[int, dict[str, list]] = {}
    for (r, w, answer, _), check in zip(jobs, checks):
        results.setdefault(r, {}).setdefault(answer, []).append((w, check))
    chosen: dict[str, list[tuple[float, int, Fact]]] = {}
    for r, row in enumerate(rows):
        wordings = [row["prompt"], *row.get("paraphrases", [])]
        best = max(results[r].items(), key=lambda kv: sum(c.top1_ok for _, c in kv[1]))
        answer, outcomes = best
        passing = [(w, c) for w, c in outcomes if c.top1_ok and c.margin >= min_margin]
        if not passing:
            continue
        main, check = passing[0]
        fact = Fact(
            prompt=wordings[main],
            subject=row["subject"],
            answer=answer,
            relation=row.get("relation", ""),
            topic=row.get("topic", ""),
            paraphrases=tuple(t for i, t in enumerate(wordings) if i != main),
        )
        chosen.setdefault(fact.topic, []).append((check.margin, r, fact))
    kept = []
    for topic, group in chosen.items():
        # most confident first (the set should survive small numeric differences: GPU, bf16),
        # taken in turn from each relation so that every relation of the topic is represented
        by_relation: dict[str, list] = {}
        for item in sorted(group, key=lambda g: -g[0]):
            by_relation.setdefault(item[2].relation, []).append(item)
        queues = list(by_relation.values())
        best = []
        while len(best) < per_topic and any(queues):
            for queue in queues:
                if queue and len(best) < per_topic:
                    best.append(queue.pop(0))
        kept.extend(fact for _, _, fact in sorted(best, key=lambda g: g[1]))
        print(f"select {topic:<14} {len(group):>4} pass of {sum(r.get('topic') == topic for r in rows):>4}, "
              f"kept {len(best)}")
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=None, help="JSONL probe file (default kuda_core/assets/probes.jsonl)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--failures", action="store_true", help="print every failed prompt")
    parser.add_argument("--select", metavar="OUT", help="treat PATH as candidates; write kept facts to OUT")
    parser.add_argument("--per-topic", type=int, default=16)
    parser.add_argument("--min-margin", type=float, default=0.3, help="log-prob margin for the main prompt")
    parser.add_argument("--require-relations", type=int, default=None, metavar="N",
                        help="fail unless N relations have --require-known known facts "
                             "(default 8 for kuda_core/assets/probes.jsonl, otherwise 0)")
    parser.add_argument("--require-known", type=int, default=20, metavar="K")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.require_relations is None:
        shipped = shipped_file(PROBES_FILE).resolve()
        default_file = not args.select and (args.path is None or Path(args.path).resolve() == shipped)
        args.require_relations = 8 if default_file else 0
    lm = load_model(args.model, device="cpu")
    if args.select:
        path = Path(args.path)
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        facts = select(lm, rows, args.per_topic, args.min_margin)
        out = Path(args.select)
        out.write_text("".join(json.dumps(f.to_dict(), ensure_ascii=False) + "\n" for f in facts), encoding="utf-8")
        print(f"wrote {len(facts)} facts to {out}")
    else:
        facts = load_probes(args.path)
    _, relations = report(lm, facts, args.failures)
    return 0 if check_relations(relations, args.require_relations, args.require_known) else 1


if __name__ == "__main__":
    sys.exit(main())
