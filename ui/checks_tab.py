"""The "Is it really gone?" tab: attacks that try to bring a forgotten fact back, on your last run."""
from __future__ import annotations

import gradio as gr

from kuda_core.inspect.attacks.prompts import AttackConfig
from kuda_core.inspect.attacks.relearn import RelearnConfig
from kuda_core.locate.config import KINDS, TraceConfig
from kuda_core.report.plots import trace_heatmap
from kuda_core.workflows import gone, jobs
from ui.errors import user_errors
from ui.session import HOST
from ui.widgets import Number, Slider

EXPLAINED = """
**Prompt attacks.** The forget facts asked differently: their paraphrases (a row only when the forget rows have
them), true facts of the same relation first (a pattern the model may complete), or as a question with and without
answered examples. *Recovered* is the share of the facts the plain prompt no longer answers that the attack brings
back (blank where the original model did not answer in that format either); near 0 means the knowledge does not
simply hide behind one wording.

**Logit lens.** The answer's rank read from the residual stream after every layer (final norm and unembedding). If
the answer is still near the top in the layers above the edited ones, it is hidden later rather than removed.

**Relearning.** A short fine-tuning of the edited projections on half of the forgotten facts, then the other half is
measured, next to a control fine-tuned on unrelated facts. Recovery beyond the control means the other facts were
still there, waiting. A single forgotten fact is measured after training on a few facts of its relation (never one
with its answer): if that brings it back, the relation's training undoes the forgetting.

**Tracing after unlearning.** Causal tracing of one forget fact on the original and on your model: if restoring
clean states no longer brings the answer back, the route that carried it is gone.
"""

RECOVERED_HELP = ("**recovered**: of the facts the plain prompt no longer answers, the share this attack makes the "
                  "model answer again; blank where the original model did not answer in that form either (nothing "
                  "to recover). More in \"What the checks mean\" below.")


@user_errors
def checks_clicked(shots, examples, steps, visitor, progress=gr.Progress()):
    attack = AttackConfig(shots=int(shots), question_examples=int(examples))
    try:
        measured = tuple(int(s) for s in str(steps or "").replace(",", " ").split())
    except ValueError:
        raise ValueError(f"Relearning steps must be whole numbers separated by spaces, got {steps!r}") from None
    relearn = RelearnConfig(steps=measured) if measured else None     # an empty field: no relearning
    report = None
    for report in gone.iter_checks(HOST, visitor, attack, relearn):
        progress(0.5, desc=report.message)
        figures = report.figures(visitor.run.data.forget)
        heat, curve = figures.get("lens"), figures.get("relearn")
        yield report.attack_table(), heat, curve, f"Running: {report.message}"
    visitor.keep("checks", report, HOST)                  # for the bundle, while the model stays as it is
    yield report.attack_table(), heat, curve, f"Done. {report.summary_text()}"


@user_errors
def retrace_clicked(fact_index, kind, samples, visitor, progress=gr.Progress()):
    if visitor.run is None:
        raise ValueError("Nothing to inspect yet: run Forget first")
    facts = visitor.run.data.forget
    index = int(fact_index or 0)
    if not 0 <= index < len(facts):
        raise ValueError(f"Forget fact number {index} does not exist: choose 0..{len(facts) - 1}")
    fact, heat, results = facts[index], {"original": None, "unlearned": None}, {}
    for which, partial in jobs.iter_retrace(HOST, visitor, fact, TraceConfig(kind=kind, samples=int(samples))):
        results[which] = partial
        heat[which] = trace_heatmap(partial.scores, partial.tokens, partial.subject_range, partial.kind,
                                    p_corrupt=partial.p_corrupt, p_clean=partial.p_clean,
                                    title=f"{which}: restoring the {partial.kind}")
        progress((0.5 if which == "unlearned" else 0.0) + 0.5 * partial.rows_done / len(partial.tokens), desc=which)
        yield heat["original"], heat["unlearned"], ""
    before, after = results["original"], results["unlearned"]
    peak_before, peak_after = float(before.indirect_effect.max()), float(after.indirect_effect.max())
    verdict = ("Restoring clean states no longer brings the answer back." if peak_after < 0.05
               else "Some states still carry the answer.")
    yield (heat["original"], heat["unlearned"],
           f"{fact.prompt} ->{fact.answer}: p clean {before.p_clean:.3f} -> {after.p_clean:.3f}; "
           f"largest indirect effect {peak_before:.3f} -> {peak_after:.3f}. {verdict}")


def build(visitor: gr.State) -> gr.Markdown:
    """The tab; returns its line saying which run it inspects (refreshed by the layout)."""
    with gr.Tab("Is it really gone?", id="gone"):
        gr.Markdown("Checks on your last Forget run that try to bring the forgotten facts back.")
        in_view = gr.Markdown(elem_id="gone-in-view")
        with gr.Row():
            shots = Slider(1, 6, value=3, step=1, label="Facts before the prompt (k-shot attack)")
            examples = Slider(0, 4, value=2, step=1, label="Answered examples before the question")
            steps = gr.Textbox(value="10 30", label="Relearning: measure after these steps (empty: no relearning)")
        with gr.Row():
            run = gr.Button("Run the checks", variant="primary", elem_id="gone-run")
            stop = gr.Button("Stop")
        message = gr.Markdown("", elem_id="gone-message")
        table = gr.Dataframe(label="Prompt attacks: original vs unlearned", interactive=False, elem_id="gone-table",
                             headers=gone.ATTACK_COLUMNS)
        gr.Markdown(RECOVERED_HELP, elem_id="gone-table-help")
        with gr.Row():
            lens = gr.Plot(label="Logit lens", elem_id="gone-lens")
            relearn = gr.Plot(label="Relearning", elem_id="gone-relearn")
        with gr.Accordion("Tracing after unlearning", open=False):
            with gr.Row():
                fact_index = Number(value=0, precision=0, label="Forget fact number (0 = first)")
                kind = gr.Dropdown(list(KINDS), value="mlp", label="Kind")
                samples = Slider(1, 20, value=5, step=1, label="Noise samples")
                retrace = gr.Button("Trace original and unlearned")
            retrace_text = gr.Markdown("")
            with gr.Row():
                heat_before = gr.Plot(label="original")
                heat_after = gr.Plot(label="unlearned")
        with gr.Accordion("What the checks mean", open=False):
            gr.Markdown(EXPLAINED)
    events = [run.click(checks_clicked, [shots, examples, steps, visitor], [table, lens, relearn, message],
                        api_name="checks"),
              retrace.click(retrace_clicked, [fact_index, kind, samples, visitor], [heat_before, heat_after, retrace_text],
                            api_name="retrace")]
    stop.click(None, None, None, cancels=events, api_visibility="private")
    return in_view
