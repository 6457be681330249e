"""Named widgets: handlers receive one dict and read values by name, never by position.

    >>> form = Form(steps=Slider(...), lr=Number(...))
    >>> button.click(handler, inputs=form.inputs | {visitor}, outputs=[...])
    >>> def handler(data): values = form.values(data); values["steps"]
    >>> option_widgets(KudaOptions, prefix="kuda.")      # one widget per option, labelled from its field
"""
from __future__ import annotations

import typing

import gradio as gr
from pydantic import BaseModel

from ui.widgets import Number, Slider


class Form:
    def __init__(self, **widgets) -> None:
        self.widgets: dict[str, gr.components.Component] = dict(widgets)

    def add(self, **widgets) -> None:
        self.widgets.update(widgets)

    @property
    def inputs(self) -> set:
        return set(self.widgets.values())

    def values(self, data: dict) -> dict:
        """{name: value} of the widgets present in a handler's input dict."""
        return {name: data[widget] for name, widget in self.widgets.items() if widget in data}

    def __getitem__(self, name: str):
        return self.widgets[name]


OPTION_WIDTH = 170   # px: a row of options wraps instead of squeezing a label to a few letters


def option_widgets(options: type[BaseModel], prefix: str = "") -> dict[str, gr.components.Component]:
    """One widget per field of a pydantic options model: Radio for choices, Checkbox for flags, Number else."""
    widgets = {}
    for name, info in options.model_fields.items():
        label, help_text, default = name, info.description or "", info.default
        choices = typing.get_args(info.annotation) if typing.get_origin(info.annotation) is typing.Literal else ()
        if choices:
            widget = gr.Radio(list(choices), value=default, label=label, info=help_text, min_width=OPTION_WIDTH)
        elif info.annotation is bool:
            widget = gr.Checkbox(value=default, label=label, info=help_text, min_width=OPTION_WIDTH)
        else:
            widget = Number(value=default, label=label, info=help_text, min_width=OPTION_WIDTH)
        widgets[prefix + name] = widget
    return widgets
