"""Where a visitor's typed paths may lead: exports stay in the app's runs folder, reads come from known places.

    >>> export_path("my-run")                   # runs/my-run (relative paths are inside the runs folder)
    >>> export_path("/etc/passwd")              # ValueError: outside the runs folder
    >>> readable_source("tests/fixtures/muse")  # a data folder the app serves, an upload, or a hub name

Every path is resolved (symbolic links followed, "..") before it is compared, so nothing a visitor
types writes or deletes outside the runs folder, and nothing reads server files the app does not serve.
"""
from __future__ import annotations

from pathlib import Path

from gradio.utils import get_upload_folder

from ui.session import OPTIONS

ROOT = Path(__file__).resolve().parents[1]
DATA_DIRS = (ROOT / "tests" / "fixtures",)    # example benchmark files the app serves to every visitor


def _clean(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValueError(f"Give {what}")
    if "\x00" in text:
        raise ValueError(f"{what.capitalize()} contains a NUL character")
    return text


def _inside(path: Path, roots) -> bool:
    resolved = path.resolve()
    return any(resolved == root.resolve() or resolved.is_relative_to(root.resolve()) for root in roots)


def export_path(text: str) -> Path:
    """The folder a bundle may be written to: inside the runs folder (relative paths start there)."""
    runs = Path(OPTIONS.runs_dir)
    raw = Path(_clean(text, "a folder for the bundle")).expanduser()
    path = raw if raw.is_absolute() else runs / raw
    if not _inside(path, [runs]) or path.resolve() == runs.resolve():
        raise ValueError(f"Bundles are written inside the app's runs folder ({runs.resolve()}); "
                         f"{str(raw)!r} is outside it")
    return path


def readable_source(text: str) -> str:
    """A benchmark source: a hub name (no path), or a file / folder in the app's data folders or uploads."""
    text = _clean(text, "a source")
    if "/" not in text and "\\\\" not in text and not Path(text).suffix:
        return text                                              # a hub name such as wmdp-bio or news
    path = Path(text).expanduser()
    path = path if path.is_absolute() else ROOT / path
    allowed = [*DATA_DIRS, Path(OPTIONS.runs_dir), Path(get_upload_folder())]
    if not _inside(path, allowed):
        raise ValueError(f"{text!r} is not among the files this app serves: upload the file, or use a file under "
                         f"{', '.join(str(d.relative_to(ROOT)) for d in DATA_DIRS)}")
    return str(path)
