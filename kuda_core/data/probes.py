"""Probe facts and general texts shipped with the project (package data), and topic groups.

    >>> facts = load_probes()                              # kuda_core/assets/probes.jsonl -> list[Fact]
    >>> texts = load_general_texts()                       # kuda_core/assets/general_texts.jsonl -> list[str]
    >>> topics(facts)["capitals"]                          # the facts of one topic
    >>> forget, retain = split_by_topic(facts, ["capitals"])
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

from kuda_core.data.facts import Fact
from kuda_core.data.readers import read_records

PROBES_FILE = "probes.jsonl"
GENERAL_TEXTS_FILE = "general_texts.jsonl"


def shipped_file(name: str) -> Path:
    """Path of a data file shipped inside the package (kuda_core/assets), e.g. "probes.jsonl"."""
    path = Path(str(resources.files("kuda_core") / "assets" / name))
    if not path.is_file():
        raise FileNotFoundError(f"The package data file {name!r} is missing: reinstall kuda_core")
    return path


def load_probes(path: str | Path | None = None) -> list[Fact]:
    """load_probes() -> the shipped probe facts (or those of a JSONL / CSV / Parquet file), in file order."""
    return list(_shipped_probes() if path is None else _read_probes(Path(path).expanduser()))


def load_general_texts(path: str | Path | None = None) -> list[str]:
    """load_general_texts() -> the shipped general-text passages (or those of a file with a 'text' column)."""
    return list(_shipped_texts() if path is None else _read_texts(Path(path).expanduser()))


@lru_cache(maxsize=1)
def _shipped_probes() -> tuple[Fact, ...]:
    return _read_probes(shipped_file(PROBES_FILE))


@lru_cache(maxsize=1)
def _shipped_texts() -> tuple[str, ...]:
    return _read_texts(shipped_file(GENERAL_TEXTS_FILE))


def _read_probes(source: Path) -> tuple[Fact, ...]:
    facts = []
    for number, row in enumerate(_rows(source), start=1):
        try:
            facts.append(Fact.from_dict(row))
        except ValueError as error:
            raise ValueError(f"{source}:{number}: {error}") from error
    return tuple(facts)


def _read_texts(source: Path) -> tuple[str, ...]:
    texts = []
    for number, row in enumerate(_rows(source), start=1):
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{source}:{number}: missing or empty 'text' (keys {sorted(row)})")
        texts.append(text)
    return tuple(texts)


def _rows(source: Path) -> list[dict]:
    rows = read_records(source)
    if not rows:
        raise ValueError(f"{source} holds no rows")
    return rows


def topics(facts: Iterable[Fact]) -> dict[str, list[Fact]]:
    """topics(facts) -> {topic: [facts]} in order of first appearance."""
    groups: dict[str, list[Fact]] = {}
    for fact in facts:
        groups.setdefault(fact.topic, []).append(fact)
    return groups


def split_by_topic(facts: Sequence[Fact], forget_topics: Iterable[str]) -> tuple[list[Fact], list[Fact]]:
    """split_by_topic(facts, ["capitals"]) -> (forget, retain); unknown topic names raise ValueError."""
    wanted = [forget_topics] if isinstance(forget_topics, str) else list(forget_topics)
    if not wanted:
        raise ValueError("Choose at least one topic to forget")
    known = topics(facts)
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise ValueError(f"Unknown topic(s) {unknown}; available: {list(known)}")
    chosen = set(wanted)
    forget = [f for f in facts if f.topic in chosen]
    retain = [f for f in facts if f.topic not in chosen]
    return forget, retain
