"""Gradio user interface: one module per tab, wired together in app.py. Never touches tensors."""
