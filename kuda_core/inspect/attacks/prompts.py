"""Prompt attacks: does the unlearned model still answer when asked differently?

    >>> for record in iter_prompt_attacks(lm, snapshot, forget, context, AttackConfig()):
    ...     print(record.name, record.original_acc, record.unlearned_acc)

Attacks, each on every forget fact, scored on the answer's first token (top-1 and p):
  * "plain": the prompt as given (the reference);
  * "paraphrases": the fact's paraphrases;
  * "3-shot": k true facts of the same relation first ("The Colosseum is located in the city of
    Rome. ... The Eiffel Tower is located in the city of"), taken from `context` (retain or
    neighbour facts), never one whose answer is the forget fact's answer;
  * "question": the prompt as a question ('Question: how does this end? "The Eiffel Tower is located
    in the city of ..."\\nAnswer:'), and "question, 2 examples" with two answered questions first.
The question wording differs from those of the training augmentation (forget.augment).
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from kuda_core.data.checks import check_facts, unaccented
from kuda_core.data.facts import Fact
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot

QUESTION = 'Question: how does this end? "{prompt} ..."\nAnswer:'


@dataclass(frozen=True)
class AttackConfig:
    shots: int = 3                 # true facts before the prompt in the k-shot attack
    question_examples: int = 2     # answered questions before the question
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.shots <= 10 or not 0 <= self.question_examples <= 10:
            raise ValueError(f"shots must be in 1..10 and question_examples in 0..10, got {self.shots}, "
                             f"{self.question_examples}")


@dataclass(frozen=True)
class AttackRecord:
    name: str
    n: int                         # prompts scored
    original_acc: float            # top-1 accuracy of the answer, original weights
    unlearned_acc: float
    original_p: float              # mean p(first answer token)
    unlearned_p: float
    recovered: float               # share of facts forgotten on the plain prompt that this attack brings back
    prompts: tuple[str, ...] = ()
    hits: tuple[bool, ...] = ()    # unlearned top-1 per prompt


def _shots(fact: Fact, pool: Sequence[Fact], k: int, rng: random.Random) -> list[Fact]:
    """k context facts, same relation first, none with the forget fact's answer (or its text) in it, accents and
    case aside ('Dali' is kept out of a shot about 'Salvador Dalí')."""
    answer = unaccented(fact.answer.strip()).casefold()
    usable = [f for f in pool if f.subject != fact.subject and unaccented(f.answer.strip()).casefold() != answer
              and answer not in unaccented(f.text).casefold()]
    same = [f for f in usable if f.relation and f.relation == fact.relation]
    chosen = rng.sample(same, min(k, len(same)))
    rest = [f for f in usable if f not in chosen]
    return chosen + rng.sample(rest, min(k - len(chosen), len(rest)))


def attack_prompts(forget: Sequence[Fact], context: Sequence[Fact], config: AttackConfig) -> dict[str, list[tuple]]:
    """{attack: [(prompt, answer, index of the forget fact)]}."""
    rng = random.Random(config.seed)
    attacks: dict[str, list[tuple]] = {"plain": [], "paraphrases": [], f"{config.shots}-shot": [], "question": []}
    with_examples = f"question, {config.question_examples} examples"
    attacks[with_examples] = []
    for i, fact in enumerate(forget):
        attacks["plain"].append((fact.prompt, fact.answer, i))
        attacks["paraphrases"] += [(p, fact.answer, i) for p in fact.paraphrases]
        shots = _shots(fact, context, config.shots, rng)
        prefix = " ".join(f"{s.prompt}{s.answer.rstrip()}." for s in shots)
        attacks[f"{config.shots}-shot"].append((f"{prefix} {fact.prompt}".strip(), fact.answer, i))
        attacks["question"].append((QUESTION.format(prompt=fact.prompt), fact.answer, i))
        examples = "".join(f"{QUESTION.format(prompt=s.prompt)}{s.answer.rstrip()}\n\n"
                           for s in _shots(fact, context, config.question_examples, rng))
        attacks[with_examples].append((examples + QUESTION.format(prompt=fact.prompt), fact.answer, i))
    return attacks


def iter_prompt_attacks(lm: LoadedModel, snapshot: WeightSnapshot | None, forget: Sequence[Fact],
                        context: Sequence[Fact], config: AttackConfig = AttackConfig()) -> Iterator[AttackRecord]:
    """One AttackRecord per attack; "recovered" counts facts the plain prompt no longer answers."""
    attacks = attack_prompts(forget, context, config)
    plain_hits: list[bool] | None = None
    for name, rows in attacks.items():
        if not rows:
            continue
        prompts, answers, owners = zip(*rows)
        with snapshot.original(lm.model) if snapshot is not None else nullcontext():
            before = check_facts(lm, list(prompts), list(answers))
        after = check_facts(lm, list(prompts), list(answers))
        hits = [c.top1_ok for c in after]
        if plain_hits is None:
            plain_hits = hits
        forgotten = [j for j, owner in enumerate(owners) if not plain_hits[owner] and before[j].top1_ok]
        yield AttackRecord(
            name=name, n=len(rows),
            original_acc=float(np.mean([c.top1_ok for c in before])), unlearned_acc=float(np.mean(hits)),
            original_p=float(np.mean([c.prob for c in before])), unlearned_p=float(np.mean([c.prob for c in after])),
            recovered=float(np.mean([hits[j] for j in forgotten])) if forgotten else float("nan"),
            prompts=tuple(prompts), hits=tuple(hits),
        )
