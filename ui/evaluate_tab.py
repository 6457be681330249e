"""The "Evaluate" tab: probe accuracy, perplexity, coherence, multiple choice and MUSE, before vs after."""
from __future__ import annotations

from dataclasses import replace

import gradio as gr
import pandas as pd

from kuda_core.benchmarks import make_benchmarks
from kuda_core.evaluate import EvalConfig, answers_frame, iter_evaluate
from kuda_core.plots import evaluation_bars
from ui.errors import user_errors
from ui.session import HOLDER

ANSWER_SETS = ("forget", "forget paraphrases", "retain (held out)")


def _mc_specs(mc_source: str, mc_file, mc_limit) -> list[dict]:
    sources = [s.strip() for s in (mc_source or "").split(",") if s.strip()]
    if mc_file is not None:
        sources.append(mc_file if isinstance(mc_file, str) else mc_file.name)
    limit = int(mc_limit) if mc_limit else None
    return [{"source": s, "limit": limit} for s in sources]


def _muse_spec(muse_source: str, muse_limit, auc_retrained) -> dict | None:
    if not muse_source or not muse_source.strip():
        return None
    spec = {"source": muse_source.strip(), "limit": int(muse_limit) if muse_limit else None,
            "verbmem_max_new_tokens": 32}
    if auc_retrained:
        spec["auc_retrained"] = float(auc_retrained)
    return spec


@user_errors
def evaluate_clicked(mc_source, mc_file, mc_limit, muse_source, muse_limit, auc_retrained, max_new_tokens,
                     progress=gr.Progress()):
    lm = HOLDER.require()
    if HOLDER.last_run is None:
        raise ValueError("Run Forget first: the evaluation compares the original and the unlearned model "
                         "on the run's forget, retain and held-out data")
    data = HOLDER.last_run["data"]
    probe_sets = data.probe_sets()
    config = EvalConfig(max_new_tokens=int(max_new_tokens),
                        answer_sets=tuple(n for n in ANSWER_SETS if n in probe_sets))
    benchmarks = make_benchmarks(_mc_specs(mc_source, mc_file, mc_limit), _muse_spec(muse_source, muse_limit, auc_retrained))
    for record in iter_evaluate(lm, HOLDER.snapshot, probe_sets, data.text_sets(), config, benchmarks):
        progress(record.fraction, desc=record.message)
        if record.result is None:
            yield gr.update(), gr.update(), gr.update(), record.message
    result = record.result
    table = result.table.copy()
    answers = pd.concat([answers_frame(rows).assign(set=name) for name, rows in result.answers.items()],
                        ignore_index=True)
    HOLDER.last_evaluation = {"table": table, "answers": answers}
    accuracy = table[table["metric"] == "top-1 accuracy"]
    yield (table.round(4), evaluation_bars(accuracy, "top-1 accuracy"),
           answers[["set", "prompt", "original_text", "current_text", "changed", "coherent", "perplexity"]],
           f"Evaluated {len(probe_sets)} probe sets, {len(data.text_sets())} text sets, "
           f"{len(benchmarks)} benchmarks.")


def build() -> None:
    with gr.Tab("Evaluate", id="evaluate"):
        gr.Markdown("Original (weights swapped back from the snapshot) vs unlearned, on the last Forget run's data: "
                    "forget facts and paraphrases, retain facts used by the run and held out, general texts.")
        with gr.Accordion("Benchmarks (optional)", open=False):
            with gr.Row():
                mc_source = gr.Textbox(label="Multiple choice: files or names (wmdp-bio, wmdp-cyber, mmlu: online only), comma separated",
                                       placeholder="tests/fixtures/wmdp_sample.jsonl")
                mc_file = gr.File(label="...or upload a JSONL / CSV / Parquet file (question, choices, answer)")
                mc_limit = gr.Number(value=None, precision=0, label="At most n questions")
            with gr.Row():
                muse_source = gr.Textbox(label="MUSE: a folder in MUSE's layout, or news / books (online only)",
                                         placeholder="tests/fixtures/muse")
                muse_limit = gr.Number(value=None, precision=0, label="At most n rows per split")
                auc_retrained = gr.Number(value=None, label="AUC of a retrained model (for PrivLeak)")
        max_new = gr.Slider(4, 60, value=20, step=1, label="New tokens per answer")
        with gr.Row():
            run = gr.Button("Evaluate", variant="primary", elem_id="evaluate-run")
            stop = gr.Button("Stop")
        message = gr.Markdown("", elem_id="evaluate-message")
        table = gr.Dataframe(label="Original vs unlearned", interactive=False, elem_id="evaluate-table")
        chart = gr.Plot(label="Top-1 accuracy")
        answers = gr.Dataframe(label="Answers", interactive=False, wrap=True)
    event = run.click(evaluate_clicked, [mc_source, mc_file, mc_limit, muse_source, muse_limit, auc_retrained, max_new],
                      [table, chart, answers, message], concurrency_id="model")
    stop.click(lambda: "Stopped.", None, [message], cancels=[event])
