"""The "Model" tab: load a model, prompt it, see the greedy answer and the next-token distribution."""
from __future__ import annotations

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from kuda_core.device import DEVICE_CHOICES
from kuda_core.generate import greedy_continuation, top_next_tokens
from ui.errors import user_errors
from ui.session import HOLDER


def model_info_markdown() -> str:
    if HOLDER.lm is None:
        return "No model loaded."
    rows = HOLDER.lm.summary()
    table = " | ".join(f"**{k}**: {v}" for k, v in rows.items())
    return f"{table}\n\n{HOLDER.status_line()}"


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
def load_clicked(name: str, device: str, progress=gr.Progress()):
    HOLDER.load(name.strip() or "default", device=device, progress=lambda f, m: progress(f, desc=m))
    return model_info_markdown(), f"Loaded {HOLDER.lm.name}."


@user_errors
def generate_clicked(prompt: str, max_new_tokens: float):
    lm = HOLDER.require()
    continuation = greedy_continuation(lm, prompt, int(max_new_tokens))
    pairs = top_next_tokens(lm, prompt, k=10)
    table = pd.DataFrame({"token": [repr(t) for t, _ in pairs], "probability": [round(p, 4) for _, p in pairs]})
    return continuation, topk_figure(pairs), table


def build() -> dict:
    """Lay out the tab; returns the components other tabs refresh (the info line)."""
    with gr.Tab("Model", id="model"):
        info = gr.Markdown(model_info_markdown(), elem_id="model-info")
        with gr.Row():
            name = gr.Textbox(label="Model (hub id, local folder or .gguf file; 'default' for SmolLM2-135M-Instruct)",
                              value="default", scale=4, elem_id="model-name")
            device = gr.Dropdown(list(DEVICE_CHOICES), value="auto", label="Device", scale=1)
            load = gr.Button("Load model", scale=1)
        load_message = gr.Markdown("")
        with gr.Row():
            prompt = gr.Textbox(label="Prompt", value="The capital of France is", scale=4, elem_id="model-prompt")
            max_new = gr.Slider(1, 100, value=20, step=1, label="New tokens", scale=1)
        run = gr.Button("Generate", variant="primary", elem_id="model-generate")
        continuation = gr.Textbox(label="Greedy continuation", elem_id="model-continuation", interactive=False)
        with gr.Row():
            chart = gr.Plot(label="Top-10 next tokens")
            table = gr.Dataframe(label="Top-10 next tokens", interactive=False)
    load.click(load_clicked, [name, device], [info, load_message], concurrency_id="model")
    run.click(generate_clicked, [prompt, max_new], [continuation, chart, table], concurrency_id="model")
    prompt.submit(generate_clicked, [prompt, max_new], [continuation, chart, table], concurrency_id="model")
    return {"info": info}
