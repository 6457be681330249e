"""The "Evaluate" tab: probe accuracy, perplexity, fluency, multiple choice and MUSE, before vs after."""
from __future__ import annotations

import gradio as gr

from kuda_core.inspect.benchmarks import make_benchmarks
from kuda_core.inspect.evaluate import TABLE_COLUMNS, EvalConfig
from kuda_core.report.plots import evaluation_bars
from kuda_core.workflows import jobs
from kuda_core.workflows.summaries import answers_table
from ui.errors import user_errors
from ui.files import readable_source
from ui.session import HOST
from ui.widgets import Number, Slider

ANSWER_SETS = ("forget", "forget paraphrases", "neighbours (held out)", "retain (held out)")
ANSWER_COLUMNS = ["set", "prompt", "original", "unlearned", "changed", "answer in text", "fluent",
                  "ppl (original model)"]
ANSWER_COLUMN_WIDTHS = ["110px", "220px", "250px", "250px", "80px", "80px", "70px", "100px"]   # fits a laptop screen


def _mc_specs(mc_source: str, mc_file: str, mc_limit) -> list[dict]:
    sources = [readable_source(s) for s in f"{mc_source or ''},{mc_file or ''}".split(",") if s.strip()]
    limit = int(mc_limit or 0)
    if limit < 0:
        raise ValueError(f"The number of questions must be 0 (all) or more, got {limit}")
    limit = limit or None
    return [{"source": s, "limit": limit} for s in sources]


def _muse_spec(muse_source: str, muse_limit, auc_retrained) -> dict | None:
    if not muse_source or not muse_source.strip():
        return None
    if int(muse_limit or 0) < 0 or float(auc_retrained or 0) < 0:
        raise ValueError("The MUSE row limit and the retrained AUC must not be negative (0 = all rows / no AUC)")
    spec = {"source": readable_source(muse_source), "limit": int(muse_limit) if muse_limit else None,
            "verbmem_max_new_tokens": 32}
    if auc_retrained:
        spec["auc_retrained"] = float(auc_retrained)
    return spec


@user_errors
def evaluate_clicked(mc_source, mc_file, mc_limit, muse_source, muse_limit, auc_retrained, max_new_tokens, visitor,
                     progress=gr.Progress()):
    if visitor.run is None or visitor.edit is None:
        raise ValueError("Run Forget first: the evaluation compares the original and the unlearned model "
                         "on the run's forget, retain and held-out data")
    probe_sets = visitor.run.data.probe_sets()
    config = EvalConfig(max_new_tokens=int(max_new_tokens), answer_sets=tuple(n for n in ANSWER_SETS if n in probe_sets))
    benchmarks = make_benchmarks(_mc_specs(mc_source, mc_file, mc_limit), _muse_spec(muse_source, muse_limit, auc_retrained))
    record = None
    for record in jobs.iter_evaluation(HOST, visitor, config, benchmarks):
        progress(record.fraction, desc=record.message)
        if record.result is None:
            yield gr.update(), gr.update(), gr.update(), f"Evaluating, {record.fraction:.0%} done: {record.message}"
    result = record.result
    answers = answers_table(result.answers)
    visitor.keep("evaluation", {"table": result.table, "answers": answers}, HOST)
    accuracy = result.table[result.table["metric"] == "top-1 accuracy"]
    shown = answers[ANSWER_COLUMNS].assign(changed=answers["changed"].map({True: "yes", False: "no"}))
    yield (result.table.round(4), evaluation_bars(accuracy, "top-1 accuracy"), shown,
           f"Evaluated {len(probe_sets)} probe sets, {len(visitor.run.data.text_sets())} text sets, "
           f"{len(benchmarks)} benchmarks.")


def build(visitor: gr.State) -> gr.Markdown:
    """The tab; returns its line saying which run it inspects (refreshed by the layout)."""
    with gr.Tab("Evaluate", id="evaluate"):
        gr.Markdown("Original (the base weights) vs your unlearned model, on your last Forget run's data: "
                    "forget facts and paraphrases, retain facts used by the run and held out, general texts.")
        in_view = gr.Markdown(elem_id="evaluate-in-view")
        with gr.Accordion("Benchmarks (optional)", open=False):
            with gr.Row():
                mc_source = gr.Textbox(value="", label="Multiple choice: files or names (wmdp-bio, wmdp-cyber, mmlu: online only), "
                                             "comma separated", placeholder="tests/fixtures/wmdp_sample.jsonl")
                upload = gr.File(label="...or upload a JSONL / CSV / Parquet file (question, choices, answer)")
                mc_file = gr.Textbox(value="", visible=False)   # the uploaded file's path (set by the upload)
                mc_limit = Number(value=0, precision=0, label="At most n questions (0 = all)")
            with gr.Row():
                muse_source = gr.Textbox(value="", label="MUSE: a folder in MUSE's layout, or news / books (online only)",
                                         placeholder="tests/fixtures/muse")
                muse_limit = Number(value=0, precision=0, label="At most n rows per split (0 = all)")
                auc_retrained = Number(value=0, label="AUC of a retrained model for PrivLeak (0 = none)")
        max_new = Slider(4, 60, value=20, step=1, label="New tokens per answer")
        with gr.Row():
            run = gr.Button("Evaluate", variant="primary", elem_id="evaluate-run")
            stop = gr.Button("Stop")
        message = gr.Markdown("", elem_id="evaluate-message")
        table = gr.Dataframe(label="Original vs unlearned", interactive=False, elem_id="evaluate-table",
                             headers=TABLE_COLUMNS)
        chart = gr.Plot(label="Top-1 accuracy")
        answers = gr.Dataframe(label="Answers (answer in text = the unlearned text still says the answer somewhere)",
                               interactive=False, wrap=True, column_widths=ANSWER_COLUMN_WIDTHS,
                               headers=ANSWER_COLUMNS)
    upload.change(lambda f: "" if f is None else (f if isinstance(f, str) else f.name), [upload], [mc_file],
                  api_visibility="private")
    event = run.click(evaluate_clicked, [mc_source, mc_file, mc_limit, muse_source, muse_limit, auc_retrained, max_new,
                                         visitor], [table, chart, answers, message], api_name="evaluate",
                      show_progress_on=[table])           # the message says the same: not twice
    stop.click(lambda: "Stopped.", None, [message], cancels=[event], api_visibility="private")
    return in_view
