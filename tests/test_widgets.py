"""Sliders and number boxes refuse an emptied or out-of-range value with a message naming the control."""
from __future__ import annotations

import gradio as gr
import pytest

from ui.widgets import Number, Slider


def test_an_emptied_slider_is_refused_by_name():
    samples = Slider(1, 20, value=10, step=1, label="Noise samples")
    with pytest.raises(gr.Error, match="Give a value for 'Noise samples'") as refused:
        samples.preprocess(None)
    assert refused.value.duration is None and not refused.value.print_exception   # stays; no traceback logged
    with pytest.raises(gr.Error, match="Noise samples: value 0 is less than the minimum 1"):
        samples.preprocess(0)
    with pytest.raises(gr.Error, match="Noise samples: value 21 is greater than the maximum 20"):
        samples.preprocess(21)
    assert samples.preprocess(7) == 7


def test_a_number_box_may_be_empty_but_not_out_of_range():
    noise = Number(value=0, minimum=0, label="Noise std")
    assert noise.preprocess(None) is None
    with pytest.raises(gr.Error, match="Noise std: value -1 is less than the minimum 0"):
        noise.preprocess(-1)
    assert Number(value=3, precision=0, label="n").preprocess(2.4) == 2


def test_the_browser_draws_them_as_gradios_own():
    assert Slider(1, 3, label="a").get_block_name() == "slider"
    assert Number(label="b").get_block_name() == "number"
