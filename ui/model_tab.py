"""The "Model" tab: which model the app serves, a prompt box with the greedy answer and next-token distribution."""
from __future__ import annotations

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from kuda_core.model.device import DEVICE_CHOICES
from kuda_core.workflows import jobs
from ui.errors import user_errors
from ui.session import HOST, OPTIONS, calibrate, status_of
from ui.widgets import Slider


def model_info(visitor) -> str:
    """The model's summary and the visitor's status line (computed per visitor, per event)."""
    if HOST.lm is None:
        return "No model loaded."
    table = " | ".join(f"**{k}**: {v}" for k, v in HOST.lm.summary().items())
    return f"{table}\n\n{status_of(visitor)}"


def topk_figure(pairs: list[tuple[str, float]]) -> go.Figure:
    """Horizontal bar chart of (token, probability), most probable on top."""
    labels = [repr(token) for token, _ in pairs][::-1]
    values = [p for _, p in pairs][::-1]
    figure = go.Figure(go.Bar(x=values, y=labels, orientation="h", marker_color="#4c72b0",
                              text=[f"{v:.3f}" for v in values], textposition="outside"))
    figure.update_layout(title="Top next tokens", xaxis_title="probability", xaxis_range=[0, 1.1],
                         height=380, margin=dict(l=10, r=10, t=40, b=30))
    return figure


@user_errors
def load_clicked(name: str, device: str, visitor, progress=gr.Progress()):
    if not OPTIONS.allow_model_loading:
        raise ValueError("Loading another model is switched off on this server (start the app with --allow-model-loading)")
    progress(0.1, desc=f"loading {name}")
    HOST.load((name or "").strip() or "default", device=device, **OPTIONS.load_options)
    calibrate()
    visitor.reset()
    return model_info(visitor), f"Loaded {HOST.lm.name} for every visitor of this app."


@user_errors
def generate_clicked(prompt: str, max_new_tokens: float, visitor):
    continuation, pairs = jobs.generate(HOST, visitor, prompt, int(max_new_tokens))
    table = pd.DataFrame({"token": [repr(t) for t, _ in pairs], "probability": [round(p, 4) for _, p in pairs]})
    return continuation, topk_figure(pairs), table


def build(visitor: gr.State) -> dict:
    """Lay out the tab; returns the info panel (refreshed on page load and after edits)."""
    with gr.Tab("Model", id="model"):
        info = gr.Markdown("", elem_id="model-info")
        with gr.Row(visible=OPTIONS.allow_model_loading):
            name = gr.Textbox(label="Model (hub id, local folder or .gguf file; 'default' for SmolLM2-135M-Instruct)",
                              value="default", scale=4, elem_id="model-name")
            device = gr.Dropdown(list(DEVICE_CHOICES), value="auto", label="Device", scale=1)
            load = gr.Button("Load model for everyone", scale=1)
        load_message = gr.Markdown("")
        with gr.Row():
            prompt = gr.Textbox(label="Prompt", value="The capital of France is", scale=4, elem_id="model-prompt")
            max_new = Slider(1, 100, value=20, step=1, label="New tokens", scale=1)
        run = gr.Button("Generate", variant="primary", elem_id="model-generate")
        continuation = gr.Textbox(label="Greedy continuation", elem_id="model-continuation", interactive=False)
        with gr.Row():
            chart = gr.Plot(label="Top-10 next tokens")
            table = gr.Dataframe(label="Top-10 next tokens", interactive=False, headers=["token", "probability"])
    load.click(load_clicked, [name, device, visitor], [info, load_message], api_name="load_model",
               api_visibility="private" if not OPTIONS.allow_model_loading else "public")
    run.click(generate_clicked, [prompt, max_new, visitor], [continuation, chart, table], api_name="generate")
    prompt.submit(generate_clicked, [prompt, max_new, visitor], [continuation, chart, table], api_visibility="private")
    return {"info": info}
