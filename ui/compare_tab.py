"""The "Compare" tab: original vs unlearned answers, representation drift, tracing and null space."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from kuda_core.inspect.compare import CompareConfig
from kuda_core.report.plots import drift_chart, eigen_spectrum, pca_scatter
from kuda_core.workflows import jobs
from kuda_core.workflows.summaries import PROMPT_SETS, answers_summary, compare_prompts
from ui.errors import user_errors
from ui.session import HOST
from ui.widgets import Number, Slider

FLUENCY_HELP = ("Changed = the answer's first token was the top-1 and no longer is (or the reverse). Fluent = a "
                "verdict on the new text, read by the original model (fit to the prompt, likelihood, repetition); "
                "'same text' where the edit left the text word for word as it was. Checked against answers labelled "
                "by hand, it agrees with the readers on 82-84% of them and lets 13-17% of the non-fluent ones through "
                "(two readers agree on 93%). Answer in text = the unlearned text still says the answer somewhere: a "
                "forgotten first token can be followed by the answer after a detour.")
ANSWER_COLUMNS = ["set", "prompt", "answer", "original", "unlearned", "changed", "answer in text", "fluent"]
NULL_COLUMNS = ["layer", "retain keys", "null dim", "of", "threshold", "leak on held-out keys", "|dW| / |W0|"]
NUMBER_COLUMNS = ["set", "prompt", "p before", "p after", "rank before", "rank after", "top-5 after",
                  "ppl (original model)"]
NUMBER_COLUMN_WIDTHS = ["110px", "240px", "85px", "85px", "95px", "95px", "330px", "110px"]   # headers on one line
ANSWER_COLUMN_WIDTHS = ["110px", "220px", "110px", "250px", "250px", "80px", "80px", "70px"]   # a laptop screen; a city
                                                                                   # name ("San Francisco") on one line


def _styled(frame: pd.DataFrame):
    """The answers first (changed rows shaded); the numbers go to the second table."""
    def colour(row):
        return ["background-color: #fde2e1" if row["changed"] else ""] * len(row)
    return frame[ANSWER_COLUMNS].style.apply(colour, axis=1).format({"changed": lambda c: "yes" if c else "no"})


def _numbers(frame: pd.DataFrame):
    return frame[NUMBER_COLUMNS].style.format({"p before": "{:.4f}", "p after": "{:.4f}", "ppl (original model)": "{:.1f}"})


NULL_SPACE_HELP = (
    "The keys are the inputs of an edited layer's MLP output projection on the retained texts. **Null dim** counts "
    "the directions in which those keys hardly vary (eigenvalues of their covariance at or below the threshold); "
    "the relaxed projection lets the update act only there. Key spectra are dominated by a few directions, so most "
    "of the dimensions can count as null and the projection alone promises little: **leak on held-out keys** "
    "measures what the update actually does to retained keys it was not fitted on (|dW k| / |W0 k|, 0 = untouched).")
NO_RUN = "Your model is the original one (no Forget run of yours in effect)"


@user_errors
def compare_clicked(chosen, free_text, limit, max_new_tokens, visitor, progress=gr.Progress()):
    data = visitor.run.data if visitor.run is not None and visitor.edit is not None else None
    chosen, note = list(chosen or []), ""
    if data is None and any(name != "free text" for name in chosen):
        if not (free_text or "").strip():
            empty = pd.DataFrame(columns=ANSWER_COLUMNS), pd.DataFrame(columns=NUMBER_COLUMNS)
            yield (*empty, f"{NO_RUN}: run Forget, then compare its facts here, or type free-text prompts to see the "
                   "original model's answers.")
            return
        chosen, note = ["free text"], f"{NO_RUN}: only the free-text prompts are compared. "
    rows = compare_prompts(data, chosen, free_text, int(limit or 0))
    config = CompareConfig(max_new_tokens=int(max_new_tokens), top_k=5)
    table = None
    for done, total, table in jobs.iter_compare(HOST, visitor, rows, config):
        progress(done / total, desc=f"prompt {done}/{total}")
        yield _styled(table), _numbers(table), note + answers_summary(table)
    visitor.keep("comparison", table, HOST)
    shown = f"Done. At most {int(limit or 0)} prompts per set ('At most per set'): "
    yield _styled(table), _numbers(table), (note + shown + answers_summary(table) + ". " + FLUENCY_HELP)


@user_errors
def drift_clicked(pca_layer, visitor):
    layer = int(pca_layer) if pca_layer is not None else -1
    summary = jobs.drift(HOST, visitor, None if layer == -1 else layer)
    pca = summary.pca
    return (drift_chart(summary.layers, summary.cosine, selected=summary.edited),
            pca_scatter(pca.points, pca.explained, pca.prompts) if pca is not None else None,
            "  \n".join(summary.lines()))


@user_errors
def nullspace_clicked(visitor, progress=gr.Progress()):
    progress(0.1, desc="collecting retain keys")
    report = jobs.null_space(HOST, visitor)
    figure = eigen_spectrum(report[0].eigenvalues, report[0].threshold, title=f"Layer {report[0].layer} (the first edited; the table has each): retain key spectrum")
    table = pd.DataFrame([(r.layer, r.n_keys, r.null_dim, len(r.eigenvalues), r.threshold, r.leak, r.update_norm)
                          for r in report], columns=NULL_COLUMNS)
    return figure, table.round(6)


def build(visitor: gr.State) -> gr.Markdown:
    """The tab; returns its line saying which run it inspects (refreshed by the layout)."""
    with gr.Tab("Compare", id="compare"):
        in_view = gr.Markdown(elem_id="compare-in-view")
        with gr.Row():
            chosen = gr.CheckboxGroup(list(PROMPT_SETS), value=["forget facts", "neighbours (held out)",
                                                                "other facts (held out)"],
                                      label="Prompts", elem_id="compare-sets")
            limit = Slider(1, 50, value=8, step=1, label="At most per set")
            max_new = Slider(1, 60, value=20, step=1, label="New tokens")
        free_text = gr.Textbox(value="", lines=2, label="Free-text prompts (one per line)")
        run = gr.Button("Compare answers", variant="primary", elem_id="compare-run")
        summary = gr.Markdown("", elem_id="compare-summary")
        answers = gr.Dataframe(label="Original vs unlearned (changed rows shaded)", interactive=False,
                               headers=ANSWER_COLUMNS, wrap=True, elem_id="compare-table", column_widths=ANSWER_COLUMN_WIDTHS)
        with gr.Accordion("Numbers: p and rank of the answer before and after, top-5, perplexity", open=False):
            numbers = gr.Dataframe(interactive=False, wrap=True, elem_id="compare-numbers", headers=NUMBER_COLUMNS,
                                   column_widths=NUMBER_COLUMN_WIDTHS)
        with gr.Accordion("Representation drift", open=False):
            with gr.Row():
                pca_layer = Number(value=-1, label="PCA layer (-1 = the middle edited layer)", precision=0)
                drift_run = gr.Button("Measure drift", elem_id="compare-drift")
            drift_text = gr.Markdown("")
            with gr.Row():
                drift_plot = gr.Plot(label="Drift per layer")
                pca_plot = gr.Plot(label="PCA before / after")
        with gr.Accordion("Null space", open=False):
            gr.Markdown(NULL_SPACE_HELP)
            null_run = gr.Button("Inspect the null space of the edited layers")
            null_table = gr.Dataframe(interactive=False, headers=NULL_COLUMNS)
            null_plot = gr.Plot(label="Eigenvalues of the retain key covariance")
        stop = gr.Button("Stop")
    events = [
        run.click(compare_clicked, [chosen, free_text, limit, max_new, visitor], [answers, numbers, summary],
                  api_name="compare"),
        drift_run.click(drift_clicked, [pca_layer, visitor], [drift_plot, pca_plot, drift_text], api_name="drift"),
        null_run.click(nullspace_clicked, [visitor], [null_plot, null_table], api_name="null_space"),
    ]
    stop.click(None, None, None, cancels=events, api_visibility="private")
    return in_view
