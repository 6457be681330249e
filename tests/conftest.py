"""Shared fixtures: tiny in-memory models for both families, and the real default model."""
from __future__ import annotations

import os

os.environ.setdefault("KUDA_ONLINE", "0")

import pytest

import copy
import shutil
from pathlib import Path

import torch

from kuda_core.model.tiny import CORPUS, tiny_model

FAMILIES = ["gpt2", "llama"]
RUNS = Path(__file__).resolve().parents[1] / "artifacts" / "runs"      # the browser tests' app's runs folder
_TAUGHT: dict = {}


def taught_model(family: str):
    """A tiny model trained on the tiny corpus until it knows its facts (a fresh copy; training cached)."""
    if family not in _TAUGHT:
        lm = tiny_model(family)
        batch = lm.tokenizer(list(dict.fromkeys(CORPUS)), return_tensors="pt", padding=True)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        optimizer = torch.optim.Adam(lm.model.parameters(), lr=3e-3)
        for _ in range(60):
            lm.model(**batch, labels=labels).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        for p in lm.model.parameters():
            p.grad = None
        _TAUGHT[family] = lm
    return copy.deepcopy(_TAUGHT[family])


@pytest.fixture(params=FAMILIES)
def tiny_lm(request):
    """A fresh tiny random model of each family (function scope: tests may edit weights)."""
    return tiny_model(request.param)


@pytest.fixture(scope="session")
def default_lm():
    """The real default model (SmolLM2-135M-Instruct), loaded once per session."""
    from kuda_core.model.loading import load_model

    return load_model("default", device="cpu")


@pytest.fixture(scope="session")
def app_server():
    """The real app on the default model, started once for all browser tests."""
    from tests.browser import AppProcess, require_chromium

    require_chromium()
    shutil.rmtree(RUNS, ignore_errors=True)        # bundles of an earlier session would make exports collide
    app = AppProcess(["--runs-dir", str(RUNS)])
    yield app
    app.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_browser

    with sync_playwright() as playwright:
        instance = launch_browser(playwright)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, app_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(app_server.url)
    yield page
    context.close()
