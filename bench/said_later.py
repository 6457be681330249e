"""Forgotten at the first token, said further on? Counted on the saved bench answers (no model run).

    .venv/bin/python bench/said_later.py                 # the test split's saved runs (the README's table)
    .venv/bin/python bench/said_later.py --split dev

For every method in bench/results/unlearn_quality_<split>.json: of the forget facts whose 20-token
answer no longer starts with the answer, how many still say it further on
(`kuda_core.inspect.compare.names_answer`: the answer as a word, not inside a name the prompt holds),
with up to two examples each. "Forgotten" here reads the saved text (the bench stores the answers,
not their ranks), so it approximates the first-token check the runs stop on.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kuda_core.data.probes import load_probes  # noqa: E402
from kuda_core.inspect.compare import names_answer  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def probe_answers() -> dict[str, str]:
    """{prompt: answer} of the shipped probes (the bench's facts)."""
    return {fact.prompt: fact.answer for fact in load_probes()}


def said_later(method_result: dict, answers: dict[str, str]) -> tuple[int, int, list[str]]:
    """(said further on, forgotten, examples) over a method's topics."""
    said, forgotten, examples = 0, 0, []
    for topic in method_result["topics"]:
        for prompt, text in zip(topic["prompts"], topic["answers"]):
            answer = answers.get(prompt)
            if answer is None or text.strip().lower().startswith(answer.strip().lower()):
                continue
            forgotten += 1
            if names_answer(text, answer, prompt):
                said += 1
                examples.append(f"{prompt}{text}")
    return said, forgotten, examples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    args = parser.parse_args(argv)
    answers = probe_answers()
    results = json.loads((RESULTS / f"unlearn_quality_{args.split}.json").read_text())
    counted = {method: said_later(result, answers) for method, result in results.items()}
    print(f"| {args.split} | forgotten (20-token answer no longer starts with it) | said further on | share |")
    print("|---|---|---|---|")
    for method, (said, forgotten, _) in counted.items():
        share = f"{said / forgotten:.0%}" if forgotten else "-"
        print(f"| {method} | {forgotten} | {said} | {share} |")
    for method, (_, _, examples) in counted.items():
        for example in examples[:2]:
            print(f"{method}: {' '.join(example.split())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
