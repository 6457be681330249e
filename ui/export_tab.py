"""The "Export" tab: save the run configuration, write a run bundle, load a bundle back."""
from __future__ import annotations

import tempfile
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path

import gradio as gr
import pandas as pd

from kuda_core.bundle import export_bundle, load_bundle
from kuda_core.plots import evaluation_bars, training_curves
from kuda_core.run_config import RunConfig
from kuda_core.unlearn import UnlearnConfig
from ui.errors import user_errors
from ui.session import HOLDER


def run_config() -> RunConfig:
    """The configuration of the last Forget run, in the schema `python -m kuda_core` reads."""
    run = HOLDER.last_run
    if run is None:
        raise ValueError("Nothing to save yet: run Forget first")
    config: UnlearnConfig = run["config"]
    defaults = UnlearnConfig()
    options = {f.name: getattr(config, f.name) for f in fields(config)
               if f.name != "layers" and getattr(config, f.name) != getattr(defaults, f.name)}
    forget = {**run["rows"], **options}
    return RunConfig.from_dict({
        "model": HOLDER.source, "device": HOLDER.device_request,
        "probes": {"holdout_fraction": run["holdout"], "seed": 0},
        "locate": {"layers": list(config.layers)},
        "forget": forget,
        "evaluate": {},
    })


@user_errors
def save_config_clicked():
    config = run_config()
    folder = Path(tempfile.mkdtemp(prefix="kuda-config-"))
    path = config.save(folder / "run.json")
    return str(path), f"Saved. Repeat it headless with `python -m kuda_core run --config run.json`."


@user_errors
def export_clicked(path: str, overwrite: bool, progress=gr.Progress()):
    lm = HOLDER.require()
    if not path or not path.strip():
        raise ValueError("Give a folder path for the bundle")
    progress(0.1, desc="collecting")
    config = run_config().to_dict() if HOLDER.last_run is not None else {"model": HOLDER.source}
    tables, figures, metrics = {}, {}, None
    if HOLDER.last_run is not None:
        steps = pd.DataFrame(HOLDER.last_run["records"])
        tables["steps"] = steps
        keys = [k for k in ("loss", "krd", "retain_drift", "forget_acc", "retain_acc") if steps[k].notna().any()]
        figures["training"] = training_curves(HOLDER.last_run["records"], keys)
    if HOLDER.last_evaluation is not None:
        metrics = HOLDER.last_evaluation["table"]
        tables["answers"] = HOLDER.last_evaluation["answers"]
        figures["evaluation"] = evaluation_bars(metrics[metrics["metric"] == "top-1 accuracy"], "top-1 accuracy")
    if getattr(HOLDER, "last_compare", None) is not None:
        tables["compare"] = HOLDER.last_compare
    progress(0.3, desc="writing the model and the report")
    written = export_bundle(path.strip(), lm, config, metrics=metrics, tables=tables, figures=figures,
                            notes=HOLDER.status_line().replace("*", ""), overwrite=bool(overwrite))
    listing = "\n".join(f"- {p.relative_to(written)}" for p in sorted(written.rglob("*")) if p.is_file())
    return f"Bundle written to `{written}`:\n{listing}"


@user_errors
def load_bundle_clicked(path: str, progress=gr.Progress()):
    if not path or not path.strip():
        raise ValueError("Give the folder of a bundle")
    progress(0.2, desc="loading the bundle's model")
    bundle = load_bundle(path.strip(), device=HOLDER.device_request)
    HOLDER.load_loaded(bundle.lm, source=str(bundle.path / "model"))
    return f"Loaded the bundle's model from `{bundle.path}` (its weights are now the 'original' for new runs).", \
        HOLDER.status_line()


def default_bundle_path() -> str:
    return f"runs/kuda-{datetime.now():%Y%m%d-%H%M%S}"


def build() -> None:
    with gr.Tab("Export", id="export"):
        gr.Markdown("A bundle holds the unlearned model (safetensors; loads with `AutoModelForCausalLM.from_pretrained`), "
                    "the run configuration, metrics (JSON, CSV), figures (HTML) and a short report.")
        with gr.Row():
            save = gr.Button("Save the run configuration", elem_id="export-save-config")
            config_file = gr.File(label="run.json")
        config_message = gr.Markdown("")
        with gr.Row():
            path = gr.Textbox(value=default_bundle_path(), label="Bundle folder", elem_id="export-path", scale=3)
            overwrite = gr.Checkbox(value=False, label="Overwrite")
            export = gr.Button("Export bundle", variant="primary", elem_id="export-run")
        export_message = gr.Markdown("", elem_id="export-message")
        with gr.Row():
            load_path = gr.Textbox(label="Load a bundle (folder)", scale=3)
            load = gr.Button("Load bundle")
        load_message = gr.Markdown("")
        status = gr.Markdown(HOLDER.status_line())
    save.click(save_config_clicked, None, [config_file, config_message])
    export.click(export_clicked, [path, overwrite], [export_message], concurrency_id="model")
    load.click(load_bundle_clicked, [load_path], [load_message, status], concurrency_id="model")
