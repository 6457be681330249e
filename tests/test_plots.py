"""Figures: the expected traces, colours, marks and axes from plain data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from kuda_core.report.plots import (
    drift_chart, eigen_spectrum, evaluation_bars, layer_effect_curve, pca_scatter, token_labels, topk_bars,
    trace_heatmap, training_curves,
)

TOKENS = ["<s>", "The", " Eiff", "el", " Tower", " is", " in"]


def test_trace_heatmap():
    grid = np.random.default_rng(0).random((len(TOKENS), 4))
    grid[0] = np.nan
    figure = trace_heatmap(grid, TOKENS, (2, 5), "mlp", p_corrupt=0.1, p_clean=0.8)
    assert isinstance(figure, go.Figure) and len(figure.data) == 1
    heat = figure.data[0]
    assert heat.type == "heatmap" and heat.colorscale[0][1] != heat.colorscale[-1][1]
    assert np.isnan(np.asarray(heat.z, dtype=float)[0]).all()
    np.testing.assert_allclose(np.asarray(heat.customdata, dtype=float)[1], grid[1] - 0.1)
    assert list(figure.layout.yaxis.ticktext) == ["<s>", "The", "Eiff*", "el*", "Tower*", "is", "in"]
    assert figure.layout.yaxis.autorange == "reversed"
    assert "effect" in heat.hovertemplate and "0.800" in figure.layout.title.text
    for kind, scale in (("hidden", "Purples"), ("attn", "Reds"), ("mlp", "Greens")):
        expected = go.Heatmap(colorscale=scale).colorscale
        assert trace_heatmap(grid, TOKENS, None, kind).data[0].colorscale == expected
    assert "effect" not in trace_heatmap(grid, TOKENS, None, "mlp", value_label="AIE").data[0].hovertemplate
    with pytest.raises(ValueError):
        trace_heatmap(grid, TOKENS, None, "embedding")
    with pytest.raises(ValueError):
        trace_heatmap(grid[:3], TOKENS, None, "mlp")


def test_token_labels_keep_duplicates_apart():
    assert token_labels([" the", " the", "\n"], (1, 2)) == ["the", "the*", "\\n"]


def test_layer_curve_and_training_curves():
    figure = layer_effect_curve([0.0, 0.1, 0.3, 0.2], window=(1, 3))
    assert figure.data[0].type == "scatter" and len(figure.layout.shapes) == 1
    assert figure.layout.shapes[0].x0 == 0.5 and figure.layout.shapes[0].x1 == 2.5
    records = [{"step": 0, "loss": np.nan, "krd": 0.0, "forget_acc": 1.0, "status": "start"},
               {"step": 1, "loss": 0.5, "krd": 0.2, "forget_acc": None, "status": "running"},
               {"step": 2, "loss": 0.3, "krd": 0.6, "forget_acc": 0.0, "status": "done"}]
    figure = training_curves(records)
    assert [t.name for t in figure.data] == ["loss", "krd", "forget_acc"]
    assert training_curves(records, ["krd"]).data[0].y[-1] == 0.6
    with pytest.raises(ValueError):
        training_curves([])
    with pytest.raises(ValueError):
        training_curves(records, ["missing"])


def test_drift_pca_spectrum():
    figure = drift_chart([0, 1, 2], {"forget": [0.0, 0.5, 0.7], "retain": [0.0, 0.01, 0.02]}, selected=[1])
    assert [t.name for t in figure.data] == ["forget", "retain"] and len(figure.layout.shapes) == 1
    assert drift_chart([0, 1], {"forget": [0, 1]}, style="bar").data[0].type == "bar"
    with pytest.raises(ValueError):
        drift_chart([0], {}, style="pie")
    points = {"forget (before)": np.zeros((3, 2)), "forget (after)": np.ones((3, 2)),
              "retain (before)": np.zeros((2, 2)), "retain (after)": np.zeros((2, 2))}
    figure = pca_scatter(points, (0.6, 0.2))
    assert len(figure.data) == 4 and figure.data[0].marker.symbol == "circle-open"
    assert figure.data[1].marker.symbol == "circle" and "60%" in figure.layout.xaxis.title.text
    assert [t.name for t in figure.data][2:] == ["forget (before)", "forget (after)"]      # on top, larger
    assert figure.data[-1].marker.size > figure.data[0].marker.size
    figure = eigen_spectrum([1e-6, 1.0, 0.0, 1e-2], threshold=1e-3)
    assert figure.layout.yaxis.type == "log" and list(figure.data[0].y)[0] == 1.0
    assert len(figure.layout.shapes) == 1 and figure.layout.shapes[0].y0 == 1e-3


def test_evaluation_and_topk_bars():
    table = pd.DataFrame([
        {"set": "forget", "metric": "top-1 accuracy", "original": 1.0, "unlearned": 0.0, "change": -1.0},
        {"set": "retain", "metric": "top-1 accuracy", "original": 0.9, "unlearned": 0.9, "change": 0.0},
        {"set": "general", "metric": "perplexity", "original": 20.0, "unlearned": 21.0, "change": 1.0},
    ])
    figure = evaluation_bars(table, "top-1 accuracy")
    assert [t.name for t in figure.data] == ["original", "unlearned"] and list(figure.data[0].x) == ["forget", "retain"]
    assert len(evaluation_bars(table).data[1].x) == 3
    with pytest.raises(ValueError):
        evaluation_bars(table.drop(columns=["unlearned"]))
    figure = topk_bars([(" Paris", 0.7), (" the", 0.1)], highlight=" Paris")
    bar = figure.data[0]
    assert bar.orientation == "h" and list(bar.x) == [0.7, 0.1] and bar.marker.color[0] != bar.marker.color[1]


def test_the_runs_scatter_draws_a_run_without_the_colour_value_in_grey():
    """A run that made no fact forgotten has no fluency: its marker is grey, not an error (the Runs tab then kept
    showing its old table, silently)."""
    from kuda_core.report.progress_plots import runs_scatter

    rows = [{"run": 1, "method": "kuda", "forget": 0.0, "neighbours": 1.0, "fluent": 0.0},
            {"run": 3, "method": "kuda", "forget": 1.0, "neighbours": 1.0, "fluent": None},
            {"run": 2, "method": "gd", "forget": 0.0, "neighbours": 0.2, "fluent": 0.5}]
    figure = runs_scatter(rows, "fluent")
    figure.to_json()                                                   # plotly validates every value
    by_name = {t.name: t for t in figure.data}
    assert set(by_name) == {"kuda", "kuda (no fluent)", "gd"}
    assert by_name["kuda (no fluent)"].marker.color == "lightgrey" and list(by_name["kuda (no fluent)"].text) == ["#3"]
    assert list(by_name["kuda"].marker.color) == [0.0]
    # one colour bar, and the legend below the plot: two methods' bars and the legend were stacked at the top right
    assert [t.marker.showscale for t in figure.data if t.marker.showscale is not None] == [True, False]
    assert figure.layout.legend.orientation == "h" and figure.layout.legend.y < 0


def test_the_lens_heatmap_boxes_each_run_of_edited_layers():
    """The edited layers were outlined in thin white lines that a visitor could not find on the yellow cells."""
    from kuda_core.report.progress_plots import lens_heatmap

    ranks = np.array([[9000, 50, 3, 1, 1, 2, 4, 8], [10, 20, 30, 40, 50, 60, 70, 80]], dtype=float)   # (F=2, L=8)
    figure = lens_heatmap(ranks, ["a", "b"], edited=(1, 2, 3, 6))
    boxes = [(shape.x0, shape.x1) for shape in figure.layout.shapes]
    assert boxes == [(0.5, 3.5), (5.5, 6.5)] and all(shape.line.color == "#e4002b" for shape in figure.layout.shapes)
    assert figure.data[0].customdata[0][0] == 9000                   # the hover reads the rank itself


def test_the_forget_plot_runs_to_the_latest_step_and_says_how_often_it_measures():
    """At step 5 the plot showed one point at step 0 on an axis from -1 to 1, as if the run had not started."""
    from kuda_core.report.progress_plots import forget_progress

    rows = [{"step": 0, "forget_prob": 0.7, "neighbour_prob": 0.66, "forget_acc": 1.0}] + [
        {"step": s, "forget_prob": None, "neighbour_prob": None, "forget_acc": None} for s in range(1, 6)]
    figure = forget_progress(rows, 0.0, check_every=10)
    assert tuple(figure.layout.xaxis.range) == (-0.5, 5.5)
    assert figure.layout.title.text == "Forgetting, step by step (measured every 10 steps)"
    assert [list(trace.x) for trace in figure.data] == [[0], [0], [0]]
