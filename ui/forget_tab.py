"""The "Forget" tab: pick forget / retain data and layers, run KUDA or a baseline, watch it, Reset."""
from __future__ import annotations

import time
from functools import partial

import gradio as gr
import pandas as pd

from kuda_core.data.probes import load_probes, topics
from kuda_core.forget.augment import AUGMENT_KINDS, LONE_KSHOT_COPIES
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.methods import METHODS, REGISTRY
from kuda_core.forget.nullspace import TAU_MODES
from kuda_core.forget.tuning import TAUS_BY_MODE, TuneConfig
from kuda_core.model.generation import MAX_NEW_TOKENS_LIMIT
from kuda_core.report.plots import training_curves
from kuda_core.report.progress_plots import CURVE_TITLES, forget_progress
from kuda_core.workflows import jobs
from kuda_core.workflows.data import build_split
from kuda_core.workflows.runs import RunRecord
from ui.confirm import asks_first
from ui.errors import user_errors
from ui.forget_values import data_choice, unlearn_config
from ui.forget_messages import closing_line, preparing_message, stopped_message, verdict, while_running
from ui.forms import Form, option_widgets
from ui.fact_picker import fact_label
from ui.session import FORGET_ESTIMATOR, HOST, OPTIONS, busy_note, model_key, shared_note, status_of
from ui.widgets import Number, Slider

LAYERS_UNTRACED = ("not traced yet: a fixed start, not chosen for your fact; trace it on Locate and its suggested "
                   "layers come here")
LAYERS_CARRIED = "carried over from Locate (its suggestion for the fact traced there, or the layers you ticked)"
SOURCES = ("built-in probes", "typed rows", "uploaded file", "Hugging Face dataset")
HF_SOURCE = SOURCES[3]
STOP_WAIT_S = 120                     # how long Stop waits for the run to end its current step before it says so
CURVE_KEYS = ("loss", "forget_loss", "retain_loss", "krd", "retain_drift", "grad_cos", "forget_acc", "paraphrase_acc",
              "neighbour_acc", "retain_acc")


def _table(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    columns = ["step", "loss", "krd", "retain_drift", "grad_cos", "forget_acc", "paraphrase_acc", "neighbour_acc",
               "retain_acc", "elapsed_s"]
    shown = frame[[c for c in columns if c in frame]].dropna(axis=1, how="all")   # e.g. no paraphrases: no column
    return shown.round(4).tail(12)


def _floats(text: str, name: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in (text or "").replace(",", " ").split())
    except ValueError:
        raise ValueError(f"{name} must be numbers separated by spaces or commas, got {text!r}") from None
    if not values:
        raise ValueError(f"Give at least one value for {name}")
    return values


def _figures(run: RunRecord):
    """The progress plot a room reads, and the internal curves (details)."""
    rows = run.step_rows()
    keys = [k for k in CURVE_KEYS if any(r.get(k) is not None for r in rows)]
    details = training_curves(rows, keys, titles=CURVE_TITLES) if len(rows) > 1 else None
    return forget_progress(rows, run.config.stop_at, run.config.check_every), details


def stop_clicked(visitor):
    visitor.request_stop()           # a preparation ends at its next turn instead of running to its end
    return status_of(visitor), stopped_message(visitor)


def stop_settled(visitor):
    """After Stop (which cancels the run): once the run has ended the step it was in (up to STOP_WAIT_S), the step
    its kept weights come from, with the plots and table brought up to that step."""
    run = visitor.run
    deadline = time.monotonic() + STOP_WAIT_S
    while run is not None and run.status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    shown = (*_figures(run), _table(run.step_rows())) if run is not None and run.records else (gr.skip(),) * 3
    return status_of(visitor), stopped_message(visitor), *shown


@user_errors
def run_clicked(form: Form, data, progress=gr.Progress()):
    values, visitor = form.values(data), data[form["visitor"]]
    choice, config = data_choice(values), unlearn_config(values)
    run = RunRecord(choice, build_split(choice), config)
    at_cap = FORGET_ESTIMATOR.estimate(model_key(), config, run.data)
    estimated = FORGET_ESTIMATOR.expected(model_key(), config, run.data)      # until forgotten, as runs here took
    question = asks_first(visitor, "forget", (visitor.state(HOST), repr(choice), repr(config)), estimated, "This run",
                          "fewer facts or steps")
    if question:
        yield gr.update(), gr.update(), gr.update(), question, status_of(visitor)
        return
    started, watch = time.perf_counter(), HOST.sharing()
    progress(0.0, desc="preparing")
    yield gr.update(), gr.update(), gr.update(), preparing_message(run, estimated, at_cap) + busy_note(watch), status_of(visitor)
    for record in jobs.iter_forget(HOST, visitor, run, OPTIONS.runs_dir):
        progress(record.step / config.steps, desc=while_running(record))
        if record.status == "error":
            raise ValueError(record.message)
        yield (*_figures(run), _table(run.step_rows()), while_running(record), status_of(visitor))
    if run.status == "stopped":     # Stop during preparation (the request was cancelled: nobody reads this)
        return
    if not watch.shared():          # a run that took turns with other jobs says nothing of this machine's pace
        FORGET_ESTIMATOR.record(model_key(), config, run.data, run.records, time.perf_counter() - started)
    yield (*_figures(run), _table(run.step_rows()), verdict(run) + f"  \n{closing_line(run)}{shared_note(watch)}",
           status_of(visitor))


@user_errors
def tune_clicked(form: Form, data, progress=gr.Progress()):
    """Two-stage tuning: tau (stability boundary), then beta (forgetting strength); applies the choice."""
    values, visitor = form.values(data), data[form["visitor"]]
    config = unlearn_config(values)
    if config.method != "kuda":
        raise ValueError("Two-stage tuning is for KUDA: choose the KUDA method")
    if values["tune_tolerance"] is None:
        raise ValueError("Give the allowed retain accuracy drop (points) for the tuning")
    tune = TuneConfig(taus=_floats(values["tune_taus"], "tau values"), betas=_floats(values["tune_betas"], "beta values"),
                      tolerance=float(values["tune_tolerance"]))
    choice = data_choice(values)
    run = RunRecord(choice, build_split(choice), config)
    last = None
    for last in jobs.iter_tuning(HOST, visitor, run, tune):
        progress(last.run / max(last.total_runs, 1), desc=last.message)
        if last.row is not None or last.done:
            yield pd.DataFrame(last.table).round(4), last.message, status_of(visitor)
    if last is not None and last.done:
        yield (pd.DataFrame(last.table).round(4), f"{last.message} Applied: {run.note}.", status_of(visitor))


@user_errors
def reset_clicked(visitor):
    visitor.reset()
    return status_of(visitor), "Your original model is back (the base weights, bit for bit)."


def method_changed(method: str):
    """Show the method's own settings and fill the shared ones with its defaults."""
    spec, config = REGISTRY[method], UnlearnConfig.create(method)
    return (f"**{spec.title}**: {spec.description}.", config.steps, config.lr, config.tau or 0.0, config.tau_mode,
            config.train_inputs,
            list(config.augment), config.augment_copies, config.stall_boost, config.answer_rank,
            gr.update(visible=method == "kuda"),
            *[gr.update(visible=n == method) for n in METHODS])


def _ladder(tau_mode: str) -> str:
    """The tuning's tau values for a meaning of tau, as the textbox shows them."""
    return " ".join(f"{t:g}" for t in TAUS_BY_MODE[tau_mode])


def make_handlers(form: Form):
    """(run_clicked, tune_clicked, reset_clicked, method_changed), the first two reading `form` by name."""
    return partial(run_clicked, form), partial(tune_clicked, form), reset_clicked, method_changed


def _source_visibility(with_probes: bool):
    """A handler showing only the widgets of the chosen data source."""
    def update(source: str):
        shown = [source == "typed rows", source == "uploaded file", source == HF_SOURCE]
        if with_probes:
            shown = [source == SOURCES[0]] * 2 + shown
        return [gr.update(visible=v) for v in shown]
    return update


def typed_row(prompt: str, subject: str, answer: str) -> str:
    """One typed forget row from Locate's fact ("prompt | subject | answer")."""
    return f"{(prompt or '').strip()} | {(subject or '').strip()} | {(answer or '').strip()}"


def build(visitor: gr.State, locate_layers: gr.CheckboxGroup, first_fact: str = "") -> dict:
    probes = load_probes()
    topic_names = sorted(topics(probes))
    n_layers = HOST.lm.n_layers if HOST.lm else 0
    kuda = UnlearnConfig.create("kuda")
    with gr.Tab("Forget", id="forget"):
        status = gr.Markdown("", elem_id="forget-status")
        with gr.Row():
            with gr.Column():
                gr.Markdown("### What to forget")
                forget_source = gr.Radio(list(SOURCES), value="typed rows", label="Forget set from",
                                         elem_id="forget-source", info="starts with the fact traced on Locate")
                forget_topics = gr.CheckboxGroup(topic_names, value=[], label="Topics to forget", visible=False,
                                                 elem_id="forget-topics")
                forget_facts = gr.Dropdown([fact_label(f) for f in probes], multiselect=True, visible=False,
                                           label="...and/or single facts")
                forget_typed = gr.Textbox(value=first_fact, lines=3, visible=True, elem_id="forget-typed",
                                          label="Typed rows: 'prompt | subject | answer' per line")
                forget_file = gr.File(visible=False, label="Upload JSONL / CSV / Parquet",
                                      file_types=[".jsonl", ".json", ".csv", ".parquet"])
                forget_hf = gr.Textbox(visible=False, label="Hugging Face dataset (online only)")
            with gr.Column():
                gr.Markdown("### What to keep")
                retain_source = gr.Radio(list(SOURCES), value=SOURCES[0], label="Retain set from (built-in: the other probes)")
                retain_typed = gr.Textbox(lines=3, visible=False, label="Typed rows (facts or plain text)")
                retain_file = gr.File(visible=False, label="Upload JSONL / CSV / Parquet",
                                      file_types=[".jsonl", ".json", ".csv", ".parquet"])
                retain_hf = gr.Textbox(visible=False, label="Hugging Face dataset (online only)")
                hf_split = gr.Textbox(value="train", label="Dataset split (of a Hugging Face dataset)", visible=False)
                holdout = Slider(0, 0.9, value=0.25, step=0.05, label="Held out for measuring only",
                                    info="share of retain facts and general texts the run never sees")
        gr.Markdown("### How")
        layers = gr.CheckboxGroup(list(range(n_layers)), value=list(kuda.layers), label="Layers to edit",
                                  info=LAYERS_UNTRACED, elem_id="forget-layers")
        method = gr.Dropdown([(REGISTRY[m].title, m) for m in METHODS], value="kuda", label="Method", elem_id="forget-method")
        method_help = gr.Markdown(f"**KUDA**: {REGISTRY['kuda'].description}.")
        with gr.Row():
            steps = Slider(1, 300, value=kuda.steps, step=1, label="Steps", elem_id="forget-steps")
            lr = Number(value=kuda.lr, label="Learning rate (Adam)", elem_id="forget-lr")
        groups, option_form = [], {}
        for name in METHODS:
            with gr.Group(visible=name == "kuda") as group:
                gr.Markdown(f"{REGISTRY[name].title}'s own settings" if REGISTRY[name].option_names
                            else f"{REGISTRY[name].title} has no settings of its own.")
                with gr.Row():
                    option_form.update(option_widgets(REGISTRY[name].options, prefix=f"{name}."))
            groups.append(group)
        with gr.Accordion("Shared settings: null-space projection and more", open=False):
            with gr.Row():
                tau = Number(value=kuda.tau, label="tau", info="null-space threshold; 0 = no projection")
                tau_mode = gr.Radio(list(TAU_MODES), value=kuda.tau_mode, label="tau is",
                                    info="times the largest eigenvalue, times the median one, or absolute")
                gamma = Slider(0, 1, value=kuda.gamma, label="gamma (leak)",
                                  info="the step is projected with P + gamma (I - P); 0 = strict null space")
                train_inputs = gr.Checkbox(value=kuda.train_inputs, label="Also train MLP input projections")
                eval_every = Slider(0, 50, value=kuda.eval_every, step=1, label="Retain accuracy every n steps")
            with gr.Row():
                augment = gr.CheckboxGroup(list(AUGMENT_KINDS), value=list(kuda.augment), label="Augment forget rows",
                                           info="train on each fact in more contexts (KUDA: one row of each by "
                                                "default): a prefix sentence, k-shot facts of its relation, a question")
                copies = Number(value=kuda.augment_copies, precision=0, minimum=1, maximum=20, label="Copies",
                                   info="new rows per fact and kind of augmentation (a fact forgotten with fewer than "
                                        f"two others of its relation gets at least {LONE_KSHOT_COPIES} k-shot rows)")
                until = gr.Checkbox(value=kuda.stop_at is not None, label="Stop once forgotten (steps are the cap)",
                                    info="prompts forgotten, at most 20% of the known paraphrases answered, and no "
                                         "answer said further on")
                read_on = Number(value=kuda.read_on, precision=0, minimum=0, maximum=MAX_NEW_TOKENS_LIMIT,
                                    label="Read on before stopping (new tokens)",
                                    info="a fact whose continuation still says its answer is not forgotten; "
                                         "0 = the first answer token only")
                stall = Number(value=kuda.stall_boost, minimum=1, maximum=8, label="lr x on a stall",
                                  info="after 2 checks without fewer facts answered, up to 8x the lr; 1 = off")
                rank = Number(value=kuda.answer_rank, precision=0, minimum=1, label="Forgotten once out of the top",
                                 info="a fact counts as answered while its answer is among this many top tokens")
        with gr.Row():
            run = gr.Button("Forget", variant="primary", elem_id="forget-run")
            stop = gr.Button("Stop", elem_id="forget-stop")
            reset = gr.Button("Reset to the original model", elem_id="forget-reset")
        with gr.Accordion("Two-stage tuning (KUDA): stability boundary tau, then forgetting strength beta",
                          open=False) as tuning:
            with gr.Row():
                tune_taus = gr.Textbox(value=_ladder(kuda.tau_mode), label="tau values (strict to loose)",
                                       info="what tau means follows 'tau is' in the shared settings")
                tune_betas = gr.Textbox(value="3 10 30", label="beta values (upward)")
                tune_tolerance = Number(value=3.0, label="Allowed retain accuracy drop (points)")
                tune = gr.Button("Tune", elem_id="forget-tune")
            tune_table = gr.Dataframe(label="Runs (the chosen settings are applied at the end)", interactive=False)
        message = gr.Markdown("", elem_id="forget-message")
        progress_plot = gr.Plot(label="Forgetting, step by step", elem_id="forget-progress")
        with gr.Accordion("Details: losses, representation drift, gradients, every measure per step", open=False):
            curves = gr.Plot(label="Internal curves", elem_id="forget-curves")
            table = gr.Dataframe(label="Last steps", interactive=False)
    form = Form(forget_source=forget_source, forget_topics=forget_topics, forget_facts=forget_facts,
                forget_typed=forget_typed, forget_file=forget_file, forget_hf=forget_hf, retain_source=retain_source,
                retain_typed=retain_typed, retain_file=retain_file, retain_hf=retain_hf, hf_split=hf_split,
                holdout=holdout, layers=layers, method=method, steps=steps, lr=lr, tau=tau, tau_mode=tau_mode,
                gamma=gamma, train_inputs=train_inputs, eval_every=eval_every, augment=augment, until_forgotten=until,
                augment_copies=copies, stall_boost=stall, answer_rank=rank, read_on=read_on,
                tune_taus=tune_taus,
                tune_betas=tune_betas, tune_tolerance=tune_tolerance, visitor=visitor, **option_form)
    run_clicked, tune_clicked, reset_clicked, method_changed = make_handlers(form)
    forget_source.change(_source_visibility(True), [forget_source],
                         [forget_topics, forget_facts, forget_typed, forget_file, forget_hf], api_visibility="private")
    retain_source.change(_source_visibility(False), [retain_source], [retain_typed, retain_file, retain_hf],
                         api_visibility="private")
    for source in (forget_source, retain_source):       # the split only matters for a hub dataset
        source.change(lambda a, b: gr.update(visible=HF_SOURCE in (a, b)), [forget_source, retain_source], [hf_split],
                      api_visibility="private")
    locate_layers.change(lambda chosen: gr.update(value=sorted(chosen), info=LAYERS_CARRIED) if chosen else gr.update(),
                         [locate_layers], [layers], api_visibility="private")
    shared = [steps, lr, tau, tau_mode, train_inputs, augment, copies, stall, rank]
    method.change(method_changed, [method], [method_help, *shared, tuning, *groups], api_visibility="private")
    tau_mode.change(_ladder, [tau_mode], [tune_taus], api_visibility="private")
    event = run.click(run_clicked, form.inputs, [progress_plot, curves, table, message, status], api_visibility="private",
                      show_progress_on=[progress_plot])   # the step line is the message itself: not twice
    tune_event = tune.click(tune_clicked, form.inputs, [tune_table, message, status], api_visibility="private")
    stop.click(stop_clicked, [visitor], [status, message], cancels=[event, tune_event],
               api_visibility="private").then(stop_settled, [visitor], [status, message, progress_plot, curves, table],
                                              api_visibility="private")
    reset.click(reset_clicked, [visitor], [status, message], api_name="reset")
    return {"status": status, "form": form, "events": [event, tune_event], "source": forget_source,
            "typed": forget_typed}
