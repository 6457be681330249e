"""Which relation a fact belongs to, also for rows a user typed without one.

    >>> template(Fact("The capital of Peru is", "Peru", " Lima"))           # 'the capital of {} is'
    >>> infer_relation(Fact("The capital of Peru is", "Peru", " Lima"), load_probes())   # 'capital of'
    >>> with_relations(facts, probes)                                       # facts, relations filled in

A typed fact has no relation; its prompt with the subject masked is compared with the probes'
prompts and paraphrases masked the same way, so "The Eiffel Tower is located in the city of" finds
"located in city". Facts of the forget set's relations are its neighbours (data.splits).
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

from kuda_core.data.facts import Fact
from kuda_core.model.tokens import find_subject


def template(fact: Fact, text: str | None = None) -> str:
    """The prompt (or `text`, a paraphrase) with the subject replaced by {}, lower case, single spaces."""
    text = fact.prompt if text is None else text
    start, end = find_subject(text, fact.subject)
    masked = text[:start] + "{}" + text[end:]
    return re.sub(r"\s+", " ", masked).strip().casefold()


def relation_templates(probes: Iterable[Fact]) -> dict[str, Counter]:
    """{template: Counter(relation)} over the probes' prompts and paraphrases."""
    found: dict[str, Counter] = {}
    for fact in probes:
        if fact.relation:
            for text in (fact.prompt, *fact.paraphrases):
                found.setdefault(template(fact, text), Counter())[fact.relation] += 1
    return found


def infer_relation(fact: Fact, probes: Sequence[Fact], templates: dict[str, Counter] | None = None) -> str:
    """The fact's relation: its own, else the most common relation of probes worded the same way ("" if none)."""
    if fact.relation:
        return fact.relation
    counts = (templates or relation_templates(probes)).get(template(fact))
    return counts.most_common(1)[0][0] if counts else ""


def with_relations(facts: Sequence[Fact], probes: Sequence[Fact]) -> list[Fact]:
    """The facts with the relation filled in where it can be inferred from the probes' wording."""
    templates = relation_templates(probes)
    return [fact if fact.relation else replace(fact, relation=infer_relation(fact, probes, templates)) for fact in facts]
