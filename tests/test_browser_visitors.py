"""Two visitors in two browser contexts on one app, and Stop in the middle of long work."""
from __future__ import annotations

import re
import time

import pytest
import torch
from safetensors.torch import load_file

from tests.browser import start_job, wait_finished
from tests.conftest import RUNS

pytestmark = pytest.mark.browser
FACT = "The Eiffel Tower is located in the city of | Eiffel Tower | Paris"


def _wait_text(page, selector: str, text: str, timeout: float = 600_000) -> None:
    page.wait_for_function("([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
                           arg=[selector, text], timeout=timeout)


def _set_number(page, selector: str, value: str) -> None:
    box = page.locator(f"{selector} input[type=number]").first
    box.fill(value)
    box.press("Enter")


def _generate(page, prompt: str) -> str:
    page.get_by_role("tab", name="Model").click()
    page.locator("#model-prompt textarea").fill(prompt)
    page.locator("#model-generate").click()
    # gradio's status tracker over the output is shown from the click (queued or running) until the answer is in
    busy = "() => document.querySelector('#model-continuation .wrap:not(.hide)')"
    try:
        page.wait_for_function(f"{busy} !== null", timeout=5_000)
    except Exception:  # noqa: BLE001 - a fast answer may already be back
        pass
    page.wait_for_function(f"{busy} === null", timeout=120_000)
    return page.locator("#model-continuation textarea").input_value()


def _forget(page, steps: str, wait: bool = True) -> None:
    page.get_by_role("tab", name="Forget").click()
    page.locator("#forget-source label", has_text="typed rows").click()
    page.locator("#forget-typed textarea").fill(FACT)
    _set_number(page, "#forget-steps", steps)
    start_job(page, "#forget-run", "#forget-message", "Ready|Step")   # a long estimate asks for a second click
    if wait:
        wait_finished(page, "#forget-message", "Done.")


def _export(page, name: str) -> None:
    page.get_by_role("tab", name="Export").click()
    page.locator("#export-path textarea, #export-path input").first.fill(name)
    page.locator("#export-run").click()
    _wait_text(page, "#export-message", "Bundle written")


def _health(url: str) -> dict:
    from gradio_client import Client

    return Client(url, verbose=False).predict(False, api_name="/health")


def test_two_visitors_see_their_own_model(browser, app_server, tmp_path):
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
    a, b = (context.new_page() for context in contexts)
    for page in (a, b):
        page.set_default_timeout(120_000)
        page.goto(app_server.url)
    prompt = "The Eiffel Tower is located in the city of"
    assert _generate(b, prompt).startswith(" Paris")
    _forget(a, "60")                                                    # a cap: it stops once forgotten
    assert "your edit" in a.locator("#forget-status").inner_text()
    assert not _generate(a, prompt).startswith(" Paris")                # A's model forgot
    assert _generate(b, prompt).startswith(" Paris")                    # B still sees the original
    b.get_by_role("tab", name="Forget").click()
    b.locator("#forget-reset").click()                                  # B's Reset does not touch A's edit
    _wait_text(b, "#forget-message", "original model is back")
    assert not _generate(a, prompt).startswith(" Paris")
    for page, runs in ((a, "1 run"), (b, "No runs yet")):               # each visitor's Runs tab lists their own
        page.get_by_role("tab", name="Runs").click()
        _wait_text(page, "#runs-message", runs, 60_000)
    page_a_number = a.locator("#runs-number input")
    a.wait_for_function("() => document.querySelector('#runs-number input')?.value === '1'", timeout=60_000)
    a.locator("#runs-apply").click()                                    # the number box starts at the newest run
    _wait_text(a, "#runs-message", "Run #1 is in effect again")
    assert page_a_number.input_value() == "1" and a.locator("#runs-scatter .js-plotly-plot").count() == 1
    _export(a, f"visitor-a-{tmp_path.name}")
    _export(b, f"visitor-b-{tmp_path.name}")
    weights_a = load_file(str(RUNS / f"visitor-a-{tmp_path.name}" / "model" / "model.safetensors"))
    weights_b = load_file(str(RUNS / f"visitor-b-{tmp_path.name}" / "model" / "model.safetensors"))
    edited = [n for n in weights_a if not torch.equal(weights_a[n], weights_b[n])]
    assert edited and all("mlp.down_proj" in n for n in edited)          # A's export holds A's edit, B's the original
    for context in contexts:
        context.close()


def test_stop_during_a_trace_and_during_forget(page, app_server):
    page.get_by_role("tab", name="Locate").click()
    start_job(page, "#locate-run", "#locate-status", "row|Tracing")      # all three kinds, 10 samples
    _wait_text(page, "#locate-status", "row")
    page.locator("#locate-stop").click()
    _wait_text(page, "#locate-status", "Stopped")
    started = time.perf_counter()
    assert _generate(page, "The capital of France is").startswith(" Paris")
    assert time.perf_counter() - started < 60 and _health(app_server.url)["hooks"] == 0
    _forget(page, "300", wait=False)
    _wait_text(page, "#forget-message", "Step ")
    page.locator("#forget-stop").click()
    _wait_text(page, "#forget-message", "Stopped run")                 # once the step in progress has ended
    said = page.locator("#forget-message").inner_text()
    assert "Error" not in said
    number, step = re.search(r"Stopped run (\d+) after step (\d+)/300", said).groups()
    page.get_by_role("tab", name="Runs").click()                        # the same step count as the message's
    _wait_text(page, "#runs-table", "stopped")
    cells = [c.strip() for c in page.locator("#runs-table").inner_text().split("\n") if c.strip()]
    mine = cells[cells.index("in effect") + 1:][:6]                     # the first run's row: run .. steps
    assert mine[0] == number and mine[4:6] == ["stopped", step], (mine, said)
    assert _generate(page, "The capital of Japan is").startswith(" Tokyo")
    assert _health(app_server.url)["hooks"] == 0
