"""Offline by default: no hub, no analytics, unless the user opts in.

Import this module (kuda_core does it first) before transformers / huggingface_hub / gradio,
because those libraries read the variables at import time.

    >>> from kuda_core.network import set_online
    >>> set_online(True)      # before importing transformers, e.g. from a --online switch
"""
from __future__ import annotations

import os

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def is_online() -> bool:
    """True when the user opted in with KUDA_ONLINE=1 (or set_online(True))."""
    return os.environ.get("KUDA_ONLINE", "0").strip().lower() in ("1", "true", "yes", "on")


def set_online(online: bool) -> None:
    """Turn hub access on or off for this process (call before importing the HF libraries)."""
    os.environ["KUDA_ONLINE"] = "1" if online else "0"
    apply_network_defaults()


def apply_network_defaults() -> None:
    """Set the offline variables from KUDA_ONLINE; gradio analytics stay off either way."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    for name in OFFLINE_VARIABLES:
        os.environ[name] = "0" if is_online() else "1"
    try:  # huggingface_hub keeps its own copy once imported
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = not is_online()
    except Exception:  # noqa: BLE001 - not imported yet or layout changed: the variable is enough
        pass


apply_network_defaults()
