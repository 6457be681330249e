"""The "Runs" tab: every Forget run of yours side by side; apply any of them again, or export it."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from kuda_core.forget.methods import REGISTRY
from kuda_core.report.progress_plots import runs_scatter
from kuda_core.data.wording import counted
from ui.errors import user_errors
from ui.session import HOST, status_of
from ui.widgets import Number

RUN_COLUMNS = ["run", "title", "layers", "facts", "status", "steps", "seconds", "forget", "paraphrase", "neighbours",
               "retain", "fluent", "3-shot recovered", "relearn @30", "in effect"]   # the table's columns (no method)
COLUMNS_HELP = ("**forget**, **paraphrase**: top-1 accuracy on the forget facts' prompts and on their paraphrases "
                "(empty: the facts have none); **neighbours**, **retain**: on the held-out facts of the same "
                "relations and on the other held-out facts; **fluent**: the share of the forgotten facts whose new "
                "20-token answer the fluency verdict reads as fluent (empty: none forgotten); **3-shot recovered**, "
                "**relearn @30**: filled once \"Is it really gone?\" has run on that run.")
COLOUR_BY = {"fluency of the new answers": "fluent", "3-shot attack recovery": "3-shot recovered"}


def run_rows(visitor) -> list[dict]:
    rows = []
    for run in visitor.runs:
        m, config = run.metrics, run.config
        rows.append({"run": run.number, "method": config.method, "title": REGISTRY[config.method].title,
                     "layers": ", ".join(map(str, config.layers)), "facts": len(run.data.forget),
                     "status": run.status, "steps": run.steps_done, "seconds": round(run.seconds, 1),
                     "forget": m.get("forget"), "paraphrase": m.get("paraphrase"), "neighbours": m.get("neighbours"),
                     "retain": m.get("retain"), "fluent": m.get("fluent"),
                     "3-shot recovered": m.get("3-shot recovered"),
                     "relearn @30": m.get("relearn recovery @30"),
                     "in effect": "yes" if visitor.run is run and visitor.edit is not None else ""})
    return rows


@user_errors
def refresh(colour, visitor):
    rows = run_rows(visitor)
    if not rows:
        return pd.DataFrame(columns=RUN_COLUMNS), None, "No runs yet: each Forget run lands here."
    table = pd.DataFrame(rows)[RUN_COLUMNS].round(3)
    plotted = [r for r in rows if r["forget"] is not None and r["neighbours"] is not None]
    figure = runs_scatter(plotted, COLOUR_BY[colour]) if plotted else None
    return table, figure, f"{counted(len(rows), 'run')}. {status_of(visitor)}"


@user_errors
def apply_clicked(number, colour, visitor):
    if number is None:
        raise ValueError("Give the number of the run to apply")
    run = visitor.apply_run(int(number), HOST)
    table, figure, _ = refresh(colour, visitor)
    return table, figure, f"Run #{run.number} is in effect again for you. {status_of(visitor)}"


def chosen_number(number, newest_shown, visitor):
    """The run number box and the newest run it has seen: a run made since then is chosen, else the number is
    kept while it names one of the visitor's runs, else the newest run (None without runs).

        >>> chosen_number(1, 1, visitor)     # runs 1 and 2 now: (2, 2), the new run
    """
    numbers = [run.number for run in visitor.runs]
    newest = numbers[-1] if numbers else None
    if newest != newest_shown or number not in numbers:
        return newest, newest
    return number, newest


def build(visitor: gr.State) -> None:
    with gr.Tab("Runs", id="runs") as tab:
        gr.Markdown("Your Forget runs side by side (KUDA and the baselines on the same facts: the paper's "
                    "comparison, made interactive). Apply one to make it your model again; the Export tab then "
                    "exports it.")
        with gr.Row():
            colour = gr.Radio(list(COLOUR_BY), value="fluency of the new answers", label="Colour the markers by")
            show = gr.Button("Show my runs", elem_id="runs-show")
        message = gr.Markdown("", elem_id="runs-message")
        table = gr.Dataframe(label="Runs", interactive=False, elem_id="runs-table", headers=RUN_COLUMNS, wrap=True)
        gr.Markdown(COLUMNS_HELP, elem_id="runs-columns-help")
        scatter = gr.Plot(label="Forget accuracy vs neighbours kept", elem_id="runs-scatter")
        with gr.Row():
            number = Number(value=None, precision=0, label="Run number", elem_id="runs-number")
            apply = gr.Button("Apply this run", elem_id="runs-apply")
        newest_shown = gr.State(None)       # the newest run when the box was last set: a newer one replaces it
    follow = (chosen_number, [number, newest_shown, visitor], [number, newest_shown])
    show.click(refresh, [colour, visitor], [table, scatter, message], api_name="runs").then(
        *follow, api_visibility="private")
    tab.select(refresh, [colour, visitor], [table, scatter, message], api_visibility="private").then(  # opened: up to date
        *follow, api_visibility="private")
    colour.change(refresh, [colour, visitor], [table, scatter, message], api_visibility="private")
    apply.click(apply_clicked, [number, colour, visitor], [table, scatter, message], api_name="apply_run")
