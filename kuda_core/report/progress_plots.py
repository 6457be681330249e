"""Figures for a room to follow: a Forget run's progress, the "is it really gone?" checks, runs side by side.

    >>> forget_progress(step_rows, target=0.0)            # p(answer) of forget facts and neighbours per check
    >>> lens_heatmap(ranks_unlearned, labels, edited=(4, 5, 6))   # layers x facts, answer rank, log colour
    >>> relearn_curve(relearn_rows)                       # held-out accuracy while relearning, with its control
    >>> runs_scatter(rows)                                # forget accuracy vs neighbours kept, one marker per method
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from kuda_core.report.plots import LAYOUT

CURVE_TITLES = {
    "loss": "total loss", "forget_loss": "forget loss", "retain_loss": "retain loss",
    "krd": "forget representations moved (KRD, 1 - cos: 0 same, 1 orthogonal, 2 opposite)", "retain_drift": "retain representations moved (1 - cos)",
    "grad_cos": "cos(forget gradient, retain gradient)", "forget_acc": "forget facts answered (share)",
    "retain_acc": "retain facts answered (share)", "neighbour_acc": "neighbours answered (share)",
    "paraphrase_acc": "paraphrases answered (share)",
}
MARKERS = {"kuda": "star", "ga": "circle", "gd": "square", "npo": "diamond", "simnpo": "triangle-up", "rmu": "x"}


def _points(rows: Sequence[Mapping], key: str) -> tuple[list, list]:
    pairs = [(r["step"], r[key]) for r in rows if r.get(key) is not None and np.isfinite(r[key])]
    return [s for s, _ in pairs], [v for _, v in pairs]


def forget_progress(rows: Sequence[Mapping], target: float | None = 0.0, check_every: int | None = None) -> go.Figure:
    """Mean p(answer) of the forget facts and the neighbours, and the forget accuracy, at each check; the step
    axis runs to the latest step (between checks the points wait for the next one, `check_every` steps apart)."""
    figure = go.Figure()
    for key, name, colour, dash in (("forget_prob", "forget facts: p(answer)", "#d62728", None),
                                    ("neighbour_prob", "neighbours (never trained on): p(answer)", "#2ca02c", None),
                                    ("forget_acc", "forget facts still answered (share)", "#d62728", "dot")):
        x, y = _points(rows, key)
        if x:
            figure.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name, line=dict(color=colour, dash=dash)))
    if target is not None:
        figure.add_hline(y=target, line_dash="dash", line_color="#7f7f7f", annotation_text="target: forgotten",
                         annotation_position="top left")     # the last markers sit on the line at the right
    latest = max((r["step"] for r in rows), default=0)
    every = f" (measured every {check_every} steps)" if check_every else ""
    figure.update_layout(title=f"Forgetting, step by step{every}", xaxis_title="step", yaxis_title="probability / share",
                         xaxis_range=[-0.5, max(latest, 1) + 0.5], yaxis_range=[-0.02, 1.02], height=360,
                         legend=dict(orientation="h", y=-0.25), **LAYOUT)
    return figure


def _spans(layers: Sequence[int]) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive layers: (4, 5, 6, 9) -> [(4, 6), (9, 9)]."""
    spans: list[tuple[int, int]] = []
    for layer in sorted(set(layers)):
        if spans and layer == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], layer)
        else:
            spans.append((layer, layer))
    return spans


def lens_heatmap(ranks: np.ndarray, labels: Sequence[str], edited: Sequence[int] = (), title: str = "") -> go.Figure:
    """Layers x facts: the answer's rank decoded after each layer, on a log colour scale (dark = found)."""
    ranks = np.asarray(ranks, dtype=float)                                     # (F, L)
    figure = go.Figure(go.Heatmap(z=np.log10(ranks), x=list(range(ranks.shape[1])), y=list(labels),
                                  colorscale="Viridis", zmin=0, zmax=max(3.0, float(np.log10(ranks).max())),
                                  colorbar=dict(title="rank", tickvals=[0, 1, 2, 3, 4], ticktext=["1", "10", "100",
                                                                                                 "1k", "10k"]),
                                  customdata=ranks, hovertemplate="layer %{x}<br>%{y}<br>rank %{customdata:.0f}"
                                                                  "<extra></extra>"))
    for first, last in _spans(edited):   # a box around each run of edited layers, in a colour Viridis does not use
        figure.add_vrect(x0=first - 0.5, x1=last + 0.5, line_width=3, line_color="#e4002b", fillcolor="rgba(0,0,0,0)")
    if len(edited):
        figure.add_annotation(x=(min(edited) + max(edited)) / 2, y=1, yref="paper", yanchor="bottom", showarrow=False,
                              text="edited layers (red box)", font=dict(size=11))
    figure.update_layout(title=title or "Logit lens: the answer's rank after each layer", xaxis_title="layer",
                         height=max(300, 24 * len(labels) + 120), **LAYOUT)
    return figure


def relearn_curve(rows: Sequence[Mapping], trained_on: str = "half of the forgotten facts") -> go.Figure:
    """Held-out half's accuracy while fine-tuning on the other half ("relearn", or what `trained_on` says) and
    on unrelated facts."""
    figure = go.Figure()
    start = next((r["held_acc"] for r in rows if r["arm"] == "before"), None)
    # the relearning arm wide and solid, the control thin and dashed: both stay visible where they coincide
    for arm, line in (("relearn", dict(color="#d62728", width=5)), ("control", dict(color="#404040", width=2, dash="dash"))):
        points = [(0, start)] if start is not None else []
        points += [(r["step"], r["held_acc"]) for r in rows if r["arm"] == arm]
        if len(points) > 1:
            figure.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                                        name=f"fine-tuned on {trained_on}" if arm == "relearn"
                                        else "control: fine-tuned on unrelated facts", line=line))
    figure.update_layout(title="Relearning: do forgotten facts not trained on come back?", xaxis_title="fine-tuning steps",
                         yaxis_title="answered (forgotten, not trained on)", yaxis_range=[-0.02, 1.02],
                         legend=dict(orientation="h", y=-0.3), **{**LAYOUT, "margin": dict(LAYOUT["margin"], b=110)})
    # the legend below: the plot keeps its width
    return figure


def runs_scatter(rows: Sequence[Mapping], colour_by: str = "fluent") -> go.Figure:
    """Forget accuracy against neighbours kept, one marker per run (shape = method, colour = `colour_by`;
    grey where a run has no such value, e.g. no fluency when it made no fact forgotten)."""
    figure, scale_shown = go.Figure(), False      # one colour bar for all methods (each drew its own, stacked)
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        for measured in (True, False):
            part = [r for r in mine if (r.get(colour_by) is not None) == measured]
            if not part:
                continue
            colour = dict(color=[r[colour_by] for r in part], colorscale="RdYlGn", cmin=0, cmax=1,
                          showscale=not scale_shown, colorbar=dict(title=colour_by)) if measured else dict(color="lightgrey")
            scale_shown = scale_shown or measured
            figure.add_trace(go.Scatter(
                x=[r["forget"] for r in part], y=[r["neighbours"] for r in part], mode="markers+text",
                name=method if measured else f"{method} (no {colour_by})", text=[f"#{r['run']}" for r in part],
                textposition="top center", cliponaxis=False,
                marker=dict(symbol=MARKERS.get(method, "circle"), size=14, **colour),
            ))
    figure.update_layout(title="Runs: forget accuracy (left is better) vs neighbours kept (up is better)",
                         xaxis_title="forget facts still answered", yaxis_title="neighbours still answered",
                         xaxis_range=[-0.08, 1.08], yaxis_range=[-0.08, 1.15],   # room for a label at 1
                         legend=dict(orientation="h", y=-0.25), **{**LAYOUT, "margin": dict(LAYOUT["margin"], b=100)})
    # the legend below: at the top right it covered the colour bar's title
    return figure
