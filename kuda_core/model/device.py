"""The one place that picks a device and a dtype.

    >>> device, dtype = pick_device("auto")     # cuda -> bfloat16, mps / cpu -> float32
    >>> device, dtype = pick_device("cpu")
"""
from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def pick_device(requested: str = "auto") -> tuple[torch.device, torch.dtype]:
    """Return (device, dtype) for `requested` in DEVICE_CHOICES or a torch device string ("cuda:1")."""
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        if torch.cuda.is_available():
            requested = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            requested = "mps"
        else:
            requested = "cpu"
    kind = requested.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"Unknown device {requested!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("Device 'cuda' was requested but no CUDA GPU is available")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("Device 'mps' was requested but MPS is not available")
    dtype = torch.bfloat16 if kind == "cuda" else torch.float32
    return torch.device(requested), dtype


def model_device(model: torch.nn.Module) -> torch.device:
    """Device of the model's input embeddings (where input ids must go, also under device_map)."""
    return model.get_input_embeddings().weight.device


def gpu_memory_bytes() -> int:
    """Total memory of the first CUDA GPU, or 0 without one."""
    if not torch.cuda.is_available():
        return 0
    return torch.cuda.get_device_properties(0).total_memory
