"""The whole story in the browser on the default model: locate, forget, compare, evaluate, export."""
from __future__ import annotations

import pytest

from tests.browser import screenshot
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
    # Locate: the MLP trace fills in, the layers are suggested; Stop cancels a longer trace
    page.get_by_role("tab", name="Locate").click()
    _set_number(page, "#locate-samples", "3")
    page.locator("#locate-kinds label", has_text="hidden").click()
    page.locator("#locate-kinds label", has_text="attn").click()
    page.locator("#locate-run").click()
    _wait_text(page, "#locate-suggestion", "Suggested layers")
    assert page.locator("#heat-mlp .js-plotly-plot").count() == 1
    # on this model "iffel" carries the effect, not the last subject token: the tab says so
    assert "strongest subject token would suggest" in page.locator("#locate-suggestion").inner_text()
    page.locator("#heat-mlp .js-plotly-plot").hover()  # plotly's modebar: the figure as a PNG
    assert page.locator("#heat-mlp .modebar-btn[data-title='Download plot as a PNG']").count() == 1
    # switching the scoring re-suggests from the same trace, without tracing again
    status_before = page.locator("#locate-status").inner_text()
    page.locator("#locate-token label", has_text="strongest subject token").click()
    _wait_text(page, "#locate-suggestion", "largest MLP effect at the strongest subject token", timeout=30_000)
    assert page.locator("#locate-status").inner_text() == status_before
    assert page.locator("#locate-layers input[type=checkbox]:checked").count() == 3
    assert "p clean" in page.locator("#locate-status").inner_text()
    screenshot(page, "story_1_locate")

    # Forget: a typed fact, short KUDA run on the suggested layers; curves and an EDITED status
    page.get_by_role("tab", name="Forget").click()
    page.locator("#forget-source label", has_text="typed rows").click()
    page.locator("#forget-typed textarea").fill(FACT)
    # the suggestion was carried over; choose early-middle layers instead (the user may override)
    checked = page.locator("#forget-layers input[type=checkbox]:checked")
    while checked.count():
        checked.first.uncheck()
    for layer in ("4", "5", "6"):
        page.locator("#forget-layers label", has_text=layer).first.check()
    _set_number(page, "#forget-steps", "30")
    page.locator("#forget-run").click()
    _wait_text(page, "#forget-message", "done")
    assert page.locator("#forget-curves .js-plotly-plot").count() == 1
    assert "your edit" in page.locator("#forget-status").inner_text()
    screenshot(page, "story_2_forget")

    # Compare: the forgotten fact's answer changed
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-run").click()
    _wait_text(page, "#compare-summary", "Done.")
    summary = page.locator("#compare-summary").inner_text()
    assert "forget facts: 1 of 1 changed" in summary, summary
    table = page.locator("#compare-table").inner_text()
    assert "Eiffel Tower" in table and "Paris" in table
    # original and unlearned answers side by side, without scrolling the table sideways
    header = page.locator("#compare-table").get_by_text("unlearned", exact=True).first.bounding_box()
    assert header is not None and header["x"] + header["width"] <= page.viewport_size["width"], header
    screenshot(page, "story_3_compare")

    # Evaluate: the table fills
    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#evaluate-run").click()
    _wait_text(page, "#evaluate-message", "Evaluated")
    assert "top-1 accuracy" in page.locator("#evaluate-table").inner_text()
    screenshot(page, "story_4_evaluate")

    # Export: a bundle folder with the model and the report
    page.get_by_role("tab", name="Export").click()
    target = RUNS / f"story-{tmp_path.name}"
    page.locator("#export-path textarea, #export-path input").first.fill(target.name)
    page.locator("#export-run").click()
    _wait_text(page, "#export-message", "Bundle written")
    assert (target / "model" / "model.safetensors").is_file()
    assert (target / "report.md").is_file() and (target / "run.json").is_file()
    screenshot(page, "story_5_export")
