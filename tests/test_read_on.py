"""Reading on before a run stops: a forget fact whose continuation still says its answer is not forgotten.

On the default model "The Eiffel Tower is located in the city of" continues " Paris, France.": with the
answer " France" the first token is not the answer, but the text says it further on.
"""
from __future__ import annotations

import pytest

from kuda_core.data.checks import names_answer
from kuda_core.data.facts import Fact
from kuda_core.data.probes import load_probes
from kuda_core.forget import watch
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.loop import iter_unlearn
from kuda_core.forget.setup import build_context, trainable_names
from kuda_core.model.generation import greedy_batch
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.workflows.data import DataChoice, build_split

PROMPT = "The Eiffel Tower is located in the city of"
SAID_LATER = Fact(PROMPT, "Eiffel Tower", " France")
TEXTS = ["The capital of Japan is Tokyo.", "Water boils at one hundred degrees."]


def context(lm, read_on: int):
    config = UnlearnConfig.create("kuda", layers=(9, 10, 11), read_on=read_on, augment=())
    retain = [f for f in load_probes() if f.topic == "capitals"][:4]
    return build_context(lm, [SAID_LATER], retain, TEXTS, config, trainable_names(lm, config))


def test_config_bounds_the_tokens_read():
    assert UnlearnConfig().read_on == 20
    for bad in (-1, 257):
        with pytest.raises(ValueError, match="read_on"):
            UnlearnConfig(read_on=bad)


@pytest.mark.slow
def test_a_fact_said_further_on_is_not_forgotten(default_lm):
    assert greedy_batch(default_lm, [PROMPT], 20)[0].startswith(" Paris, France")
    ctx = context(default_lm, read_on=20)
    evaluation = watch.measure(ctx, retain=False)
    assert evaluation["forget_acc"] == 0.0                       # the first token is " Paris", not " France"
    assert not watch.stops(ctx, evaluation, step=10)            # ... but the text says France
    assert bool(ctx.still_answered[0])                          # so it is pushed again (remaining_only)
    assert watch.still_known(ctx, 10) == (PROMPT,)
    assert watch.read_on_note(ctx, 10) == "1 fact still says its answer further on in the text; "
    assert watch.still_known(ctx, 20) == ()                     # what was read at step 10 is not used at another

    first_token_only = context(default_lm, read_on=0)
    assert watch.stops(first_token_only, watch.measure(first_token_only, retain=False), step=10)


@pytest.mark.slow
def test_a_run_called_forgotten_no_longer_says_the_answer(default_lm):
    """The newcomer's fact on the default settings: whatever the numerics, "forgotten" and the text agree."""
    fact = Fact(PROMPT, "Eiffel Tower", " Paris")
    data = build_split(DataChoice(facts=(fact,)))
    snapshot = WeightSnapshot()
    records = list(iter_unlearn(default_lm, data.forget, data.retain_used, data.texts_used,
                                UnlearnConfig.create("kuda", layers=(9, 10, 11), steps=60), snapshot, data.neighbours))
    try:
        last, text = records[-1], greedy_batch(default_lm, [PROMPT], 20)[0]
        assert last.status == "done"
        if "forgotten after" in last.message:
            assert last.remaining == () and not names_answer(text, " Paris", PROMPT), text
        else:                                                   # the cap came first: the prompt is listed
            assert last.remaining == (PROMPT,), last.message
    finally:
        snapshot.restore(default_lm.model)
