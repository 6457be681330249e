"""The "Forget" tab: pick forget / retain data and layers, run KUDA or a baseline, watch it, Reset."""
from __future__ import annotations

import time
from dataclasses import asdict

import gradio as gr
import pandas as pd

from kuda_core.baselines import DEFAULTS, baseline_config
from kuda_core.datasets_io import load_hf_rows, load_rows_file, parse_rows_text
from kuda_core.forget_sets import DataSplit, probes_without, split_probes, split_rows
from kuda_core.plots import training_curves
from kuda_core.probes import load_general_texts, load_probes, topics
from kuda_core.snapshot import WeightSnapshot
from kuda_core.tuning import TuneConfig, iter_tune
from kuda_core.unlearn import METHODS, UnlearnConfig, iter_unlearn
from ui.errors import user_errors
from ui.session import HOLDER

METHOD_HELP = {
    "kuda": "KUDA: push the forget facts' MLP representations away from where they were (cosine, "
            "inverse temperature beta), keep retain ones in place, project each step on the retain null space.",
    "ga": "Gradient ascent on the forget answers (the model is pushed to make them unlikely).",
    "gd": "Gradient difference: gradient ascent on forget answers plus ordinary training on retain data.",
    "npo": "Negative preference optimisation: like GA but bounded, relative to the original model.",
    "simnpo": "SimNPO: NPO without a reference model, length-normalised.",
    "rmu": "RMU (WMDP): steer layer outputs on forget tokens to a random direction, keep retain outputs.",
}
SOURCES = ("built-in probes", "typed rows", "uploaded file", "Hugging Face dataset")
CURVE_KEYS = ("loss", "forget_loss", "retain_loss", "krd", "retain_drift", "grad_cos", "forget_acc", "retain_acc")


def _rows(source: str, typed: str, upload, hf_name: str, hf_split: str, role: str):
    if source == "typed rows":
        return parse_rows_text(typed or "", source=f"typed {role} rows")
    if source == "uploaded file":
        if upload is None:
            raise ValueError(f"Upload a JSONL, CSV or Parquet file for the {role} set")
        return load_rows_file(upload if isinstance(upload, str) else upload.name)
    if source == "Hugging Face dataset":
        if not hf_name or not hf_name.strip():
            raise ValueError(f"Give a Hugging Face dataset name for the {role} set")
        return load_hf_rows(hf_name.strip(), split=hf_split or "train")
    return None


def build_split(forget_source, forget_topics, forget_facts, forget_typed, forget_file, forget_hf,
                retain_source, retain_typed, retain_file, retain_hf, hf_split, holdout) -> DataSplit:
    """The run's data from the widgets (probes by topic / fact, or user rows)."""
    texts = load_general_texts()
    if forget_source == "built-in probes":
        if retain_source != "built-in probes":
            raise ValueError("With built-in forget probes the retain set is the rest of the probes")
        prompts = _prompts_of(forget_facts)
        if not forget_topics and not prompts:
            raise ValueError("Pick at least one topic or fact to forget")
        return split_probes(load_probes(), texts, topics=forget_topics or [], prompts=prompts,
                            holdout_fraction=float(holdout))
    forget = _rows(forget_source, forget_typed, forget_file, forget_hf, hf_split, "forget")
    retain = _rows(retain_source, retain_typed, retain_file, retain_hf, hf_split, "retain")
    if retain is None:  # the built-in probes, less anything that is also being forgotten
        retain = probes_without(forget, load_probes())
    return split_rows(forget, retain, texts, holdout_fraction=float(holdout))


def _prompts_of(fact_labels) -> list[str]:
    return [label.split("] ", 1)[1].rsplit(" ->", 1)[0] for label in fact_labels or []]


def _config_rows(widgets, data: DataSplit) -> dict:
    """The forget section's data keys for the saved run configuration."""
    if widgets[0] == "built-in probes":
        return {"topics": list(widgets[1] or []), "prompts": _prompts_of(widgets[2])}
    rows = {"facts": [f.to_dict() for f in data.forget]}
    if widgets[6] != "built-in probes":
        rows["retain_facts"] = [f.to_dict() for f in (*data.retain_used, *data.retain_held)]
    return rows


def make_config(method, layers, steps, lr, beta, lam, tau, tau_mode, gamma, forget_form, rho, train_inputs,
                retain_kl, eval_every) -> UnlearnConfig:
    if not layers:
        raise ValueError("Choose the layers to edit (Locate suggests them)")
    tau = float(tau)
    return baseline_config(
        method, layers=tuple(sorted(int(l) for l in layers)), steps=int(steps), lr=float(lr), beta=float(beta),
        lam=float(lam), tau=tau if tau > 0 else None, tau_mode=tau_mode, gamma=float(gamma),
        forget_form=forget_form, rho=float(rho), train_inputs=bool(train_inputs), retain_kl=float(retain_kl),
        eval_every=int(eval_every),
    )


def method_changed(method: str):
    """Fill the widgets with the method's defaults and show its one-line explanation."""
    config = baseline_config(method)
    return (METHOD_HELP[method], config.steps, config.lr, config.beta, config.lam,
            config.tau if config.tau is not None else 0.0, config.gamma)


def _records_table(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    columns = ["step", "loss", "krd", "retain_drift", "grad_cos", "forget_acc", "retain_acc", "elapsed_s"]
    return frame[[c for c in columns if c in frame]].round(4).tail(12)


@user_errors
def run_clicked(*widgets, progress=gr.Progress()):
    lm = HOLDER.require()
    data = build_split(*widgets[:12])
    config = make_config(*widgets[12:])
    if HOLDER.snapshot is None:
        HOLDER.snapshot = WeightSnapshot()
    records: list[dict] = []
    run = iter_unlearn(lm, data.forget, data.retain_used, data.texts_used, config, HOLDER.snapshot)
    description = (f"{config.method.upper()} on layers {', '.join(map(str, config.layers))}, "
                   f"{data.description}")
    started = time.perf_counter()
    try:
        for record in run:
            records.append(asdict(record))
            HOLDER.edit_description = f"{description}, step {record.step}/{config.steps}"
            progress(record.step / config.steps, desc=record.message)
            keys = [k for k in CURVE_KEYS if any(r.get(k) is not None for r in records)]
            figure = training_curves(records, keys) if record.step else None
            if record.status == "error":
                raise RuntimeError(record.message)
            yield figure, _records_table(records), record.message, HOLDER.status_line()
    finally:
        run.close()  # Stop: the engine's finally removes hooks and restores requires_grad
        HOLDER.version += 1
        if records:
            HOLDER.last_run = {"config": config, "data": data, "records": records,
                               "seconds": time.perf_counter() - started, "holdout": float(widgets[11]),
                               "rows": _config_rows(widgets, data)}
    yield figure, _records_table(records), f"{records[-1]['message']}. {HOLDER.status_line()}", HOLDER.status_line()


def _source_visibility(with_probes: bool):
    """A handler showing only the widgets of the chosen data source."""
    def update(source: str):
        shown = [source == "typed rows", source == "uploaded file", source == "Hugging Face dataset"]
        if with_probes:
            shown = [source == SOURCES[0]] * 2 + shown
        return [gr.update(visible=v) for v in shown]
    return update


def _floats(text: str, name: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise ValueError(f"{name} must be numbers separated by spaces or commas, got {text!r}") from None
    if not values:
        raise ValueError(f"Give at least one value for {name}")
    return values


@user_errors
def tune_clicked(*widgets, progress=gr.Progress()):
    """Two-stage tuning: tau (stability boundary), then beta (forgetting strength); applies the choice."""
    lm = HOLDER.require()
    data = build_split(*widgets[:12])
    base = make_config(*widgets[12:26])
    taus, betas, tolerance = widgets[26:29]
    tune = TuneConfig(taus=_floats(taus, "tau values"), betas=_floats(betas, "beta values"), tolerance=float(tolerance))
    if HOLDER.snapshot is None:
        HOLDER.snapshot = WeightSnapshot()
    last = None
    try:
        for last in iter_tune(lm, data.forget, data.retain_used, data.texts_used, base, tune, HOLDER.snapshot,
                              eval_retain=data.retain_held or None):
            progress(last.run / max(last.total_runs, 1), desc=last.message)
            if last.row is not None or last.done:
                yield pd.DataFrame(last.table).round(4), last.message, HOLDER.status_line()
    finally:
        HOLDER.version += 1
    if last is not None and last.done and last.config is not None:
        chosen = last.config
        HOLDER.edit_description = (f"KUDA tuned (tau {chosen.tau}, beta {chosen.beta}) on layers "
                                   f"{', '.join(map(str, chosen.layers))}, {data.description}")
        HOLDER.last_run = {"config": chosen, "data": data, "records": [r for r in last.table], "seconds": 0.0,
                           "holdout": float(widgets[11]), "rows": _config_rows(widgets, data)}
        yield pd.DataFrame(last.table).round(4), f"{last.message} Applied: tau {chosen.tau}, beta {chosen.beta}.", \
            HOLDER.status_line()


@user_errors
def reset_clicked():
    HOLDER.reset()
    return HOLDER.status_line(), "Original weights restored."


def build(locate_layers: gr.CheckboxGroup) -> dict:
    probes = load_probes()
    topic_names = sorted(topics(probes))
    fact_labels = [f"[{f.topic}] {f.prompt} ->{f.answer}" for f in probes]
    n_layers = HOLDER.lm.n_layers if HOLDER.lm else 0
    kuda = UnlearnConfig()
    with gr.Tab("Forget", id="forget"):
        status = gr.Markdown(HOLDER.status_line(), elem_id="forget-status")
        with gr.Row():
            with gr.Column():
                gr.Markdown("### What to forget")
                forget_source = gr.Radio(list(SOURCES), value=SOURCES[0], label="Forget set from", elem_id="forget-source")
                forget_topics = gr.CheckboxGroup(topic_names, value=["landmarks"] if "landmarks" in topic_names else [],
                                                 label="Topics to forget", elem_id="forget-topics")
                forget_facts = gr.Dropdown(fact_labels, multiselect=True, label="...and/or single facts")
                forget_typed = gr.Textbox(lines=3, visible=False, elem_id="forget-typed", label="Typed rows: 'prompt | subject | answer' per line")
                forget_file = gr.File(visible=False, label="Upload JSONL / CSV / Parquet", file_types=[".jsonl", ".json", ".csv", ".parquet"])
                forget_hf = gr.Textbox(visible=False, label="Hugging Face dataset (online only)")
            with gr.Column():
                gr.Markdown("### What to keep")
                retain_source = gr.Radio(list(SOURCES), value=SOURCES[0],
                                         label="Retain set from (built-in: the other probes)")
                retain_typed = gr.Textbox(lines=3, visible=False, label="Typed rows (facts or plain text)")
                retain_file = gr.File(visible=False, label="Upload JSONL / CSV / Parquet", file_types=[".jsonl", ".json", ".csv", ".parquet"])
                retain_hf = gr.Textbox(visible=False, label="Hugging Face dataset (online only)")
                hf_split = gr.Textbox(value="train", label="Dataset split")
                holdout = gr.Slider(0, 0.9, value=0.25, step=0.05, label="Held out for measuring only",
                                    info="share of retain facts and general texts the run never sees")
        gr.Markdown("### How")
        layers = gr.CheckboxGroup(list(range(n_layers)), value=list(kuda.layers), label="Layers to edit",
                                  info="prefilled from Locate's suggestion", elem_id="forget-layers")
        method = gr.Dropdown(list(METHODS), value="kuda", label="Method", elem_id="forget-method")
        method_help = gr.Markdown(METHOD_HELP["kuda"])
        with gr.Row():
            steps = gr.Slider(1, 300, value=kuda.steps, step=1, label="Steps", elem_id="forget-steps")
            lr = gr.Number(value=kuda.lr, label="Learning rate (Adam)")
            beta = gr.Number(value=kuda.beta, label="beta", info="KUDA inverse forgetting temperature")
            lam = gr.Number(value=kuda.lam, label="lambda", info="weight of the retain loss")
        with gr.Accordion("More settings", open=False):
            with gr.Row():
                tau = gr.Number(value=kuda.tau, label="tau", info="null-space threshold; 0 = no projection")
                tau_mode = gr.Radio(["relative", "absolute"], value=kuda.tau_mode, label="tau is",
                                    info="relative to the largest eigenvalue, or absolute")
                gamma = gr.Slider(0, 1, value=kuda.gamma, label="gamma", info="leak: P + gamma (I - P)")
            with gr.Row():
                forget_form = gr.Radio(["softplus", "cos", "cos2"], value=kuda.forget_form, label="Forget loss form",
                                       info="softplus(beta cos)/beta fades once orthogonal")
                rho = gr.Slider(0.05, 1, value=kuda.rho, label="rho", info="random-ratio sampling; 1 = off")
                train_inputs = gr.Checkbox(value=kuda.train_inputs, label="Also train MLP input projections")
                retain_kl = gr.Number(value=kuda.retain_kl, label="Retain KL weight", info="0 = off")
                eval_every = gr.Slider(0, 50, value=kuda.eval_every, step=1, label="Probe accuracy every n steps")
        with gr.Row():
            run = gr.Button("Forget", variant="primary", elem_id="forget-run")
            stop = gr.Button("Stop", elem_id="forget-stop")
            reset = gr.Button("Reset to the original model", elem_id="forget-reset")
        with gr.Accordion("Two-stage tuning (KUDA): stability boundary tau, then forgetting strength beta", open=False):
            with gr.Row():
                tune_taus = gr.Textbox(value="0.001 0.01 0.03 0.1", label="tau values (strict to loose)")
                tune_betas = gr.Textbox(value="3 10 30", label="beta values (upward)")
                tune_tolerance = gr.Number(value=3.0, label="Allowed retain accuracy drop (points)")
                tune = gr.Button("Tune", elem_id="forget-tune")
            tune_table = gr.Dataframe(label="Runs (the chosen settings are applied at the end)", interactive=False)
        message = gr.Markdown("", elem_id="forget-message")
        curves = gr.Plot(label="Losses, KRD and probe accuracy", elem_id="forget-curves")
        table = gr.Dataframe(label="Last steps", interactive=False)
    data_inputs = [forget_source, forget_topics, forget_facts, forget_typed, forget_file, forget_hf,
                   retain_source, retain_typed, retain_file, retain_hf, hf_split, holdout]
    config_inputs = [method, layers, steps, lr, beta, lam, tau, tau_mode, gamma, forget_form, rho, train_inputs,
                     retain_kl, eval_every]
    forget_source.change(_source_visibility(True), [forget_source],
                         [forget_topics, forget_facts, forget_typed, forget_file, forget_hf])
    retain_source.change(_source_visibility(False), [retain_source], [retain_typed, retain_file, retain_hf])
    locate_layers.change(lambda chosen: gr.update(value=sorted(chosen)) if chosen else gr.update(),
                         [locate_layers], [layers])
    method.change(method_changed, [method], [method_help, steps, lr, beta, lam, tau, gamma])
    event = run.click(run_clicked, data_inputs + config_inputs, [curves, table, message, status],
                      concurrency_id="model")
    tune_event = tune.click(tune_clicked, data_inputs + config_inputs + [tune_taus, tune_betas, tune_tolerance],
                            [tune_table, message, status], concurrency_id="model")
    stop.click(lambda: (HOLDER.status_line(), "Stopped: the weights reached so far are kept; Reset restores the original."),
               None, [status, message], cancels=[event, tune_event])
    reset.click(reset_clicked, None, [status, message], concurrency_id="model")
    return {"status": status, "data_inputs": data_inputs, "config_inputs": config_inputs}
