"""A tiny taught model served by the app's host, the Forget tab laid out for real, and typed rows to forget.

    from tests.ui_setup import TYPED, form_data, forget_form, no_progress, served  # noqa: F401
(importing the fixtures `served` and `forget_form` makes a test module use them).
"""
from __future__ import annotations

import gradio as gr
import pytest

from tests.conftest import taught_model
from kuda_core.workflows.visitor import Visitor

FACTS = "The Eiffel Tower is located in the city of | Eiffel Tower | Paris.\nThe capital of Japan is | Japan | Tokyo."


def no_progress(*args, **kwargs):
    return None


@pytest.fixture
def served(tmp_path):
    """A tiny Llama that knows the tiny corpus's facts (Forget has something to remove), saved to disk and served
    by the app's host, as app.py would serve a model folder."""
    from ui.session import HOST, calibrate

    lm = taught_model("llama")
    lm.model.save_pretrained(tmp_path / "tiny")
    lm.tokenizer.save_pretrained(tmp_path / "tiny")
    HOST.load(str(tmp_path / "tiny"), device="cpu")
    calibrate()
    return HOST


@pytest.fixture
def forget_form(served):
    """The Forget tab laid out for real; returns (data dict builder, handlers)."""
    from ui import forget_tab

    with gr.Blocks():
        visitor = gr.State(Visitor())
        layers = gr.CheckboxGroup([0, 1, 2, 3])
        form = forget_tab.build(visitor, layers)["form"]
    return form, forget_tab.make_handlers(form)


def form_data(form, visitor, **values) -> dict:
    """The dict gradio hands a handler: every widget's value (defaults, then `values`) plus the visitor."""
    data = {widget: getattr(widget, "value", None) for widget in form.widgets.values()}
    for name, value in values.items():
        data[form[name]] = value
    data[form["visitor"]] = visitor
    return data


RETAIN = ("The capital of France is | France | Paris\nBig Ben is in the city of | Big Ben | London\n"
          "The official language of Brazil is | Brazil | Portuguese\nWater boils at one hundred degrees.")
TYPED = dict(forget_source="typed rows", forget_typed=FACTS, retain_source="typed rows", retain_typed=RETAIN)
