"""Candidate facts for `bench/check_probes.py --select`: the source of the facts appended to
kuda_core/assets/probes.jsonl after its first 153 rows.

    python bench/candidates/make_candidates.py /tmp/candidates.jsonl
    python bench/check_probes.py /tmp/candidates.jsonl --select /tmp/selected.jsonl --per-topic 60

The candidates are data, in relations.json beside this script: each relation has rewordings with {x} (the subject as written mid-sentence, e.g. "the Netherlands")
and {X} (the same at the start of a sentence); each item is (written form, subject, answer or
[equally true answers]). Only true, unambiguous facts belong here: the model decides which are kept,
never what the answer is. Of the kept facts a subset went into the asset file (about 30 per relation,
the largest margins first, with at most a few facts per answer so that answers stay mixed).
"founded by", "instrument", "animal class" and "inventor" stayed below 20 known facts on the default
model (SmolLM2-135M-Instruct) and were not added.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RELATIONS: dict[str, dict] = json.loads(Path(__file__).with_name("relations.json").read_text(encoding="utf-8"))


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def rows() -> list[dict]:
    out = []
    for name, spec in RELATIONS.items():
        for written, subject, answer in spec["items"]:
            wordings = [w.format(x=written, X=cap(written)) for w in spec["wordings"]]
            answers = answer if isinstance(answer, list) else [answer]
            out.append({"prompt": wordings[0], "subject": subject, "answer": answers[0], "answers": answers,
                        "relation": name, "topic": spec["topic"], "paraphrases": wordings[1:]})
    return out


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("candidates.jsonl"))
    data = rows()
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data), encoding="utf-8")
    print(f"wrote {len(data)} candidates to {out}")
