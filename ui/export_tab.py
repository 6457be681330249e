"""The "Export" tab: save the run configuration, write a run bundle, load a bundle back."""
from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

import gradio as gr
import pandas as pd

from kuda_core.report.bundle import export_bundle, load_bundle
from kuda_core.report.plots import evaluation_bars, training_curves
from kuda_core.workflows.runs import run_config_of
from ui.errors import user_errors
from ui.files import export_path
from ui.session import HOST, OPTIONS, calibrate, status_of


def _run(visitor):
    if visitor.run is None or visitor.edit is None:
        raise ValueError("Nothing to save yet: run Forget first")
    return visitor.run


@user_errors
def save_config_clicked(visitor):
    run = _run(visitor)
    config = run_config_of(run, HOST.source, HOST.device_request)
    path = config.save(visitor.scratch("config", OPTIONS.runs_dir / "visitors") / "run.json")
    if run.checked_with:
        return str(path), ("Saved, with the settings of your \"Is it really gone?\" checks. Repeat the run and the "
                           "checks headless with `kuda run --config run.json`.")
    return str(path), "Saved. Repeat it headless with `kuda run --config run.json`."


STALE_CHECKS_NOTE = ("run.json holds the settings of this run's \"Is it really gone?\" checks, but their tables are "
                     "left out: your model changed after they ran. `kuda run --config run.json` measures them again.")
ORIGINAL_NOTE = "No Forget run of yours is in effect: the bundle holds the original model's weights."


API_DEFAULT_PATH = [""]      # the folder name the API schema offers every client (made once, when the app is built)


@user_errors
def export_clicked(path: str, overwrite: bool, visitor, progress=gr.Progress()):
    target = export_path(path).resolve()
    if path == API_DEFAULT_PATH[0] and target not in visitor.bundles:
        target = export_path(default_bundle_path()).resolve()   # an API client left the path out: a fresh one each
    if overwrite and target.exists() and target not in visitor.bundles:
        raise ValueError(f"{target.name} was not written in this session: only your own bundles can be overwritten; "
                         "choose another folder name")
    progress(0.1, desc="collecting")
    run = visitor.run if visitor.edit is not None else None
    config = run_config_of(run, HOST.source, HOST.device_request).to_dict() if run else {"model": HOST.source}
    tables, figures, metrics = {}, {}, None
    if run is not None and run.records:
        steps = pd.DataFrame(run.step_rows())
        tables["steps"] = steps
        keys = [k for k in ("loss", "krd", "retain_drift", "forget_acc", "retain_acc") if steps[k].notna().any()]
        figures["training"] = training_curves(run.step_rows(), keys)
    evaluation = visitor.results.get("evaluation")
    if evaluation is not None and evaluation.state == visitor.state(HOST):
        metrics = evaluation.value["table"]
        tables["answers"] = evaluation.value["answers"]
        figures["evaluation"] = evaluation_bars(metrics[metrics["metric"] == "top-1 accuracy"], "top-1 accuracy")
    comparison = visitor.results.get("comparison")
    if comparison is not None and comparison.state == visitor.state(HOST):
        tables["compare"] = comparison.value
    checks = visitor.results.get("checks")              # Is it really gone?: attacks, lens, relearning
    fresh_checks = run is not None and checks is not None and checks.state == visitor.state(HOST)
    if fresh_checks:
        tables.update(checks.value.tables(run.data.forget))
        figures.update(checks.value.figures(run.data.forget))
    said = ORIGINAL_NOTE if run is None else STALE_CHECKS_NOTE if run.checked_with and not fresh_checks else ""
    notes = status_of(visitor).replace("*", "") + (f"\n\n{said}" if said else "")
    progress(0.3, desc="writing the model and the report")
    with HOST.use(visitor.edit) as lm:
        written = export_bundle(target, lm, config, metrics=metrics, tables=tables, figures=figures,
                                notes=notes, overwrite=bool(overwrite))
    visitor.bundles.add(written.resolve())
    listing = "\n".join(f"- {p.relative_to(written)}" for p in sorted(written.rglob("*")) if p.is_file())
    return f"Bundle written to `{written}`:\n{listing}" + (f"\n\n{said}" if said else "")


@user_errors
def load_bundle_clicked(path: str, visitor, progress=gr.Progress()):
    if not OPTIONS.allow_model_loading:
        raise ValueError("Loading a bundle replaces the model for everyone: it is switched off on this server "
                         "(start the app with --allow-model-loading)")
    if not path or not path.strip():
        raise ValueError("Give the folder of a bundle")
    progress(0.2, desc="loading the bundle's model")
    bundle = load_bundle(export_path(path), device=HOST.device_request)
    HOST.adopt(bundle.lm, source=str(bundle.path / "model"), device=HOST.device_request)
    calibrate()
    visitor.reset()
    return (f"Loaded the bundle's model from `{bundle.path}` for every visitor (its weights are now the original).",
            status_of(visitor))


def default_bundle_path() -> str:
    """A fresh folder name, made for every page load (two visitors never share one)."""
    return f"kuda-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def build(visitor: gr.State) -> dict:
    with gr.Tab("Export", id="export"):
        gr.Markdown("A bundle holds your unlearned model (safetensors; loads with "
                    "`AutoModelForCausalLM.from_pretrained`), the run configuration, metrics (JSON, CSV), "
                    "figures (HTML) and a short report; after \"Is it really gone?\" also its attack, logit-lens "
                    "and relearning tables and figures. The run configuration then holds the checks' settings, "
                    "and `kuda run --config run.json` repeats both.")
        with gr.Row():
            save = gr.Button("Save the run configuration", elem_id="export-save-config")
            config_file = gr.File(label="run.json")
        config_message = gr.Markdown("")
        with gr.Row():
            path = gr.Textbox(value=default_bundle_path, elem_id="export-path", scale=3,
                              label=f"Bundle folder, inside the app's runs folder ({OPTIONS.runs_dir.resolve()})")
            API_DEFAULT_PATH[0] = path.value
            overwrite = gr.Checkbox(value=False, label="Overwrite")
            export = gr.Button("Export bundle", variant="primary", elem_id="export-run")
        export_message = gr.Markdown("", elem_id="export-message")
        with gr.Row(visible=OPTIONS.allow_model_loading):
            load_path = gr.Textbox(label="Load a bundle (folder) as the model for everyone", scale=3)
            load = gr.Button("Load bundle")
        load_message = gr.Markdown("")
        status = gr.Markdown("", elem_id="export-status")
    save.click(save_config_clicked, [visitor], [config_file, config_message], api_name="save_config")
    export.click(export_clicked, [path, overwrite, visitor], [export_message], api_name="export")
    load.click(load_bundle_clicked, [load_path, visitor], [load_message, status], api_name="load_bundle",
               api_visibility="public" if OPTIONS.allow_model_loading else "private")
    return {"status": status}
