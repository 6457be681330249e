"""Plotly figures from plain data (arrays, lists, dicts); no model, no widgets.

    >>> trace_heatmap(grid, tokens, (1, 3), "mlp", p_corrupt=0.02)     # (T, L) grid of p restored
    >>> layer_effect_curve(scores, window=(4, 7))
    >>> training_curves(step_records)                                  # list of dicts
    >>> drift_chart(layers, {"forget": d_f, "retain": d_r}, selected=[4, 5, 6])
    >>> pca_scatter(view.points)
    >>> eigen_spectrum(eigenvalues, threshold=1e-2)
    >>> evaluation_bars(result.table)
    >>> topk_bars([(" Paris", 0.77), (" the", 0.05)])
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

KIND_COLORS = {"hidden": "Purples", "mlp": "Greens", "attn": "Reds"}
KIND_LABELS = {"hidden": "hidden state", "mlp": "MLP", "attn": "attention"}
GROUP_COLORS = {"forget": "#d62728", "retain": "#1f77b4"}
LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50))


def token_labels(tokens: Sequence[str], subject_range: tuple[int, int] | None) -> list[str]:
    """Readable token labels, subject tokens marked with '*' (e.g. 'Eiffel*')."""
    start, end = subject_range if subject_range is not None else (0, 0)
    labels = []
    for i, token in enumerate(tokens):
        text = token.replace("\n", "\\n").strip() or repr(token)
        labels.append(f"{text}*" if start <= i < end else text)
    return labels


def trace_heatmap(
    grid: np.ndarray,
    tokens: Sequence[str],
    subject_range: tuple[int, int] | None,
    kind: str,
    p_corrupt: float | None = None,
    p_clean: float | None = None,
    title: str | None = None,
    value_label: str = "p",
) -> go.Figure:
    """Heatmap of p(answer) after restoring (token t, layer l): grid (T, L), NaN cells blank.

    Tokens run down the y axis (first at the top), layers along x; hover shows p and the effect
    p - p_corrupt when p_corrupt is given. For a grid of effects (e.g. averaged AIE rows), pass
    value_label="AIE" and no p_corrupt.
    """
    if kind not in KIND_COLORS:
        raise ValueError(f"kind must be one of {list(KIND_COLORS)}, got {kind!r}")
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 2 or grid.shape[0] != len(tokens):
        raise ValueError(f"grid must be (tokens, layers) = ({len(tokens)}, L), got {grid.shape}")
    effect = grid - p_corrupt if p_corrupt is not None else np.full_like(grid, np.nan)
    rows = np.arange(grid.shape[0])
    labels = token_labels(tokens, subject_range)
    # a grid still filling in (all NaN) gets a sensible scale instead of plotly's default around 0
    empty = value_label == "p" and not np.isfinite(grid).any()
    figure = go.Figure(go.Heatmap(
        z=grid, x=np.arange(grid.shape[1]), y=rows, colorscale=KIND_COLORS[kind],
        zmin=0.0 if empty else None, zmax=1.0 if empty else None, customdata=effect, text=[[label] * grid.shape[1] for label in labels],
        hoverongaps=False, colorbar=dict(title=value_label),
        hovertemplate=("layer %{x}<br>token %{text}<br>" + value_label + " = %{z:.4f}"
                       + ("<br>effect = %{customdata:.4f}" if p_corrupt is not None else "") + "<extra></extra>"),
    ))
    subtitle = ["* = subject token (noised)"] if subject_range is not None else []
    if p_clean is not None:
        subtitle.append(f"p clean {p_clean:.3f}")
    if p_corrupt is not None:
        subtitle.append(f"p corrupted {p_corrupt:.3f}")
    heading = title or f"Restoring the {KIND_LABELS[kind]}"
    figure.update_layout(
        title=dict(text=heading + (f"<br><sup>{', '.join(subtitle)}</sup>" if subtitle else ""), font=dict(size=15)),
        xaxis_title="layer", yaxis=dict(tickmode="array", tickvals=rows, ticktext=labels, autorange="reversed"),
        **LAYOUT,
    )
    return figure


def layer_effect_curve(
    scores: Sequence[float], window: tuple[int, int] | None = None, title: str = "Effect per layer",
    label: str = "AIE (MLP, last subject token)",
) -> go.Figure:
    """Line of a per-layer score; the chosen window [start, end) shaded."""
    scores = np.asarray(scores, dtype=float)
    figure = go.Figure(go.Scatter(x=np.arange(len(scores)), y=scores, mode="lines+markers", name=label))
    if window is not None:
        start, end = window
        figure.add_vrect(x0=start - 0.5, x1=end - 0.5, fillcolor="#2ca02c", opacity=0.15, line_width=0,
                         annotation_text=f"layers {start}-{end - 1}", annotation_position="top left")
    figure.update_layout(title=title, xaxis_title="layer", yaxis_title=label, **LAYOUT)
    return figure


def training_curves(records: Sequence[Mapping], keys: Sequence[str] | None = None, x: str = "step",
                    titles: Mapping[str, str] | None = None) -> go.Figure:
    """One panel per numeric key of the step records (loss, krd, accuracy, ...), shared x axis.

    `titles` maps keys to readable panel titles (default: the keys)."""
    if not records:
        raise ValueError("No step records to plot")
    frame = pd.DataFrame(list(records))
    if keys is None:
        keys = [k for k in frame.columns if k != x and pd.api.types.is_numeric_dtype(frame[k])]
    keys = [k for k in keys if k in frame.columns]
    if not keys:
        raise ValueError(f"None of the keys appear in the records; found {list(frame.columns)}")
    xs = frame[x] if x in frame.columns else pd.Series(range(len(frame)))
    names = [(titles or {}).get(k, k) for k in keys]
    figure = make_subplots(rows=len(keys), cols=1, shared_xaxes=True, subplot_titles=names)
    for row, key in enumerate(keys, start=1):
        points = frame[key].notna()
        figure.add_trace(go.Scatter(x=xs[points], y=frame[key][points], mode="lines+markers", name=names[row - 1]),
                         row=row, col=1)
        if key.endswith("_acc"):                 # a share: 0..1, not plotly's 0..2 around a constant 1
            figure.update_yaxes(range=[-0.02, 1.02], row=row, col=1)
    figure.update_layout(height=max(300, 180 * len(keys)), showlegend=False, **LAYOUT)
    figure.update_xaxes(title_text=x, row=len(keys), col=1)
    return figure


def drift_chart(
    layers: Sequence[int], series: Mapping[str, Sequence[float]], selected: Sequence[int] = (),
    metric: str = "1 - cos", style: str = "line",
) -> go.Figure:
    """Drift per layer for each named set (e.g. forget / retain); selected layers shaded."""
    if style not in ("line", "bar"):
        raise ValueError(f"style must be 'line' or 'bar', got {style!r}")
    figure = go.Figure()
    for name, values in series.items():
        color = GROUP_COLORS.get(name.split(" ")[0])
        if style == "bar":
            figure.add_trace(go.Bar(x=list(layers), y=list(values), name=name, marker_color=color))
        else:
            figure.add_trace(go.Scatter(x=list(layers), y=list(values), name=name, mode="lines+markers",
                                        line=dict(color=color)))
    for layer in selected:
        figure.add_vrect(x0=layer - 0.5, x1=layer + 0.5, fillcolor="#2ca02c", opacity=0.12, line_width=0)
    figure.update_layout(title=f"Representation drift ({metric})", xaxis_title="layer", yaxis_title=metric,
                         barmode="group", **LAYOUT)
    return figure


def pca_scatter(points: Mapping[str, np.ndarray], explained: tuple[float, float] | None = None,
                hover: Mapping[str, Sequence[str]] | None = None, title: str = "PCA of representations") -> go.Figure:
    """Scatter of groups of 2-D points ("forget (before)" ...): colour by set, open markers before; the forget
    points drawn last and larger (a few facts among many retain points stay visible)."""
    figure = go.Figure()
    for name, xy in sorted(points.items(), key=lambda item: item[0].startswith("forget")):
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        before = "before" in name
        figure.add_trace(go.Scatter(
            x=xy[:, 0], y=xy[:, 1], mode="markers", name=name,
            text=list(hover[name]) if hover and name in hover else None,
            marker=dict(color=GROUP_COLORS.get(name.split(" ")[0]), size=13 if name.startswith("forget") else 8,
                        symbol="circle-open" if before else "circle"),
        ))
    axis = (lambda i: f"PC{i + 1} ({explained[i]:.0%})") if explained else (lambda i: f"PC{i + 1}")
    figure.update_layout(title=title, xaxis_title=axis(0), yaxis_title=axis(1), **LAYOUT)
    return figure


def eigen_spectrum(eigenvalues: Sequence[float], threshold: float | None = None, title: str = "Key covariance spectrum") -> go.Figure:
    """Eigenvalues sorted large to small on a log axis; the null-space threshold as a line."""
    values = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
    shown = np.clip(values, np.finfo(float).tiny, None)  # log axis: zeros drawn at the floor
    figure = go.Figure(go.Scatter(x=np.arange(len(values)), y=shown, mode="lines", name="eigenvalue"))
    if threshold is not None:
        kept = int((values <= threshold).sum())
        figure.add_hline(y=threshold, line_dash="dash", line_color="#d62728",
                         annotation_text=f"threshold {threshold:.3g}: {kept} null directions")
    figure.update_layout(title=title, xaxis_title="index", yaxis_title="eigenvalue", yaxis_type="log", **LAYOUT)
    return figure


def evaluation_bars(table: pd.DataFrame, metric: str | None = None) -> go.Figure:
    """Grouped bars original vs unlearned from an evaluation table (set, metric, original, unlearned)."""
    missing = [c for c in ("set", "metric", "original", "unlearned") if c not in table.columns]
    if missing:
        raise ValueError(f"The table lacks columns {missing}")
    rows = table if metric is None else table[table["metric"] == metric]
    labels = [f"{s}: {m}" if metric is None else s for s, m in zip(rows["set"], rows["metric"])]
    labels = [label.replace(" (", "<br>(") for label in labels]          # "(held out)" on a line of its own
    figure = go.Figure([
        go.Bar(x=labels, y=rows["original"], name="original", marker_color="#7f7f7f"),
        go.Bar(x=labels, y=rows["unlearned"], name="unlearned", marker_color="#2ca02c"),
    ])
    figure.update_layout(title=metric or "Evaluation", barmode="group", yaxis_title=metric or "value", **LAYOUT)
    return figure


def topk_bars(top: Sequence[tuple[str, float]], highlight: str | None = None, title: str = "Next token") -> go.Figure:
    """Horizontal bars of (token, probability), most likely on top; `highlight` token in red."""
    tokens = [repr(t) for t, _ in top]
    colors = ["#d62728" if highlight is not None and t == highlight else "#1f77b4" for t, _ in top]
    figure = go.Figure(go.Bar(x=[p for _, p in top], y=tokens, orientation="h", marker_color=colors,
                              hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    figure.update_layout(title=title, xaxis_title="probability", yaxis=dict(autorange="reversed"), **LAYOUT)
    return figure
