"""The newcomer's story in the browser on the default model, on the defaults: locate, forget, compare, is it
really gone, evaluate, export."""
from __future__ import annotations

import re

import pytest

from tests.browser import screenshot, start_job, wait_finished
from tests.conftest import RUNS

pytestmark = pytest.mark.browser
FACT = "The Eiffel Tower is located in the city of | Eiffel Tower | Paris"


def _wait_text(page, selector: str, text: str, timeout: float = 600_000) -> None:
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
        arg=[selector, text], timeout=timeout,
    )


def _set_number(page, selector: str, value: str) -> None:
    box = page.locator(f"{selector} input[type=number]").first
    box.fill(value)
    box.press("Enter")


def test_locate_forget_compare_evaluate_export(page, tmp_path):
    # Locate as a newcomer: the defaults (the Eiffel Tower fact, three kinds, 10 samples, strongest subject token)
    page.get_by_role("tab", name="Forget").click()                           # before tracing: said to be untraced
    assert "not traced yet" in page.locator("#forget-layers").inner_text()
    page.get_by_role("tab", name="Locate").click()
    start_job(page, "#locate-run", "#locate-status", "row|Tracing")         # a long estimate asks for a second click
    _wait_text(page, "#locate-suggestion", "Suggested layers")
    for kind in ("hidden", "mlp", "attn"):
        assert page.locator(f"#heat-{kind} .js-plotly-plot").count() == 1, kind
    # on this model "iffel" carries the effect, not the last subject token: the tab says what that would suggest
    assert "Scoring at the last subject token would suggest" in page.locator("#locate-suggestion").inner_text()
    page.locator("#heat-mlp .js-plotly-plot").hover()  # plotly's modebar: the figure as a PNG
    assert page.locator("#heat-mlp .modebar-btn[data-title='Download plot as a PNG']").count() == 1
    # switching the scoring re-suggests from the same trace, without tracing again; then back to the default
    status_before = page.locator("#locate-status").inner_text()
    page.locator("#locate-token label", has_text="last subject token").click()
    _wait_text(page, "#locate-suggestion", "largest MLP effect at the last subject token", timeout=30_000)
    page.locator("#locate-token label", has_text="strongest subject token").click()
    _wait_text(page, "#locate-suggestion", "largest MLP effect at the strongest subject token", timeout=30_000)
    assert page.locator("#locate-status").inner_text() == status_before
    suggested = [box.get_attribute("value") for box in page.locator("#locate-layers input[type=checkbox]:checked").all()]
    assert len(suggested) == 3 and "p clean" in status_before
    screenshot(page, "story_1_locate")

    # Forget with its defaults: the traced fact, the suggested layers, KUDA until forgotten
    page.get_by_role("tab", name="Forget").click()
    assert "Eiffel Tower" in page.locator("#forget-typed textarea").input_value()
    carried = [box.get_attribute("value") for box in page.locator("#forget-layers input[type=checkbox]:checked").all()]
    assert carried == suggested and "carried over from Locate" in page.locator("#forget-layers").inner_text()
    start_job(page, "#forget-run", "#forget-message", "Ready|Step")
    wait_finished(page, "#forget-message", "Done.")
    message = page.locator("#forget-message").inner_text()
    assert "Forgotten after" in message and "Still answered:" not in message, message
    assert "further on" not in message, message         # read on before stopping: the text no longer says Paris
    assert page.locator("#forget-progress .js-plotly-plot").count() == 1       # p(answer) step by step
    assert "your edit" in page.locator("#forget-status").inner_text()
    screenshot(page, "story_2_forget")

    # Compare: the fact's answer changed, its neighbours (same relation, never trained on) did not
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-run").click()
    _wait_text(page, "#compare-summary", "Done.")
    summary = page.locator("#compare-summary").inner_text()
    assert "forget facts: 1 of 1 changed" in summary and "still says the answer further on" not in summary, summary
    neighbours = re.search(r"neighbours \(held out\): (\d+) of (\d+) changed", summary)
    assert neighbours and int(neighbours[2]) >= 5 and int(neighbours[1]) <= 1, summary
    table = page.locator("#compare-table").inner_text()
    assert "Eiffel Tower" in table and "London Eye" in table and "answer in text" in table
    # original and unlearned answers side by side, without scrolling the table sideways
    header = page.locator("#compare-table").get_by_text("unlearned", exact=True).first.bounding_box()
    assert header is not None and header["x"] + header["width"] <= page.viewport_size["width"], header
    screenshot(page, "story_3_compare")

    # Is it really gone? The attack table and the logit-lens heatmap, with numbers
    page.get_by_role("tab", name="Is it really gone?").click()
    _wait_text(page, "#gone-in-view", "Inspecting run 1")                   # which run the checks are on
    page.locator("#gone-run").click()
    _wait_text(page, "#gone-message", "Done.")
    attacks = page.locator("#gone-table").inner_text()
    assert "3-shot" in attacks and re.search(r"\d\.\d", attacks), attacks
    page.wait_for_selector("#gone-lens .js-plotly-plot", timeout=120_000)       # the heatmap renders after the text
    assert "rank" in (page.locator("#gone-lens").text_content() or "").lower()
    # one forgotten fact: relearning trains on facts of its relation, and its curve is drawn next to the control
    assert "facts of the forgotten fact's relation" in page.locator("#gone-message").inner_text()
    page.wait_for_selector("#gone-relearn .js-plotly-plot", timeout=120_000)
    assert "control" in (page.locator("#gone-relearn").text_content() or "")
    screenshot(page, "story_4_gone")

    # Evaluate: the table fills
    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#evaluate-run").click()
    _wait_text(page, "#evaluate-message", "Evaluated")
    assert "top-1 accuracy" in page.locator("#evaluate-table").inner_text()
    screenshot(page, "story_5_evaluate")

    # Every tab opened after Forget says the visitor's edit is in effect (not "original weights")
    page.get_by_role("tab", name="Model").click()
    _wait_text(page, "#model-info", "your edit", 60_000)

    # Export: a bundle folder with the model and the report
    page.get_by_role("tab", name="Export").click()
    _wait_text(page, "#export-status", "your edit", 60_000)
    target = RUNS / f"story-{tmp_path.name}"
    page.locator("#export-path textarea, #export-path input").first.fill(target.name)
    page.locator("#export-run").click()
    _wait_text(page, "#export-message", "Bundle written")
    assert (target / "model" / "model.safetensors").is_file()
    assert (target / "report.md").is_file() and (target / "run.json").is_file()
    screenshot(page, "story_6_export")
