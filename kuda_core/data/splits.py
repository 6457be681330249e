"""Forget / retain data for one run, with the held-out parts used only for measuring.

    >>> data = split_probes(load_probes(), load_general_texts(), topics=["landmarks"])
    >>> data.forget, data.neighbours, data.retain_used, data.retain_held, data.texts_used, data.texts_held

Neighbours are facts of the forget set's relations that are not forgotten ("The Colosseum is located
in the city of" when the Eiffel Tower is forgotten): half of them are held out, never trained on and
only measured, to show whether forgetting is precise; the other half join the retain facts that
the retain loss and the null space see. Of the other relations' facts a share is held out too.
    >>> data = split_rows(forget_rowset, retain_rowset, load_general_texts())   # user rows
    >>> used, held_out = holdout_split(items, 0.25, seed=0)
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence, TypeVar

from kuda_core.data.facts import Fact
from kuda_core.data.probes import split_by_topic
from kuda_core.data.wording import counted
from kuda_core.data.overlap import all_overlaps, check_overlap
from kuda_core.data.rows import RowSet

T = TypeVar("T")
NEIGHBOURS_HELD_OUT = 0.5    # share of the forget set's relation-mates that are measured only (the rest are retained)


@dataclass(frozen=True)
class DataSplit:
    forget: tuple[Fact, ...]          # facts to forget
    neighbours: tuple[Fact, ...]      # held-out facts of the forget set's relations: never trained on, measured only
    retain_used: tuple[Fact, ...]     # retain facts the retain loss and null space see (incl. the other relation-mates)
    retain_held: tuple[Fact, ...]     # retain facts used only for measuring locality
    texts_used: tuple[str, ...]       # general / retain texts used by the run
    texts_held: tuple[str, ...]       # general texts used only for perplexity
    description: str                  # one line for status messages and reports

    def __post_init__(self) -> None:
        if not self.forget:
            raise ValueError("The forget set is empty: pick at least one topic or fact")

    def probe_sets(self) -> dict[str, tuple[list[str], list[str]]]:
        """Named (prompts, answers) sets for evaluation; empty sets left out."""
        def pairs(facts):
            return [f.prompt for f in facts], [f.answer for f in facts]

        def paraphrases(facts):
            rows = [(q, f.answer) for f in facts for q in f.paraphrases]
            return [q for q, _ in rows], [a for _, a in rows]

        sets = {"forget": pairs(self.forget), "forget paraphrases": paraphrases(self.forget),
                "neighbours (held out)": pairs(self.neighbours),
                "neighbour paraphrases (held out)": paraphrases(self.neighbours),
                "retain (used)": pairs(self.retain_used), "retain (held out)": pairs(self.retain_held),
                "retain paraphrases (held out)": paraphrases(self.retain_held)}
        return {name: value for name, value in sets.items() if value[0]}

    def text_sets(self) -> dict[str, list[str]]:
        """Named general-text sets for perplexity; empty sets left out."""
        sets = {"general (used)": list(self.texts_used), "general (held out)": list(self.texts_held)}
        return {name: texts for name, texts in sets.items() if texts}


def split_probes(facts: Sequence[Fact], texts: Sequence[str], topics: Sequence[str] = (),
                 prompts: Sequence[str] = (), holdout_fraction: float = 0.25, seed: int = 0) -> DataSplit:
    """Forget the facts of `topics` plus the facts whose prompt is in `prompts`; retain the rest."""
    chosen, _ = split_by_topic(facts, topics) if topics else ([], list(facts))
    wanted = set(prompts)
    missing = wanted - {f.prompt for f in facts}
    if missing:
        raise LookupError(f"Unknown probe prompt(s): {sorted(missing)[:3]}")
    forget = [f for f in facts if f in chosen or f.prompt in wanted]
    retain = [f for f in facts if f not in forget]
    what = ", ".join(topics) if topics else f"{len(forget)} chosen facts"
    return _split(forget, retain, texts, holdout_fraction, seed, f"forget {counted(len(forget), 'fact')} ({what})")


def split_rows(forget: RowSet, retain: RowSet | None, texts: Sequence[str], holdout_fraction: float = 0.25,
               seed: int = 0) -> DataSplit:
    """Forget the fact rows of `forget`; retain those of `retain` (its plain texts join the texts)."""
    if not forget.facts:
        raise ValueError(f"{forget.source} has no fact rows (prompt, subject, answer) to forget")
    retain_facts = list(retain.facts) if retain is not None else []
    extra_texts = list(retain.texts) if retain is not None else []
    if retain is not None:
        overlaps = check_overlap(forget, retain)
        if overlaps:
            shown = "; ".join(f"{o.reason}: {o.forget_row!r:.60}" for o in overlaps[:3])
            raise ValueError(f"{len(overlaps)} forget row(s) also appear in the retain set ({shown})")
    return _split(list(forget.facts), retain_facts, [*extra_texts, *texts], holdout_fraction, seed,
                  f"forget {counted(len(forget.facts), 'fact')} from {forget.source}")


def probes_without(forget: RowSet, probes: Sequence[Fact]) -> RowSet:
    """The probe facts as a retain RowSet, without those that overlap the forget rows."""
    everything = RowSet(facts=list(probes), texts=[], source="built-in probes")
    clashing = {o.retain_row for o in all_overlaps(forget, everything)}
    return RowSet(facts=[f for f in probes if f.text not in clashing], texts=[], source="built-in probes")


def _split(forget, retain, texts, fraction, seed, description) -> DataSplit:
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"The held-out fraction must be in [0, 1), got {fraction}")
    relations = {f.relation for f in forget if f.relation}
    same = [f for f in retain if f.relation in relations]
    others = [f for f in retain if f.relation not in relations]
    neighbours_used, neighbours = holdout_split(same, NEIGHBOURS_HELD_OUT, seed) if len(same) > 1 else ([], same)
    retain_used, retain_held = holdout_split(others, fraction, seed)
    texts_used, texts_held = holdout_split(list(texts), fraction, seed)
    if neighbours:
        description += f"; {len(neighbours)} neighbours held out"
    return DataSplit(tuple(forget), tuple(neighbours), tuple(neighbours_used + retain_used), tuple(retain_held),
                     tuple(texts_used), tuple(texts_held), description)


def holdout_split(items: Sequence[T], fraction: float, seed: int = 0) -> tuple[list[T], list[T]]:
    """holdout_split(items, 0.25, seed=0) -> (used, held_out), both in input order, deterministic.

    round(len(items) * fraction) items are held out, chosen by a seeded shuffle.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}")
    items = list(items)
    n_held = round(len(items) * fraction)
    held = set(random.Random(seed).sample(range(len(items)), n_held))
    used = [x for i, x in enumerate(items) if i not in held]
    held_out = [x for i, x in enumerate(items) if i in held]
    return used, held_out
