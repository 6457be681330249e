"""One reader for row files: JSONL / JSON / CSV / TSV / Parquet -> a list of row dicts.

    >>> rows = read_records("forget.csv")                     # [{"prompt": ..., "subject": ...}, ...]
    >>> rows = read_records("big.jsonl", max_bytes=2**20)     # ValueError when the file is larger

Files are read with `datasets.load_dataset("json" | "csv" | "parquet", data_files=...)` into
memory, through a throw-away cache folder, so reading leaves no files behind. CSV cells stay text
where they are text ("NA" is not a missing value); numeric columns come back as numbers.
Problems raise FileNotFoundError or ValueError naming the file.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}


def read_records(path: str | Path, max_bytes: int | None = None) -> list[dict]:
    """Rows of a local file as dicts, in file order (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in BUILDERS:
        raise ValueError(f"Unsupported file type {suffix or '(none)'!r} for {path.name}; use {', '.join(BUILDERS)}")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ValueError(f"{path.name} is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.1f} MiB")
    if size == 0:
        raise ValueError(f"{path.name} is empty")
    if suffix != ".parquet" and size <= 4096 and not path.read_bytes().strip():
        raise ValueError(f"{path.name} holds no rows")
    import datasets  # heavy: only when a file is read

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # parse errors are raised to the caller instead
    options = {"keep_default_na": False, "na_filter": False} if suffix in (".csv", ".tsv") else {}
    if suffix == ".tsv":
        options["delimiter"] = "\t"
    try:
        with tempfile.TemporaryDirectory(prefix="kuda-read-") as cache:
            dataset = datasets.load_dataset(BUILDERS[suffix], data_files=str(path), split="train", cache_dir=cache,
                                            keep_in_memory=True, **options)
            return dataset.to_list()
    except Exception as error:  # noqa: BLE001 - the parsers raise many kinds (arrow, json, csv)
        message = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise ValueError(f"Could not read {path.name} as {BUILDERS[suffix]}: {message[:300]}") from error
