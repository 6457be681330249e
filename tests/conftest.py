"""Shared fixtures: tiny in-memory models for both families, and the real default model."""
from __future__ import annotations

import os

os.environ.setdefault("KUDA_ONLINE", "0")

import pytest

from kuda_core.tiny import tiny_model

FAMILIES = ["gpt2", "llama"]


@pytest.fixture(params=FAMILIES)
def tiny_lm(request):
    """A fresh tiny random model of each family (function scope: tests may edit weights)."""
    return tiny_model(request.param)


@pytest.fixture(scope="session")
def default_lm():
    """The real default model (SmolLM2-135M-Instruct), loaded once per session."""
    from kuda_core.models import load_model

    return load_model("default", device="cpu")
