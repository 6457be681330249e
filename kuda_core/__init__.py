"""KUDA engine: locate, forget and inspect knowledge in causal language models.

The engine never imports gradio. Import order matters: `network` sets the offline defaults
before any Hugging Face library is imported.
"""
from kuda_core import network as _network  # noqa: F401  (sets offline defaults first)

__all__ = ["network"]
