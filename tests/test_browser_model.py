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
