"""Forget rows in more contexts than their own prompt, so that forgetting does not hinge on one wording.

    >>> augment(facts, ("prefix", "kshot", "question"), texts, copies=2, seed=0)   # [Fact] (originals not included)
    >>> rows, sources = augment_with_sources(facts, ("prefix",), texts)           # sources[i]: index in facts

  * "prefix": a sentence from a general text, then the prompt ("Rain fell all day. The Eiffel Tower is ...");
  * "kshot": two other forget facts of the same relation, answered, then the prompt
    ("The Colosseum is located in the city of Rome. Big Ben is located in the city of London. The ...");
    with fewer than two of them (one fact forgotten alone), retained facts of the relation (`shots`,
    never held-out neighbours) fill in, none naming the fact's answer;
  no context (prefix sentence or shot) mentions the fact's subject, so it occurs once in the new prompt;
  * "question": the prompt wrapped as a question ("Q: The Eiffel Tower is located in the city of ...?\\nA:").
The subject stays inside the new prompt and the answer stays the same, so every method trains on
the augmented rows as on the originals. The question wordings here differ from the ones the
robustness checks use (kuda_core.inspect.attacks), so those checks stay a test, not a rehearsal.
"""
from __future__ import annotations

import random
import re
from collections.abc import Sequence

from kuda_core.data.checks import names_answer
from kuda_core.data.facts import Fact

AUGMENT_KINDS = ("prefix", "kshot", "question")
# k-shot rows at least, for a fact forgotten with fewer than two others of its relation (its shots are retained
# facts). Thirteenth round, declared here before it runs (bench/fresh_facts.py --source dev, 18 probe facts of the
# dev topics forgotten one at a time; 1 against 4): 4 becomes the default if it brings back at least 3 fewer facts
# under the 3-shot attack, forgets at most 1 fact fewer, keeps the neighbours within 5 points and the fluent
# answers (verdict) within 2, with the slowest fact within 120 s; else 1 stays. Bench topics are not touched
# (every bench forget set has 9 or more facts of its relation). It ran: 3-shot recovered 6 -> 3 of 18, forgotten
# 18 -> 18, neighbours 99% -> 100%, fluent 5 -> 8, slowest 34 -> 37 s (question format 4 -> 5, not scored), so 4.
# Fifteenth round, declared here before it runs (same path and facts, 4 against 8, both at once, one thread each,
# with the attacks over 5 draws of shots, bench/fresh_facts.py SHOT_DRAWS): on fresh facts a lone fact still comes
# back under 18 of 50 (fact, draw) 3-shot attacks. 8 becomes the default if it brings back at least 5 fewer of the
# 90 (fact, draw) pairs under the 3-shot attack, forgets at most 1 fact fewer, keeps the neighbours within 5 points
# and the fluent answers (verdict) within 2, with the slowest fact within 120 s; else 4 stays. It ran: 3-shot
# 16 -> 9 of 90 pairs (facts back in at least one draw 7 -> 5; question format 22 -> 16 pairs), forgotten 18 -> 18,
# neighbours 100% -> 100%, fluent 8 -> 6, slowest 109 -> 101 s (the two at once), so 8.
LONE_KSHOT_COPIES = 8
QUESTION_WORDINGS = ("Q: {prompt} ...?\nA:", "Fill in the blank: {prompt} ___.\nThe blank is", "Quiz. {prompt}")


def _sentences(texts: Sequence[str]) -> list[str]:
    found = [s.strip() for text in texts for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4]
    return found or ["This is a sentence."]


def augment(facts: Sequence[Fact], kinds: Sequence[str], texts: Sequence[str] = (), copies: int = 2,
            seed: int = 0, shots: Sequence[Fact] = ()) -> list[Fact]:
    """`copies` new rows per fact and kind (see the module docstring); deterministic for a seed."""
    return augment_with_sources(facts, kinds, texts, copies, seed, shots)[0]


def augment_with_sources(facts: Sequence[Fact], kinds: Sequence[str], texts: Sequence[str] = (), copies: int = 2,
                         seed: int = 0, shots: Sequence[Fact] = ()) -> tuple[list[Fact], list[int]]:
    """(the rows of `augment`, the index in `facts` each row was made from); `shots`: retained facts
    that may serve as k-shot examples when a fact has fewer than two forget facts of its relation."""
    unknown = [k for k in kinds if k not in AUGMENT_KINDS]
    if unknown:
        raise ValueError(f"Unknown augmentation {unknown}; choose from {AUGMENT_KINDS}")
    rng = random.Random(seed)
    sentences = _sentences(texts)
    rows: list[Fact] = []
    sources: list[int] = []
    for index, fact in enumerate(facts):
        same, lone = _shot_pool(fact, facts, shots)
        for kind in kinds:
            for _ in range(max(copies, LONE_KSHOT_COPIES) if kind == "kshot" and lone else copies):
                if kind == "prefix":
                    prompt = f"{_prefix(rng, sentences, fact.subject)} {fact.prompt}"
                elif kind == "kshot":
                    if not same:
                        continue
                    examples = rng.sample(same, min(2, len(same)))
                    prompt = " ".join(f"{s.prompt}{s.answer.rstrip()}." for s in examples) + f" {fact.prompt}"
                else:
                    prompt = rng.choice(QUESTION_WORDINGS).format(prompt=fact.prompt)
                rows.append(Fact(prompt, fact.subject, fact.answer, fact.relation, fact.topic))
                sources.append(index)
    return rows, sources


def _shot_pool(fact: Fact, facts: Sequence[Fact], shots: Sequence[Fact]) -> tuple[list[Fact], bool]:
    """(k-shot examples, lone). The examples: forget facts of the fact's relation that do not mention its
    subject; with fewer than two (lone), retained ones of the relation that mention neither its subject nor
    its answer are added (a retained "The Mona Lisa was painted by Leonardo da Vinci" never stands before
    the forget fact "The Mona Lisa was painted by | the mona lisa | Leonardo")."""
    same = [f for f in facts if f.relation == fact.relation and not _mentions(f.prompt, fact.subject)]
    if len(same) >= 2 or not fact.relation:
        return same, False
    taken = {f.subject.casefold() for f in same}
    extra = [f for f in shots if f.relation == fact.relation and f.subject.casefold() not in taken
             and not _mentions(f.prompt, fact.subject) and not names_answer(f.text, fact.answer)]
    return same + extra, True


def _prefix(rng: random.Random, sentences: Sequence[str], subject: str, tries: int = 20) -> str:
    """A random sentence that does not mention `subject`; drawn again only when one does, so the draws
    (and the rows of every later fact) stay as they were where no sentence collides."""
    for _ in range(tries):
        sentence = rng.choice(sentences)
        if not _mentions(sentence, subject):
            return sentence
    return next((s for s in sentences if not _mentions(s, subject)), "This is a sentence.")


def _mentions(text: str, subject: str) -> bool:
    """Whether `text` holds `subject`, capitals ignored (a context that does would hold the subject twice)."""
    return subject.strip().casefold() in text.casefold()
