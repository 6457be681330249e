"""The method registry: every method honours each of its own options, and nothing else is accepted."""
from __future__ import annotations

import typing

import pytest
import torch

from kuda_core.data.checks import check_facts
from kuda_core.data.facts import Fact
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.loop import unlearn
from kuda_core.forget.methods import METHODS, REGISTRY
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.model.tiny import tiny_model
from kuda_core.run_config import RunConfig

FORGET = [Fact("The Eiffel Tower is located in the city of", "Eiffel Tower", " Paris"),
          Fact("The capital of Japan is", "Japan", " Tokyo")]
RETAIN = [Fact("The official language of Brazil is", "Brazil", " Portuguese"),
          Fact("Big Ben is in", "Big Ben", " London")]
TEXTS = ["Water boils at one hundred degrees at sea level.", "The river flows through the old town."]
METHOD_OPTIONS = [(m, o) for m in METHODS for o in REGISTRY[m].option_names]


def other_value(method: str, option: str):
    """A valid value of `option` different from its default."""
    info = REGISTRY[method].options.model_fields[option]
    choices = typing.get_args(info.annotation) if typing.get_origin(info.annotation) is typing.Literal else ()
    if choices:
        return next(c for c in choices if c != info.default)
    if info.annotation is bool:
        return not info.default
    if info.annotation is int:
        return info.default + 2
    upper = min([m.le for m in info.metadata if hasattr(m, "le")] or [1.0])
    return min(0.5, upper) if info.default in (0, 1) else info.default * 2


def one_fact_known(lm) -> list[Fact]:
    """FORGET with the first fact's answer made the untrained model's own top-1 (so it is "answered"),
    the second not: options that depend on which facts are answered (KUDA's remaining_only) act."""
    prompt = "The Eiffel Tower is in"                  # the untrained model's top token: " Colosseum"
    facts = [Fact(prompt, FORGET[0].subject, check_facts(lm, [prompt], [" x"])[0].top_token), FORGET[1]]
    assert [c.top1_ok for c in check_facts(lm, [f.prompt for f in facts], [f.answer for f in facts])] == [True, False]
    return facts


def trained_weights(method: str, **options) -> dict[str, torch.Tensor]:
    lm = tiny_model("llama")
    config = UnlearnConfig.create(method, layers=(1, 2), steps=3, lr=1e-2, tau=None, check_every=1, stop_at=None,
                                  **options)
    snapshot = WeightSnapshot()
    records = unlearn(lm, one_fact_known(lm), RETAIN, TEXTS, config, snapshot)
    assert records[-1].status == "done", records[-1].message
    params = dict(lm.model.named_parameters())
    return {name: params[name].detach().clone() for name in snapshot.originals}


@pytest.fixture(scope="module")
def default_runs():
    torch.set_num_threads(1)
    return {method: trained_weights(method) for method in METHODS}


@pytest.mark.parametrize("method, option", METHOD_OPTIONS)
def test_every_option_of_every_method_changes_the_run(default_runs, method, option):
    changed = trained_weights(method, **{option: other_value(method, option)})
    assert any(not torch.equal(changed[n], default_runs[method][n]) for n in changed), f"{method}.{option} had no effect"


@pytest.mark.parametrize("method", METHODS)
def test_settings_of_other_methods_are_refused(method):
    own = set(REGISTRY[method].option_names)
    foreign = sorted({o for m in METHODS for o in REGISTRY[m].option_names} - own)
    for option in foreign:
        with pytest.raises(ValueError, match=option):
            UnlearnConfig.create(method, **{option: 1.0})
        with pytest.raises(ValueError, match=option):
            RunConfig.from_dict({"forget": {"topics": ["capitals"], "method": method, option: 1.0}})
    for option in own:
        value = other_value(method, option)
        section = RunConfig.from_dict({"forget": {"topics": ["capitals"], "method": method, option: value}}).forget
        assert getattr(section.unlearn_config((1, 2)).options, option) == value


def test_methods_describe_themselves():
    assert METHODS[0] == "kuda" and set(METHODS) == {"kuda", "ga", "gd", "npo", "simnpo", "rmu"}
    for method in METHODS:
        spec = REGISTRY[method]
        assert spec.title and spec.description
        for name, info in spec.options.model_fields.items():
            assert info.description, f"{method}.{name} has no help text"


def test_defaults_are_the_settings_frozen_on_the_dev_topics():
    """What a user gets without touching a setting is what bench/dev_search.py chose and the test split measured."""
    import json
    from pathlib import Path

    frozen = json.loads((Path(__file__).resolve().parents[1] / "bench/results/frozen_settings.json").read_text())
    assert set(frozen) == set(METHODS)
    for method, settings in frozen.items():
        config = UnlearnConfig.create(method)
        for name, value in settings.items():
            actual = getattr(config.options, name) if hasattr(config.options, name) else getattr(config, name)
            expected = tuple(value) if isinstance(value, list) else value
            assert actual == expected, (method, name, actual, expected)
