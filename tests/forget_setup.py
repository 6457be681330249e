"""Tiny models taught a few facts, and the data the unlearning tests forget and retain on them.

    from tests.forget_setup import FAST, FORGET, RETAIN, TEXTS, TINY_KUDA, one_thread, probs, taught  # noqa: F401
(importing the fixtures `one_thread` (autouse) and `taught` makes a test module use them).
"""
from __future__ import annotations

import pytest
import torch

from kuda_core.data.checks import check_facts
from kuda_core.data.facts import Fact
from tests.conftest import taught_model

FORGET = [
    Fact("Microsoft was founded by", "Microsoft", " Bill"),
    Fact("The Eiffel Tower is located in the", "The Eiffel Tower", " city"),
]
RETAIN = [
    Fact("The quick brown fox jumps over the lazy", "quick brown fox", " dog"),
    Fact("Water boils at one hundred", "Water", " degrees"),
    Fact("The river flows through the old", "river", " town"),
    Fact("A cup of tea in the morning helps many", "cup of tea", " people"),
]
TEXTS = ["The capital of France is Paris. The capital of Japan is Tokyo.", "The official language of Brazil is Portuguese."]
FAST = dict(layers=(1, 2), lr=1e-2, eval_every=5, stop_at=None)
# The tiny taught models answer from the last token: KUDA pushes it too (the default model's defaults push the subject)
TINY_KUDA = {"forget_tokens": "subject+last", "beta": 10.0}


@pytest.fixture(autouse=True)
def one_thread():
    """One thread: fastest for tiny models, and 10x faster than two when the CPU is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=["gpt2", "llama"])
def taught(request):
    return taught_model(request.param)


def probs(lm, facts):
    return [c.prob for c in check_facts(lm, [f.prompt for f in facts], [f.answer for f in facts])]
