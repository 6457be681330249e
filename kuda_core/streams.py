"""Long work is a generator of small records; this runs one to its end.

    >>> result = drain(iter_trace(lm, prompt, subject))      # the last record
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def drain(records: Iterable[T]) -> T:
    """Run a generator of records to its end and return the last one; ValueError if it yields none."""
    last, seen = None, False
    for last in records:
        seen = True
    if not seen:
        raise ValueError("The generator ended without a record")
    return last  # type: ignore[return-value]
