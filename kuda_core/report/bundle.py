"""Export a run as one folder, atomically, and load it back.

    >>> path = export_bundle("runs/capitals", lm, run_config, metrics=table,
    ...                      tables={"answers": answers_df}, figures={"trace_mlp": fig})
    >>> bundle = load_bundle("runs/capitals")            # Bundle(lm, config, metrics, tables, path)

Layout of a bundle:
    model/              safetensors weights, config.json, tokenizer (AutoModelForCausalLM-ready)
    run.json            the run configuration (the same schema `python -m kuda_core` reads)
    metrics.json/.csv   the evaluation table
    tables/*.csv        further tables (answers, ...)
    figures/*.html      interactive figures (plotly.min.js written once beside them)
    report.md           a short human-readable summary
Everything is written into a temporary folder beside the target, which is then renamed, so a
crash never leaves a half-written bundle.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import AutoModelForCausalLM

from kuda_core.model.loading import LoadedModel, load_model

MODEL_DIR = "model"
RUN_FILE = "run.json"
MARKER = ".kuda-bundle"        # only a folder holding this file may be overwritten
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Bundle:
    lm: LoadedModel
    config: dict                                   # run.json
    metrics: pd.DataFrame                          # metrics.csv (empty when none was saved)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    path: Path = Path(".")


def safe_name(name: str) -> str:
    """A file-name-safe version of `name` ("trace mlp/1" -> "trace_mlp_1")."""
    cleaned = SAFE_NAME.sub("_", name).strip("._")
    if not cleaned:
        raise ValueError(f"Cannot make a file name from {name!r}")
    return cleaned


def save_model(lm: LoadedModel, directory: Path) -> None:
    """save_pretrained (safetensors) + tokenizer; quantised / GGUF-loaded models are rebuilt first.

    transformers refuses save_pretrained on a model loaded from GGUF (it carries a quantizer);
    such a model is rebuilt from its config and state dict, which keeps the current weights.
    """
    model = lm.model
    if getattr(model, "hf_quantizer", None) is not None:
        config = model.config.__class__.from_dict(
            {k: v for k, v in model.config.to_dict().items() if k != "quantization_config"}
        )
        fresh = AutoModelForCausalLM.from_config(config, dtype=lm.dtype)
        fresh.load_state_dict(model.state_dict())
        model = fresh
    model.save_pretrained(directory)
    lm.tokenizer.save_pretrained(directory)


def jsonable(value):
    """Plain JSON values: numpy / torch scalars to Python, NaN and inf to None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return jsonable(value.tolist())
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Cannot write a {type(value).__name__} to JSON: {value!r:.80}")


def _markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.{digits}g}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def report_markdown(lm: LoadedModel, config: Mapping, metrics: pd.DataFrame | None,
                    tables: Mapping[str, pd.DataFrame], figures: list[str], notes: str = "") -> str:
    """The short report.md of a bundle."""
    lines = [f"# KUDA run: {lm.name}", "", f"Exported {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.", ""]
    lines += ["## Model", "", *(f"- {k}: {v}" for k, v in lm.summary().items()), ""]
    forget = config.get("forget") if isinstance(config, Mapping) else None
    if forget:
        lines += ["## Forget request", "", "```json", json.dumps(jsonable(forget), indent=2), "```", ""]
    if metrics is not None and len(metrics):
        lines += ["## Metrics", "", _markdown_table(metrics), ""]
    answers = tables.get("answers")
    if answers is not None and len(answers):
        shown = [c for c in ("set", "prompt", "original", "unlearned", "answer in text", "fluent") if c in answers.columns]
        lines += ["## Example answers (verbatim)", "", _markdown_table(answers[shown].head(10)), ""]
    if figures:
        lines += ["## Figures", "", *(f"- [{name}](figures/{name}.html)" for name in figures), ""]
    if notes:
        lines += ["## Notes", "", notes, ""]
    lines += ["Reload with `kuda_core.report.bundle.load_bundle(path)` or "
              "`AutoModelForCausalLM.from_pretrained(path + '/model')`.", ""]
    return "\n".join(lines)


def writable_target(path: str | Path, overwrite: bool = False) -> Path:
    """The resolved bundle folder, or FileExistsError when export_bundle would refuse it (checked before a
    long run, so that a taken name is said at the start, not after the work)."""
    target = Path(path).expanduser().resolve()
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; choose another path or allow overwriting (\"overwrite\": true)")
    if target.exists() and not is_bundle(target):
        raise FileExistsError(f"{target} exists and is not a bundle this app wrote (no {MARKER} file): it is never "
                              "replaced; choose another path")
    return target


def export_bundle(
    path: str | Path,
    lm: LoadedModel,
    config: Mapping,
    metrics: pd.DataFrame | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    figures: Mapping[str, object] | None = None,
    notes: str = "",
    overwrite: bool = False,
) -> Path:
    """Write the bundle described in the module docstring at `path`; returns the final path.

    FileExistsError when `path` exists and overwrite is False, or when it is not a bundle this
    module wrote (an arbitrary folder is never replaced).
    """
    target = writable_target(path, overwrite)
    tables = dict(tables or {})
    figures = {safe_name(k): v for k, v in (figures or {}).items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        save_model(lm, staging / MODEL_DIR)
        (staging / RUN_FILE).write_text(json.dumps(jsonable(dict(config)), indent=2), encoding="utf-8")
        if metrics is not None:
            (staging / "metrics.json").write_text(
                json.dumps(jsonable(metrics.to_dict("records")), indent=2), encoding="utf-8")
            metrics.to_csv(staging / "metrics.csv", index=False)
        if tables:
            (staging / "tables").mkdir()
            for name, table in tables.items():
                table.to_csv(staging / "tables" / f"{safe_name(name)}.csv", index=False)
        if figures:
            (staging / "figures").mkdir()
            for name, figure in figures.items():
                figure.write_html(staging / "figures" / f"{name}.html", include_plotlyjs="directory")
        (staging / "report.md").write_text(
            report_markdown(lm, config, metrics, tables, list(figures), notes), encoding="utf-8")
        (staging / MARKER).write_text("written by kuda_core.report.bundle\n", encoding="utf-8")
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def is_bundle(path: str | Path) -> bool:
    """True for a folder this module wrote (it holds the marker file)."""
    return (Path(path) / MARKER).is_file()


def _swap_in(staging: Path, target: Path) -> None:
    """Rename staging to target; an existing target is moved aside first and removed after."""
    if not target.exists():
        staging.rename(target)
        return
    aside = target.with_name(f".{target.name}-old-{datetime.now():%Y%m%d%H%M%S%f}")
    target.rename(aside)
    try:
        staging.rename(target)
    except OSError:
        aside.rename(target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def load_bundle(path: str | Path, device: str = "auto") -> Bundle:
    """load_bundle(path) -> Bundle: the model (via load_model on path/model), run config, metrics."""
    root = Path(path).expanduser()
    if not (root / MODEL_DIR / "config.json").is_file():
        raise FileNotFoundError(f"{root} is not a KUDA bundle (no {MODEL_DIR}/config.json)")
    lm = load_model(str(root / MODEL_DIR), device=device)
    config = json.loads((root / RUN_FILE).read_text(encoding="utf-8")) if (root / RUN_FILE).is_file() else {}
    metrics = pd.read_csv(root / "metrics.csv") if (root / "metrics.csv").is_file() else pd.DataFrame()
    tables = {f.stem: pd.read_csv(f) for f in sorted((root / "tables").glob("*.csv"))} if (root / "tables").is_dir() else {}
    return Bundle(lm, config, metrics, tables, root)
