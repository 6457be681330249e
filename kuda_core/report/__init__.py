"""Figures and files: plotly figures from plain data, and run bundles.

    plots   heatmaps, curves, drift, PCA, spectra, evaluation bars (no model, no widgets)
    bundle  export a run as one folder (model, run.json, metrics, figures, report) and load it back
"""
