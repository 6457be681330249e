"""The "Compare" tab: original vs unlearned answers, representation drift, tracing and null space."""
from __future__ import annotations

from dataclasses import replace

import gradio as gr
import pandas as pd

from kuda_core.drift import krd, layer_drift, pca_view
from kuda_core.evaluate import EvalConfig, iter_compare_answers
from kuda_core.nullspace_report import nullspace_report
from kuda_core.plots import drift_chart, eigen_spectrum, pca_scatter, trace_heatmap
from kuda_core.replay import strip_article
from kuda_core.tracing import KINDS, TraceConfig, iter_trace
from ui.errors import user_errors
from ui.session import HOLDER

PROMPT_SETS = ("forget facts", "forget paraphrases", "retain neighbours (held out)", "free text")

# set, prompt, answer, original, unlearned fit a laptop screen side by side; the numbers scroll
ANSWER_COLUMN_WIDTHS = ["110px", "210px", "80px", "230px", "230px", "70px", "70px", "60px", "60px", "220px",
                        "75px", "75px", "90px"]


def _run():
    if HOLDER.last_run is None or HOLDER.snapshot is None:
        raise ValueError("Nothing to compare yet: run Forget first")
    return HOLDER.last_run


def _prompts(chosen: list[str], free_text: str, limit: int) -> list[tuple[str, str | None, str]]:
    """(prompt, answer or None, set name) rows for the chosen sets, at most `limit` per set."""
    rows = []
    data = HOLDER.last_run["data"] if HOLDER.last_run else None
    for name in chosen:
        if name == "free text":
            rows += [(line, None, name) for line in (free_text or "").splitlines() if line.strip()][:limit]
            continue
        if data is None:
            raise ValueError("Run Forget first, or compare free text only")
        if name == "forget facts":
            rows += [(f.prompt, f.answer, name) for f in data.forget][:limit]
        elif name == "forget paraphrases":
            rows += [(p, f.answer, name) for f in data.forget for p in f.paraphrases][:limit]
        else:
            rows += [(f.prompt, f.answer, name) for f in (data.retain_held or data.retain_used)][:limit]
    if not rows:
        raise ValueError("Choose at least one prompt set (or type free-text prompts)")
    return rows


def _styled(frame: pd.DataFrame):
    def colour(row):
        shade = "background-color: #fde2e1" if row["changed"] else ""
        return [shade] * len(row)
    return frame.style.apply(colour, axis=1).format(
        {"p before": "{:.4f}", "p after": "{:.4f}", "ppl (original model)": "{:.1f}"})


@user_errors
def compare_clicked(chosen, free_text, limit, max_new_tokens, progress=gr.Progress()):
    lm = HOLDER.require()
    rows = _prompts(chosen, free_text, int(limit))
    config = EvalConfig(max_new_tokens=int(max_new_tokens), top_k=5)
    table = []
    for number, (prompt, answer, set_name) in enumerate(rows):
        answers = [answer] if answer is not None else None
        _, row = next(iter_compare_answers(lm, HOLDER.snapshot, [prompt], answers, config))
        table.append({
            "set": set_name, "prompt": prompt, "answer": row.answer, "original": row.original_text,
            "unlearned": row.current_text, "p before": round(row.original_p, 4), "p after": round(row.current_p, 4),
            "rank before": row.original_rank, "rank after": row.current_rank,
            "top-5 after": ", ".join(f"{t!r} {p:.2f}" for t, p in row.current_top),
            "changed": row.changed, "coherent": "yes" if row.coherent else "NO",
            "ppl (original model)": round(row.perplexity, 1),
        })
        progress((number + 1) / len(rows), desc=f"prompt {number + 1}/{len(rows)}")
        frame = pd.DataFrame(table)
        yield _styled(frame), _summary(frame)
    HOLDER.last_compare = frame
    yield _styled(frame), "Done. " + _summary(frame)


def _summary(frame: pd.DataFrame) -> str:
    """Changed and coherent answers per prompt set, and how coherence is judged."""
    parts = [f"{name}: {int(rows['changed'].sum())} of {len(rows)} changed, "
             f"{int((rows['coherent'] == 'yes').sum())} coherent" for name, rows in frame.groupby("set", sort=False)]
    return ("; ".join(parts) + ". Coherent = perplexity of the answer under the original model and its "
            "repetition rate within the thresholds of kuda_core.coherence.")


@user_errors
def drift_clicked(pca_layer):
    lm = HOLDER.require()
    run = _run()
    data, layers = run["data"], list(run["config"].layers)
    forget = [f.prompt for f in data.forget]
    retain = [f.prompt for f in (data.retain_held or data.retain_used)]
    series, details = {}, []
    for name, prompts in (("forget", forget), ("retain", retain)):
        result = layer_drift(lm, HOLDER.snapshot, prompts)
        series[name] = result.cosine
        details.append(f"{name}: max 1-cos {result.cosine.max():.4f} (layer {int(result.cosine.argmax())}), "
                       f"max relative L2 {result.relative_l2.max():.4f}")
    value = krd(lm, HOLDER.snapshot, forget, layers, subjects=[strip_article(f.subject) for f in data.forget])
    layer = int(pca_layer) if pca_layer is not None else layers[len(layers) // 2]
    view = pca_view(lm, HOLDER.snapshot, forget, retain, min(layer, lm.n_layers - 1))
    text = f"**KRD on the edited layers {layers}: {value:.3f}** (0 = unchanged, 1 = orthogonal)  \n" + "  \n".join(details)
    return (drift_chart(result.layers, series, selected=layers), pca_scatter(view.points, view.explained, view.prompts),
            text)


@user_errors
def retrace_clicked(fact_index, kind, samples, progress=gr.Progress()):
    lm = HOLDER.require()
    run = _run()
    facts = run["data"].forget
    fact = facts[min(int(fact_index), len(facts) - 1)]
    config = TraceConfig(kind=kind, samples=int(samples))
    before = after = None
    with HOLDER.snapshot.original(lm.model):  # a Stop here still puts the edited weights back
        for before in iter_trace(lm, fact.prompt, fact.subject, fact.answer, config):
            progress(0.5 * before.rows_done / len(before.tokens), desc="original model")
            yield _heat(before, "original"), None, ""
    for after in iter_trace(lm, fact.prompt, fact.subject, fact.answer, config):
        progress(0.5 + 0.5 * after.rows_done / len(after.tokens), desc="unlearned model")
        yield _heat(before, "original"), _heat(after, "unlearned"), ""
    peak_before = float(before.indirect_effect.max())
    peak_after = float(after.indirect_effect.max())
    yield (_heat(before, "original"), _heat(after, "unlearned"),
           f"{fact.prompt} ->{fact.answer}: p clean {before.p_clean:.3f} -> {after.p_clean:.3f}; "
           f"largest indirect effect {peak_before:.3f} -> {peak_after:.3f}. "
           f"{'Restoring clean states no longer brings the answer back.' if peak_after < 0.05 else 'Some states still carry the answer.'}")


def _heat(result, label: str):
    return trace_heatmap(result.scores, result.tokens, result.subject_range, result.kind, p_corrupt=result.p_corrupt,
                         p_clean=result.p_clean, title=f"{label}: restoring the {result.kind}")


@user_errors
def nullspace_clicked(progress=gr.Progress()):
    lm = HOLDER.require()
    run = _run()
    config, data = run["config"], run["data"]
    if config.tau is None:
        raise ValueError("This run used no null-space projection (tau = 0)")
    used = [f.text for f in data.retain_used] + list(data.texts_used)
    held = [f.text for f in data.retain_held] + list(data.texts_held)
    progress(0.1, desc="collecting retain keys")
    report = nullspace_report(lm, HOLDER.snapshot, list(config.layers), used, held, config.tau, config.tau_mode)
    figures = [eigen_spectrum(r.eigenvalues, r.threshold, title=f"Layer {r.layer}: retain key spectrum") for r in report]
    table = pd.DataFrame([{"layer": r.layer, "retain keys": r.n_keys, "null dim": r.null_dim,
                           "of": len(r.eigenvalues), "threshold": r.threshold,
                           "leak on held-out keys": r.leak, "|dW| / |W0|": r.update_norm} for r in report])
    return figures[0], table.round(6)


def build() -> None:
    with gr.Tab("Compare", id="compare"):
        with gr.Row():
            chosen = gr.CheckboxGroup(list(PROMPT_SETS), value=["forget facts", "retain neighbours (held out)"],
                                      label="Prompts", elem_id="compare-sets")
            limit = gr.Slider(1, 50, value=8, step=1, label="At most per set")
            max_new = gr.Slider(1, 60, value=12, step=1, label="New tokens")
        free_text = gr.Textbox(lines=2, label="Free-text prompts (one per line)")
        run = gr.Button("Compare answers", variant="primary", elem_id="compare-run")
        summary = gr.Markdown("", elem_id="compare-summary")
        answers = gr.Dataframe(label="Original vs unlearned (changed rows shaded)", interactive=False,
                               wrap=True, elem_id="compare-table", column_widths=ANSWER_COLUMN_WIDTHS)
        with gr.Accordion("Representation drift", open=False):
            with gr.Row():
                pca_layer = gr.Number(value=None, label="PCA layer (empty = middle edited layer)", precision=0)
                drift_run = gr.Button("Measure drift", elem_id="compare-drift")
            drift_text = gr.Markdown("")
            with gr.Row():
                drift_plot = gr.Plot(label="Drift per layer")
                pca_plot = gr.Plot(label="PCA before / after")
        with gr.Accordion("Tracing after unlearning", open=False):
            with gr.Row():
                fact_index = gr.Number(value=0, precision=0, label="Forget fact number (0 = first)")
                kind = gr.Dropdown(list(KINDS), value="mlp", label="Kind")
                samples = gr.Slider(1, 20, value=5, step=1, label="Noise samples")
                retrace = gr.Button("Trace original and unlearned")
            retrace_text = gr.Markdown("")
            with gr.Row():
                heat_before = gr.Plot(label="original")
                heat_after = gr.Plot(label="unlearned")
        with gr.Accordion("Null space", open=False):
            null_run = gr.Button("Inspect the null space of the edited layers")
            null_table = gr.Dataframe(interactive=False)
            null_plot = gr.Plot(label="Eigenvalues of the retain key covariance")
        stop = gr.Button("Stop")
    events = [
        run.click(compare_clicked, [chosen, free_text, limit, max_new], [answers, summary], concurrency_id="model"),
        drift_run.click(drift_clicked, [pca_layer], [drift_plot, pca_plot, drift_text], concurrency_id="model"),
        retrace.click(retrace_clicked, [fact_index, kind, samples], [heat_before, heat_after, retrace_text],
                      concurrency_id="model"),
        null_run.click(nullspace_clicked, None, [null_plot, null_table], concurrency_id="model"),
    ]
    stop.click(None, None, None, cancels=events)
