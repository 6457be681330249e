"""Counted nouns in the messages people read.

    >>> counted(1, "fact"), counted(3, "fact"), counted(1, "run"), counted(2, "fact", "facts still answered")
    ('1 fact', '3 facts', '1 run', '2 facts still answered')
"""
from __future__ import annotations


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """`n` and the noun, singular for exactly one (plural: default `singular` + "s")."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
