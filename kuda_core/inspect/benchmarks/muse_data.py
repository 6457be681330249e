"""MUSE data: the forget / retain / holdout splits, from a folder in MUSE's layout or the hub.

    >>> data = load_muse("tests/fixtures/muse")                  # MuseData (missing files: empty lists)
    >>> data = load_muse("news")                                 # muse-bench/MUSE-News, online only
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kuda_core.data.readers import read_records
from kuda_core.model import network

HUB_CORPORA = {"news": "muse-bench/MUSE-News", "books": "muse-bench/MUSE-Books"}


@dataclass(frozen=True)
class MuseData:
    verbmem: list[dict] = field(default_factory=list)            # [{prompt, gt}]
    knowmem_forget: list[dict] = field(default_factory=list)     # [{question, answer}]
    knowmem_retain: list[dict] = field(default_factory=list)
    knowmem_forget_icl: list[dict] = field(default_factory=list)
    knowmem_retain_icl: list[dict] = field(default_factory=list)
    privleak_forget: list[str] = field(default_factory=list)
    privleak_holdout: list[str] = field(default_factory=list)
    privleak_retain: list[str] = field(default_factory=list)


LOCAL_FILES = {  # MuseData field -> path inside a MUSE data folder (data/news/... in MUSE's repo)
    "verbmem": "verbmem/forget.json",
    "knowmem_forget": "knowmem/forget_qa.json",
    "knowmem_retain": "knowmem/retain_qa.json",
    "knowmem_forget_icl": "knowmem/forget_qa_icl.json",
    "knowmem_retain_icl": "knowmem/retain_qa_icl.json",
    "privleak_forget": "privleak/forget.json",
    "privleak_holdout": "privleak/holdout.json",
    "privleak_retain": "privleak/retain.json",
}
HUB_SPLITS = {  # MuseData field -> (subset, split, column or None for {question, answer} rows)
    "verbmem": ("verbmem", "forget", None),
    "knowmem_forget": ("knowmem", "forget_qa", None),
    "knowmem_retain": ("knowmem", "retain_qa", None),
    "knowmem_forget_icl": ("knowmem", "forget_qa_icl", None),
    "knowmem_retain_icl": ("knowmem", "retain_qa_icl", None),
    "privleak_forget": ("privleak", "forget", "text"),
    "privleak_holdout": ("privleak", "holdout", "text"),
    "privleak_retain": ("privleak", "retain", "text"),
}
REQUIRED_KEYS = {"verbmem": ("prompt", "gt"), "knowmem": ("question", "answer")}


def _check_rows(name: str, rows: list, where: str) -> list:
    if not isinstance(rows, list):
        raise ValueError(f"{where}: expected a JSON list, got {type(rows).__name__}")
    if name.startswith("privleak"):
        bad = [r for r in rows if not isinstance(r, str)]
        if bad:
            raise ValueError(f"{where}: privleak files hold a list of strings; found {type(bad[0]).__name__}")
        return rows
    keys = REQUIRED_KEYS[name.split("_")[0]]
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or any(k not in row for k in keys):
            raise ValueError(f"{where}: row {number} needs keys {keys}, got {row!r:.80}")
    return rows


def _read_file(name: str, file: Path) -> list:
    """A MUSE data file: rows of objects through the project's reader; privleak files are JSON lists of strings."""
    if name.startswith("privleak"):
        return json.loads(file.read_text(encoding="utf-8"))
    return read_records(file)


def load_muse(source: str | Path) -> MuseData:
    """load_muse(folder in MUSE's layout, or "news" / "books") -> MuseData (missing files: empty).

    Hub corpora (muse-bench/MUSE-News, MUSE-Books) need KUDA_ONLINE=1; offline: ConnectionError.
    """
    path = Path(str(source)).expanduser()
    found: dict[str, list] = {}
    if path.is_dir():
        for name, relative in LOCAL_FILES.items():
            file = path / relative
            if file.is_file():
                found[name] = _check_rows(name, _read_file(name, file), str(file))
        if not found:
            raise ValueError(f"{path} holds none of the MUSE files {sorted(LOCAL_FILES.values())}")
        return MuseData(**found)
    corpus = str(source).lower()
    if corpus not in HUB_CORPORA:
        raise ValueError(f"{source!r} is neither a folder in MUSE's layout nor one of {list(HUB_CORPORA)}")
    if not network.is_online():
        raise ConnectionError(
            f"{HUB_CORPORA[corpus]} must be downloaded, but hub access is off; start with --online / "
            "KUDA_ONLINE=1, or pass a local folder in MUSE's layout (verbmem/forget.json, ...)"
        )
    from datasets import load_dataset

    for name, (subset, split, column) in HUB_SPLITS.items():
        try:
            data = load_dataset(HUB_CORPORA[corpus], subset, split=split)
        except ValueError:  # e.g. a split this corpus does not have
            continue
        found[name] = list(data[column]) if column else [dict(row) for row in data]
    return MuseData(**found)
