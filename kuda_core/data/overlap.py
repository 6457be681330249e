"""Forget rows that the retain set also holds: the same fact must not be both forgotten and kept.

    >>> check_overlap(forget_rows, retain_rows)     # [Overlap(...)]: the first retain row found per forget row
    >>> all_overlaps(forget_rows, retain_rows)      # every (forget row, retain row) pair
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kuda_core.data.rows import RowSet, normalized


@dataclass(frozen=True)
class Overlap:
    """A forget row also present in the retain set, and why they count as the same."""

    forget_row: str
    retain_row: str
    reason: str          # "same text", "same prompt" or "same subject and answer"


def check_overlap(forget: RowSet, retain: RowSet) -> list[Overlap]:
    """check_overlap(forget, retain) -> forget rows that the retain set also holds (empty if none), the
    first retain row found for each (all_overlaps lists every pair)."""
    first: dict[str, Overlap] = {}
    for overlap in all_overlaps(forget, retain):
        first.setdefault(overlap.forget_row, overlap)
    return list(first.values())


def all_overlaps(forget: RowSet, retain: RowSet) -> list[Overlap]:
    """Every (forget row, retain row) pair that states the same thing, in forget-row order.

    Same text (case and spacing ignored; a fact counts as prompt + answer); for facts also the same
    prompt (the same question, whatever answer each gives), or the same subject (capitals and a
    leading "the" / "a" / "an" ignored) with answers of which one begins with the other word for
    word ("Leonardo" and "Leonardo da Vinci").
    """
    retain_text: dict[str, list[str]] = {}
    for row in retain.all_texts():
        retain_text.setdefault(normalized(row), []).append(row)
    by_prompt: dict[str, list[str]] = {}
    by_subject: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for fact in retain.facts:
        by_prompt.setdefault(normalized(fact.prompt), []).append(fact.text)
        by_subject.setdefault(_subject_key(fact.subject), []).append((_answer_words(fact.answer), fact.text))
    found: list[Overlap] = []
    for fact in forget.facts:
        words = _answer_words(fact.answer)
        same_subject = by_subject.get(_subject_key(fact.subject), [])
        candidates = [*((row, "same text") for row in retain_text.get(normalized(fact.text), [])),
                      *((row, "same prompt") for row in by_prompt.get(normalized(fact.prompt), [])),
                      *((row, "same subject and answer") for other, row in same_subject
                        if _one_begins_the_other(words, other))]
        seen: set[str] = set()
        for row, reason in candidates:               # one Overlap per retain row: its first reason
            if row not in seen:
                seen.add(row)
                found.append(Overlap(fact.text, row, reason))
    for text in forget.texts:
        for row in retain_text.get(normalized(text), []):
            found.append(Overlap(text, row, "same text"))
    return found


def _subject_key(subject: str) -> str:
    """'The Mona Lisa' and 'mona lisa' -> 'mona lisa'."""
    return re.sub(r"^(the|a|an) ", "", normalized(subject))


def _one_begins_the_other(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """('leonardo',) and ('leonardo', 'da', 'vinci') -> True; ('new', 'york') and ('new', 'delhi') -> False."""
    shorter = min(len(a), len(b))
    return shorter > 0 and a[:shorter] == b[:shorter]


def _answer_words(answer: str) -> tuple[str, ...]:
    """' Leonardo da Vinci.' -> ('leonardo', 'da', 'vinci')."""
    return tuple(re.findall(r"\w+", normalized(answer)))

