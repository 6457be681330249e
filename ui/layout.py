"""All tabs in one Blocks app; every visitor gets their own state.

    >>> demo = build_app(); demo.queue().launch(**build_app.launch_options)
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from ui import api, checks_tab, compare_tab, evaluate_tab, export_tab, forget_tab, locate_tab, model_tab, runs_tab
from kuda_core.model.hooks import hook_count
from kuda_core.model.snapshot import state_dict_hash
from ui.session import HOST, status_of, visitor_state

ASSETS = Path(__file__).resolve().parents[1] / "assets"
CSS_PATH = ASSETS / "style.css"
HEAD_PATH = ASSETS / "head.html"                 # keeps an emptied slider empty (see the file)


def health(with_hash: bool = False) -> dict:
    """For monitoring and tests: hooks left on the shared model, and (on request) its state-dict hash."""
    with HOST.use() as lm:
        return {"hooks": hook_count(lm.model), "version": HOST.version,
                "hash": state_dict_hash(lm.model) if with_hash else None, "waiting": HOST.lock.waiting}


def api_stop(visitor) -> str:
    """/stop: cancels the caller's running requests; a Forget run still preparing ends at its next turn."""
    visitor.request_stop()
    return "Stopped: the weights reached so far are kept."


def _traced_fact(prompt: str, subject: str, answer: str, scored: dict | None, visitor):
    """Forget starts with the fact just traced; a refused trace (bad input, or a long one not confirmed yet)
    leaves Forget's data as it was."""
    if not locate_tab.was_traced(visitor, prompt, subject):
        return gr.skip()
    return "typed rows", forget_tab.typed_row(prompt, subject, answer or (scored or {}).get("answer", ""))


def build_app() -> gr.Blocks:
    with gr.Blocks(title="KUDA: locate and forget knowledge", delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# KUDA: locate, forget and inspect knowledge in a language model")
        visitor = visitor_state()
        with gr.Tabs() as tabs:
            model = model_tab.build(visitor)
            located = locate_tab.build(visitor)
            forget = forget_tab.build(visitor, located["layers"], forget_tab.typed_row(*located["fact"]))
            in_view = [compare_tab.build(visitor), checks_tab.build(visitor), evaluate_tab.build(visitor)]
            runs_tab.build(visitor)
            export = export_tab.build(visitor)
        located["trace_event"].success(_traced_fact, [*located["fact_inputs"], visitor],
                                       [forget["source"], forget["typed"]], api_visibility="private")
        api_events = api.build(visitor)
        gr.api(health, api_name="health", api_visibility="undocumented")
        stop = gr.Button(visible=False)
        stop.click(api_stop, [visitor], gr.Textbox(visible=False),
                   cancels=[*api_events, *forget["events"]], api_name="stop")
        estimate_changed, estimate_inputs, estimate = located["estimate"]
        demo.load(estimate_changed, estimate_inputs, [estimate], api_visibility="private")
        statuses = [forget["status"], export["status"]]

        def refresh(v):
            return model_tab.model_info(v), *[status_of(v)] * len(statuses), *[v.run_in_view()] * len(in_view)
        for event in (demo.load, tabs.select):                     # a tab opened shows the edit in effect now
            event(refresh, [visitor], [model["info"], *statuses, *in_view], api_visibility="private")
    return demo


build_app.launch_options = {"css_paths": [CSS_PATH], "head_paths": [HEAD_PATH]}
