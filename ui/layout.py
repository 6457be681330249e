"""All tabs in one Blocks app.

    >>> demo = build_app(); demo.queue().launch()
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from ui import compare_tab, evaluate_tab, export_tab, forget_tab, locate_tab, model_tab

CSS_PATH = Path(__file__).resolve().parents[1] / "assets" / "style.css"


def build_app() -> gr.Blocks:
    with gr.Blocks(title="KUDA: locate and forget knowledge") as demo:
        gr.Markdown("# KUDA: locate, forget and inspect knowledge in a language model")
        with gr.Tabs():
            model_tab.build()
            located = locate_tab.build()
            forget_tab.build(located["layers"])
            compare_tab.build()
            evaluate_tab.build()
            export_tab.build()
        demo.load(locate_tab.estimate_changed, located["estimate_inputs"], [located["estimate"]],
                  concurrency_id="model")  # every event that runs the model shares one queue slot
    return demo


build_app.launch_options = {"css_paths": [CSS_PATH] if CSS_PATH.exists() else None}
