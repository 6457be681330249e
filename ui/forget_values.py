"""What the Forget tab's widgets describe: the data (DataChoice) and the run (UnlearnConfig).

    >>> data_choice({"forget_source": "built-in probes", "retain_source": "built-in probes",
    ...              "forget_topics": ["capitals"], "forget_facts": [], "holdout": 0.25})
    >>> unlearn_config({"method": "kuda", "layers": [9, 10, 11], "steps": 100, ...})   # every widget's value

A value the engine refuses raises ValueError with a message for the visitor (ui.errors shows it).
"""
from __future__ import annotations

from kuda_core.data.probes import load_probes
from kuda_core.data.rows import load_hf_rows, load_rows_file, parse_rows_text
from kuda_core.forget.config import UnlearnConfig
from kuda_core.workflows.data import DataChoice
from ui.fact_picker import fact_label


def _rows(values: dict, role: str):
    """The forget or retain rows of the chosen source (None for the built-in probes)."""
    source = values[f"{role}_source"]
    if source == "typed rows":
        return parse_rows_text(values[f"{role}_typed"] or "", source=f"typed {role} rows")
    if source == "uploaded file":
        upload = values[f"{role}_file"]
        if upload is None:
            raise ValueError(f"Upload a JSONL, CSV or Parquet file for the {role} set")
        return load_rows_file(upload if isinstance(upload, str) else upload.name)
    if source == "Hugging Face dataset":
        name = (values[f"{role}_hf"] or "").strip()
        if not name:
            raise ValueError(f"Give a Hugging Face dataset name for the {role} set")
        return load_hf_rows(name, split=values["hf_split"] or "train")
    return None


def data_choice(values: dict) -> DataChoice:
    """The data the widgets describe."""
    holdout = float(values["holdout"])
    if values["forget_source"] == "built-in probes":
        if values["retain_source"] != "built-in probes":
            raise ValueError("With built-in forget probes the retain set is the rest of the probes")
        by_label = {fact_label(f): f.prompt for f in load_probes()}
        prompts = tuple(by_label[label] for label in values["forget_facts"] or [] if label in by_label)
        return DataChoice(topics=tuple(values["forget_topics"] or ()), prompts=prompts, holdout_fraction=holdout)
    return DataChoice.from_rows(_rows(values, "forget"), _rows(values, "retain"), holdout_fraction=holdout)


def unlearn_config(values: dict) -> UnlearnConfig:
    """The UnlearnConfig the widgets describe: shared settings plus the chosen method's own options."""
    if not values["layers"]:
        raise ValueError("Choose the layers to edit (Locate suggests them)")
    method = values["method"]
    for name in ("steps", "lr", "eval_every", "augment_copies", "stall_boost", "answer_rank", "read_on"):
        if values[name] is None:
            raise ValueError(f"Give a value for {name}")
    tau = float(values["tau"] or 0)
    if tau < 0:
        raise ValueError(f"tau must be 0 (no projection) or positive, got {tau}")
    shared = {"layers": tuple(sorted(int(x) for x in values["layers"])), "steps": int(values["steps"]),
              "lr": float(values["lr"]), "tau": tau if tau > 0 else None, "tau_mode": values["tau_mode"],
              "gamma": float(values["gamma"]), "train_inputs": bool(values["train_inputs"]),
              "eval_every": int(values["eval_every"]), "augment": tuple(values["augment"] or ()),
              "augment_copies": int(values["augment_copies"]), "stall_boost": float(values["stall_boost"]),
              "answer_rank": int(values["answer_rank"]), "read_on": int(values["read_on"]),
              "stop_at": 0.0 if values["until_forgotten"] else None}
    prefix = f"{method}."
    options = {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix) and v is not None}
    return UnlearnConfig.create(method, **shared, **options)
