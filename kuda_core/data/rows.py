"""Forget / retain rows from an uploaded file, a Hugging Face dataset, or text typed in the UI.

    >>> rows = load_rows_file("forget.jsonl")          # .jsonl / .json / .csv / .tsv / .parquet
    >>> rows = load_hf_rows("user/name", split="train")  # only when online (KUDA_ONLINE=1)
    >>> rows = parse_rows_text("The capital of France is | France | Paris\\nSome plain text.")
    >>> rows.facts, rows.texts, rows.source

A row is a fact (columns prompt, subject, answer; optional paraphrases, relation, topic) or a
plain text (column text). Problems raise ValueError naming the file, row and column.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kuda_core.data.facts import Fact, make_fact
from kuda_core.data.readers import read_records
from kuda_core.model import network

FACT_COLUMNS = ("prompt", "subject", "answer")
OPTIONAL_COLUMNS = ("paraphrases", "relation", "topic")
TEXT_COLUMN = "text"
PARAPHRASE_SEPARATOR = "||"   # paraphrases in one CSV cell: "prompt one || prompt two"


@dataclass(frozen=True)
class Limits:
    """Limits(max_bytes=50 MiB, max_rows=100_000) on what a loader accepts."""

    max_bytes: int = 50 * 1024 * 1024   # file size, bytes
    max_rows: int = 100_000             # rows after loading

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_rows < 1:
            raise ValueError(f"Limits must be positive, got max_bytes={self.max_bytes}, max_rows={self.max_rows}")


DEFAULT_LIMITS = Limits()


@dataclass
class RowSet:
    """RowSet(facts, texts, source): the rows of one forget or retain set."""

    facts: list[Fact] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.facts) + len(self.texts)

    @property
    def kind(self) -> str:
        """"facts", "texts", "mixed" or "empty"."""
        if self.facts and self.texts:
            return "mixed"
        return "facts" if self.facts else "texts" if self.texts else "empty"

    def all_texts(self) -> list[str]:
        """Every row as text: prompt + answer for facts, then the plain texts."""
        return [f.text for f in self.facts] + list(self.texts)

    def summary(self) -> str:
        """One line for the UI, e.g. "12 facts, 3 texts from forget.csv"."""
        return f"{len(self.facts)} facts, {len(self.texts)} texts from {self.source}"


def load_rows_file(path: str | Path, limits: Limits = DEFAULT_LIMITS, *, columns: Mapping[str, str] | None = None) -> RowSet:
    """load_rows_file("rows.csv", limits=Limits(), columns={"prompt": "question"}) -> RowSet.

    `columns` maps our names (prompt, subject, answer, text, ...) to the file's column names.
    """
    path = Path(path)
    records = read_records(path, max_bytes=limits.max_bytes)
    return rows_from_records(records, source=path.name, limits=limits, columns=columns)


def load_hf_rows(
    name: str,
    split: str = "train",
    config: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    *,
    columns: Mapping[str, str] | None = None,
) -> RowSet:
    """load_hf_rows("user/dataset", split="train", config=None) -> RowSet; needs hub access.

    Raises ConnectionError when offline, ValueError for an empty name or bad rows.
    """
    name = (name or "").strip()
    if not name:
        raise ValueError("Enter a dataset name such as 'user/dataset'")
    if not network.is_online():
        raise ConnectionError(
            f"Cannot load {name!r}: hub access is off. Start with --online (or KUDA_ONLINE=1), "
            "or download the rows and upload them as a JSONL, CSV or Parquet file."
        )
    import datasets  # heavy: only when needed

    try:
        dataset = datasets.load_dataset(name, config, split=f"{split}[:{limits.max_rows + 1}]")
    except FileNotFoundError as error:
        raise ValueError(f"Dataset {name!r} (config {config!r}, split {split!r}) was not found: {error}") from error
    return rows_from_records(dataset.to_list(), source=f"{name}:{split}", limits=limits, columns=columns)


def parse_rows_text(text: str, source: str = "typed rows") -> RowSet:
    """parse_rows_text("prompt | subject | answer [| paraphrase ...]\\nplain text") -> RowSet.

    One row per non-empty line: lines with "|" are facts, other lines plain texts.
    """
    facts, texts, numbers = [], [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if "|" not in line:
            texts.append(line)
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 3 or not all(parts[:3]):
            raise ValueError(
                f"Line {number}: expected 'prompt | subject | answer', got {len(parts)} field(s): {line!r}"
            )
        prompt, subject, answer, *paraphrases = parts
        try:
            facts.append(make_fact(prompt, subject, answer, paraphrases=[p for p in paraphrases if p]))
        except ValueError as error:
            raise ValueError(f"Line {number}: {error}") from error
        numbers.append(number)
    _refuse_repeats(facts, numbers, "Line")
    rows = RowSet(facts, texts, source)
    if not len(rows):
        raise ValueError("No rows: type one fact ('prompt | subject | answer') or one text per line")
    return rows


def rows_from_records(
    records: list[Mapping],
    source: str,
    limits: Limits = DEFAULT_LIMITS,
    *,
    columns: Mapping[str, str] | None = None,
) -> RowSet:
    """rows_from_records([{"prompt": ..., "subject": ..., "answer": ...}, {"text": ...}], "name") -> RowSet."""
    if not records:
        raise ValueError(f"{source} holds no rows")
    if len(records) > limits.max_rows:
        raise ValueError(f"{source} has more than {limits.max_rows} rows (the limit); use a smaller sample")
    found = list(dict.fromkeys(key for record in records for key in record))
    lookup = _column_lookup(found, columns or {}, source)
    has_fact = [c for c in FACT_COLUMNS if c in lookup]
    if has_fact and len(has_fact) < len(FACT_COLUMNS):
        missing = [c for c in FACT_COLUMNS if c not in lookup]
        raise ValueError(
            f"{source}: fact rows need columns {', '.join(FACT_COLUMNS)}; missing {', '.join(missing)}; "
            f"found columns {found}"
        )
    if not has_fact and TEXT_COLUMN not in lookup:
        raise ValueError(
            f"{source}: needs columns {', '.join(FACT_COLUMNS)} (one fact per row) or {TEXT_COLUMN!r} "
            f"(one passage per row); found columns {found}"
        )
    facts, texts, numbers = [], [], []
    for number, record in enumerate(records, start=1):
        value = {ours: record.get(theirs) for ours, theirs in lookup.items()}
        if has_fact and not all(_blank(value[c]) for c in FACT_COLUMNS):
            try:
                facts.append(make_fact(
                    _text(value["prompt"]), _text(value["subject"]), _text(value["answer"]),
                    paraphrases=_paraphrases(value.get("paraphrases")),
                    relation=_text(value.get("relation")), topic=_text(value.get("topic")),
                ))
            except ValueError as error:
                raise ValueError(f"{source}, row {number}: {error}") from error
            numbers.append(number)
        if TEXT_COLUMN in lookup and not _blank(value[TEXT_COLUMN]):
            texts.append(_text(value[TEXT_COLUMN]).strip())
    _refuse_repeats(facts, numbers, f"{source}, row")
    rows = RowSet(facts, texts, source)
    if not len(rows):
        raise ValueError(f"{source}: every row is empty")
    return rows


def _refuse_repeats(facts: list[Fact], numbers: list[int], where: str) -> None:
    """ValueError naming the first fact row that repeats an earlier one (same prompt and answer, case and
    spacing ignored): a fact given twice would count twice in every measure."""
    first: dict[tuple[str, str], int] = {}
    for fact, number in zip(facts, numbers):
        key = (normalized(fact.prompt), normalized(fact.answer))
        if key in first:
            raise ValueError(f"{where} {number} repeats {where.split(', ')[-1].lower()} {first[key]} "
                             f"({fact.prompt!r} -> {fact.answer.strip()!r}); give each fact once")
        first[key] = number


def _column_lookup(found: list[str], columns: Mapping[str, str], source: str) -> dict[str, str]:
    """{our name: the file's column}, matching names case-insensitively, after `columns`."""
    lookup = {}
    for ours, theirs in columns.items():
        if theirs not in found:
            raise ValueError(f"{source}: column {theirs!r} (given for {ours!r}) is not there; found columns {found}")
        lookup[ours] = theirs
    by_lower = {str(name).strip().lower(): name for name in found}
    for ours in (*FACT_COLUMNS, *OPTIONAL_COLUMNS, TEXT_COLUMN):
        if ours not in lookup and ours in by_lower:
            lookup[ours] = by_lower[ours]
    return lookup


def _blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:  # NaN from pandas
        return True
    return isinstance(value, str) and not value.strip()


def _text(value) -> str:
    return "" if _blank(value) else str(value)


def _paraphrases(value) -> list[str]:
    """A list, a JSON list in a string, or "a || b" -> list of prompts."""
    if _blank(value):
        return []
    if hasattr(value, "tolist"):  # numpy array from parquet
        value = value.tolist()
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as error:
                raise ValueError(f"paraphrases is not a valid JSON list: {value!r}") from error
        else:
            value = stripped.split(PARAPHRASE_SEPARATOR)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"paraphrases must be a list of prompts, got {value!r}")
    return [str(p).strip() for p in value if not _blank(p)]


def normalized(text: str) -> str:
    """Case and spacing folded: "The  Capital" -> "the capital" (how rows are compared)."""
    return re.sub(r"\s+", " ", str(text)).strip().lower()
