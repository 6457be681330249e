"""Sliders and number boxes whose bad values get a message naming the control.

    >>> samples = Slider(1, 20, value=10, step=1, label="Noise samples")   # as gr.Slider
    >>> lr = Number(value=1e-3, label="Learning rate (Adam)")              # as gr.Number

gradio checks a slider's value before any handler runs. Emptied in the browser, a slider's number
box sends nothing, and gradio answered with its own internals ("Could not preprocess input
component at index 3 (a `slider` component) ... TypeError: '<' not supported ..."); out of range,
with "Value -1 is less than minimum value 0." without saying which control. These say
"Give a value for 'Noise samples'" and "Noise samples: value -1 is less than the minimum 0". The
app keeps serving either way. A number box may stay empty (its handler decides what empty means).
"""
from __future__ import annotations

import gradio as gr


def _refused(message: str) -> gr.Error:
    """The pop-up for a refused value: it stays until closed, and the server log gets no traceback for it."""
    return gr.Error(message, duration=None, print_exception=False)


def _named(component, payload, preprocess, empty_allowed: bool):
    label = component.label or "this value"
    if payload is None:
        if empty_allowed:
            return None
        raise _refused(f"Give a value for '{label}'")
    minimum, maximum = component.minimum, component.maximum
    if minimum is not None and payload < minimum:
        raise _refused(f"{label}: value {payload} is less than the minimum {minimum}")
    if maximum is not None and payload > maximum:
        raise _refused(f"{label}: value {payload} is greater than the maximum {maximum}")
    return preprocess(payload)


class Slider(gr.Slider):
    """gr.Slider; an emptied or out-of-range value is refused with the control's label."""

    is_template = True                     # the browser draws it as gradio's slider

    def preprocess(self, payload: float | None) -> float:
        return _named(self, payload, super().preprocess, empty_allowed=False)


class Number(gr.Number):
    """gr.Number; an out-of-range value is refused with the control's label (empty passes as None)."""

    is_template = True                     # the browser draws it as gradio's number box

    def preprocess(self, payload: float | None) -> float | int | None:
        return _named(self, payload, super().preprocess, empty_allowed=True)
