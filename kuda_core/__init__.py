"""KUDA engine: locate, forget and inspect knowledge in causal language models.

    >>> from kuda_core import load_model, Fact, trace, TraceConfig, suggest_layers
    >>> from kuda_core import UnlearnConfig, unlearn, iter_unlearn, evaluate, WeightSnapshot
    >>> lm = load_model("default")
    >>> mlp = trace(lm, "The Eiffel Tower is located in the city of", "Eiffel Tower", " Paris", TraceConfig(kind="mlp"))
    >>> layers = suggest_layers([mlp], size=3).layers

Packages follow the method: model (loading, hooks, snapshots, tokens), data (facts, readers,
splits), locate (causal tracing, layer suggestion), forget (the loop, methods, null space),
inspect (answers, metrics, drift, benchmarks), report (figures, bundles), workflows (what the
UI and the CLI share). The engine never imports gradio. `model.network` sets the offline
defaults before any Hugging Face library is imported; the names below load on first use.
"""
from importlib import import_module

from kuda_core.model import network as _network  # noqa: F401  (sets offline defaults first)

_PUBLIC = {
    "load_model": "kuda_core.model.loading",
    "LoadedModel": "kuda_core.model.loading",
    "WeightSnapshot": "kuda_core.model.snapshot",
    "Fact": "kuda_core.data.facts",
    "load_probes": "kuda_core.data.probes",
    "load_general_texts": "kuda_core.data.probes",
    "check_facts": "kuda_core.data.checks",
    "TraceConfig": "kuda_core.locate.config",
    "trace": "kuda_core.locate.tracing",
    "iter_trace": "kuda_core.locate.tracing",
    "suggest_layers": "kuda_core.locate.suggest",
    "UnlearnConfig": "kuda_core.forget.config",
    "unlearn": "kuda_core.forget.loop",
    "iter_unlearn": "kuda_core.forget.loop",
    "METHODS": "kuda_core.forget.methods",
    "evaluate": "kuda_core.inspect.evaluate",
    "iter_evaluate": "kuda_core.inspect.evaluate",
    "compare_answers": "kuda_core.inspect.compare",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    """Load a public name on first use (PEP 562), so `import kuda_core` stays light."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'kuda_core' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value
