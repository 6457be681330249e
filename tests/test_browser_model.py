"""Browser test of the Model tab on the real default model."""
import pytest

from tests.browser import screenshot

pytestmark = pytest.mark.browser


def test_model_tab_answers_paris(page):
    page.get_by_text("SmolLM2-135M-Instruct").first.wait_for()
    prompt = page.locator("#model-prompt textarea")
    prompt.fill("The capital of France is")
    page.locator("#model-generate").click()
    answer = page.locator("#model-continuation textarea")
    page.wait_for_function(
        "() => document.querySelector('#model-continuation textarea').value.length > 0", timeout=60_000
    )
    assert answer.input_value().startswith(" Paris")
    page.locator(".js-plotly-plot").first.wait_for()
    assert page.locator("#model-info").inner_text().count("30") >= 1
    screenshot(page, "model_tab")


def test_refused_input_keeps_what_is_on_screen(page):
    """Typing over the picked fact clears the pick; a refused action pops up its reason and leaves the outputs
    as they were (no red "Error" badge over them)."""
    page.get_by_role("tab", name="Locate").click()
    picked = page.locator("#locate-fact input")
    assert "Eiffel Tower" in picked.input_value()
    page.locator("#locate-prompt textarea").fill("The capital of Japan is")
    page.wait_for_function("() => document.querySelector('#locate-fact input').value === ''", timeout=30_000)
    samples = page.locator("#locate-samples input[type=number]").first
    samples.fill("")                                      # an emptied slider box: refused by name, not by gradio
    samples.press("Tab")
    page.get_by_text("Give a value for 'Noise samples'").first.wait_for(timeout=30_000)
    assert page.get_by_text("Could not preprocess").count() == 0
    samples.fill("10")
    samples.press("Tab")

    page.get_by_role("tab", name="Evaluate").click()      # no run yet: the tab says so in place
    page.wait_for_function("() => (document.querySelector('#evaluate-in-view')?.innerText || '')"
                           ".includes('No Forget run in effect')", timeout=30_000)

    page.get_by_role("tab", name="Forget").click()        # gradio's slider clamped an emptied box to its minimum
    steps = page.locator("#forget-steps input[type=number]").first
    chosen = steps.input_value()
    steps.fill("")
    steps.press("Tab")
    assert steps.input_value() == "", "an emptied Steps box must stay empty, not become 1"
    page.locator("#forget-run").click()
    page.get_by_text("Give a value for 'Steps'").first.wait_for(timeout=30_000)
    assert "step 1/" not in page.locator("#forget-status").inner_text()
    steps.fill(chosen)
    steps.press("Tab")

    page.get_by_role("tab", name="Runs").click()
    page.wait_for_timeout(3000)                           # opening the tab refreshes the table and the number box
    page.locator("#runs-number input").fill("99")
    page.locator("#runs-number input").press("Tab")
    page.locator("#runs-apply").click()
    page.get_by_text("There is no run 99").first.wait_for(timeout=30_000)
    table = page.locator("#runs-table").inner_text()
    assert "Error" not in table and "layers" in table, table
    screenshot(page, "refused_input")
