"""Causal tracing: the fast path against the plain per-cell algorithm, invariants, validation."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from kuda_core.model.architectures import get_module
from tests.conftest import taught_model
from kuda_core.model.hooks import hook_count
from kuda_core.model.tiny import tiny_model
from kuda_core.locate.average import AVERAGE_ROWS, align_rows, average_trace
from kuda_core.locate.tracing import (
    KINDS,
    TraceConfig,
    embedding_noise_scale,
    iter_trace,
    iter_trace_reference,
    restore_layers,
    restored_probability,
    trace,
    trace_reference,
)

PROMPT, SUBJECT = "The Colosseum is in Rome", "Colosseum"


def sharpen(lm, factor: float = 30.0):
    """Scale the final norm so that a random tiny model has a peaked next-token distribution."""
    with torch.no_grad():
        get_module(lm.model, lm.spec.final_norm).weight.mul_(factor)
    return lm


@pytest.fixture(params=["gpt2", "llama"])
def sharp_lm(request):
    return sharpen(tiny_model(request.param))


def assert_same(fast, slow, tolerance=1e-4):
    assert fast.tokens == slow.tokens and fast.subject_range == slow.subject_range
    assert fast.answer_id == slow.answer_id
    assert fast.p_clean == pytest.approx(slow.p_clean, abs=tolerance)
    assert fast.p_corrupt == pytest.approx(slow.p_corrupt, abs=tolerance)
    assert not np.isnan(fast.scores).any() and not np.isnan(slow.scores).any()
    assert np.abs(fast.scores - slow.scores).max() < tolerance


# ---------------------------------------------------------------------------------------------


def test_config_validation():
    TraceConfig(kind="attn", samples=100, noise=0.5, window=1)
    for bad in [
        dict(kind="resid"), dict(samples=0), dict(samples=101), dict(samples=True), dict(samples=2.0),
        dict(noise=0.0), dict(noise=-1.0), dict(noise=math.nan), dict(noise_factor=0), dict(window=0),
        dict(seed="1"), dict(max_batch_tokens=0),
    ]:
        with pytest.raises(ValueError, match=next(iter(bad))):
            TraceConfig(**bad)


def test_restore_layers_windows():
    assert restore_layers("hidden", 7, 30) == (7,)
    assert restore_layers("mlp", 0, 30, 10, exclude_layer0=False) == tuple(range(0, 5))
    assert restore_layers("mlp", 0, 30, 10) == tuple(range(1, 5))
    assert restore_layers("mlp", 6, 30, 10) == tuple(range(1, 11))
    assert restore_layers("attn", 29, 30, 10) == tuple(range(24, 30))
    assert restore_layers("mlp", 5, 30, 3) == (4, 5, 6)
    assert restore_layers("mlp", 5, 30, 4) == (3, 4, 5, 6)
    assert restore_layers("mlp", 0, 30, 1) == ()
    assert restore_layers("mlp", 2, 4, 50) == (1, 2, 3)        # clipped to the depth


@pytest.mark.parametrize("kind", KINDS)
def test_fast_matches_reference(sharp_lm, kind):
    config = TraceConfig(kind=kind, samples=3, noise=0.1, window=3)
    fast = trace(sharp_lm, PROMPT, SUBJECT, config=config)
    slow = trace_reference(sharp_lm, PROMPT, SUBJECT, config=config)
    assert_same(fast, slow)
    assert fast.answer_is_prediction and fast.done and fast.rows_done == len(fast.tokens)
    assert fast.p_clean - fast.p_corrupt > 0.01            # the noise matters: the comparison is not vacuous
    assert np.nanstd(fast.scores) > 1e-3


@pytest.mark.parametrize("options", [
    dict(kind="mlp", window=2, exclude_layer0=False),
    dict(kind="attn", window=4, exclude_layer0=False, max_batch_tokens=1),   # one cell per forward pass
    dict(kind="mlp", window=1),                                            # empty window at layer 0
    dict(kind="hidden", max_batch_tokens=1),
    dict(kind="mlp", window=9),                                            # every window clipped
])
def test_fast_matches_reference_options(sharp_lm, options):
    config = TraceConfig(samples=2, noise=0.1, **options)
    prompt = "Big Ben is in London"
    assert_same(trace(sharp_lm, prompt, "Big Ben", config=config), trace_reference(sharp_lm, prompt, "Big Ben", config=config))


def test_given_answer_that_is_not_the_prediction(sharp_lm):
    config = TraceConfig(kind="hidden", samples=2, noise=0.1)
    greedy = trace(sharp_lm, PROMPT, SUBJECT, config=config)
    other = next(t for t in (" Paris", " the", " of", " Rome") if sharp_lm.tokenizer(t, add_special_tokens=False)["input_ids"][0] != greedy.answer_id)
    fast = trace(sharp_lm, PROMPT, SUBJECT, other, config)
    assert not fast.answer_is_prediction and fast.prediction == greedy.answer
    assert any("predicts" in w for w in fast.warnings)
    assert_same(fast, trace_reference(sharp_lm, PROMPT, SUBJECT, other, config))


def test_rows_before_the_subject_equal_p_corrupt(sharp_lm):
    prompt, subject = "The river flows through the old town", "old town"
    result = trace(sharp_lm, prompt, subject, config=TraceConfig(samples=2, noise=0.1))
    start = result.subject_range[0]
    assert start >= 3
    assert np.all(result.scores[:start] == result.p_corrupt)
    assert np.all(result.indirect_effect[:start] == 0)


def test_restoring_every_token_of_one_layer_gives_p_clean(sharp_lm):
    config = TraceConfig(kind="hidden", samples=3, noise=0.1)
    result = trace(sharp_lm, PROMPT, SUBJECT, config=config)
    everything = range(len(result.tokens))
    for layer in range(sharp_lm.n_layers):
        p = restored_probability(sharp_lm, PROMPT, SUBJECT, config=config, tokens=everything, layers=[layer])
        assert p == pytest.approx(result.p_clean, abs=1e-5)
    nothing = restored_probability(sharp_lm, PROMPT, SUBJECT, config=config)
    assert nothing == pytest.approx(result.p_corrupt, abs=1e-6)
    with pytest.raises(ValueError, match="layer 9"):
        restored_probability(sharp_lm, PROMPT, SUBJECT, config=config, tokens=[0], layers=[9])


def test_last_token_hidden_row_at_the_last_layer_is_p_clean(sharp_lm):
    result = trace(sharp_lm, PROMPT, SUBJECT, config=TraceConfig(samples=2, noise=0.1))
    assert result.scores[-1, -1] == pytest.approx(result.p_clean, abs=1e-5)
    assert np.allclose(result.scores[:-1, -1], result.p_corrupt, atol=1e-6)  # restoring a last-layer state elsewhere does nothing


@pytest.mark.parametrize("iterate", [iter_trace, iter_trace_reference])
def test_streaming_and_early_close_leave_no_hooks(iterate):
    lm = tiny_model("llama")
    stream = iterate(lm, PROMPT, SUBJECT, config=TraceConfig(kind="mlp", samples=2, noise=0.1, window=2))
    first = next(stream)
    assert hook_count(lm.model) == 0                  # nothing stays on the model between rows
    assert first.rows_done == 1 and not first.done
    assert np.isnan(first.scores[1:]).all() and not np.isnan(first.scores[0]).any()
    second = next(stream)
    assert second.rows_done == 2 and np.isnan(first.scores[1:]).all()   # yielded grids are copies
    stream.close()
    assert hook_count(lm.model) == 0


def test_input_validation():
    lm = tiny_model("gpt2")
    config = TraceConfig(samples=1, noise=0.1)
    with pytest.raises(ValueError, match="empty"):
        trace(lm, "   ", "x", config=config)
    with pytest.raises(LookupError, match="does not occur"):
        trace(lm, PROMPT, "Eiffel", config=config)
    with pytest.raises(ValueError, match="tokenizes to nothing"):
        trace(lm, PROMPT, SUBJECT, "", config)
    with pytest.raises(ValueError, match="context"):
        trace(lm, "The Colosseum is in Rome. " * 40, SUBJECT, config=config)
    stream = iter_trace(lm, PROMPT, "Eiffel", config=config)   # errors surface on the first next()
    with pytest.raises(LookupError):
        next(stream)
    assert hook_count(lm.model) == 0


def test_window_larger_than_depth_is_clipped_with_a_warning(sharp_lm):
    wide = trace(sharp_lm, PROMPT, SUBJECT, config=TraceConfig(kind="mlp", samples=2, noise=0.1, window=50))
    assert any("exceeds the depth" in w for w in wide.warnings)
    # every window covers layers 1..L-1, so every layer of a row has the same value
    assert np.allclose(wide.scores, wide.scores[:, :1])


def test_embedding_noise_scale_is_factor_times_std_and_cached():
    lm = tiny_model("gpt2")
    ids = [i for s in ("Colosseum", "Big Ben") for i in lm.tokenizer(s, add_special_tokens=False)["input_ids"]]
    std = lm.model.get_input_embeddings().weight[ids].std().item()
    assert embedding_noise_scale(lm, ["Colosseum", "Big Ben"]) == pytest.approx(3 * std, rel=1e-5)
    assert embedding_noise_scale(lm, ["Colosseum", "Big Ben"], factor=1.0) == pytest.approx(std, rel=1e-5)
    with torch.no_grad():                             # a changed embedding is measured again
        lm.model.get_input_embeddings().weight.mul_(2)
    assert embedding_noise_scale(lm, ["Colosseum", "Big Ben"]) == pytest.approx(6 * std, rel=1e-5)
    with pytest.raises(ValueError):
        embedding_noise_scale(lm, [" "])
    result = trace(lm, PROMPT, SUBJECT, config=TraceConfig(samples=1), noise_subjects=["Big Ben"])
    assert result.noise == pytest.approx(embedding_noise_scale(lm, ["Big Ben"]))


def test_align_rows_follows_rome_average_figure():
    grid = np.arange(8 * 2, dtype=float).reshape(8, 2)   # tokens 0..7, subject 1..4
    rows = align_rows(grid, (1, 4))
    assert rows.shape == (len(AVERAGE_ROWS), 2)
    assert rows[0].tolist() == grid[1].tolist()                      # first subject token
    assert rows[1].tolist() == grid[2].tolist()                      # middle subject tokens
    assert rows[2].tolist() == grid[3].tolist()                      # last subject token
    assert rows[3].tolist() == grid[4].tolist()                      # first subsequent token
    assert rows[4].tolist() == grid[5:7].mean(0).tolist()            # further tokens
    assert rows[5].tolist() == grid[7].tolist()                      # last token
    short = align_rows(grid[:3], (1, 2))                             # one subject token, then the last token
    assert np.isnan(short[1]).all() and np.isnan(short[4]).all()
    assert short[0].tolist() == short[2].tolist() == grid[1].tolist()


@pytest.mark.filterwarnings("ignore:Mean of empty slice")
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_average_trace_reports_facts_the_model_does_not_predict(family):
    sharp_lm = taught_model(family)                     # knows the tiny corpus (" Bill", " degrees", ...)
    config = TraceConfig(samples=2, noise=0.1, window=2)
    facts = [("Microsoft was founded by", "Microsoft", " Bill"),
             ("Water boils at one hundred", "Water", "degrees")]   # no leading space: added when scored
    wrong = (facts[0][0], facts[0][1], " Rome")
    facts.append(wrong)
    average = average_trace(sharp_lm, facts, config, kinds=("hidden", "mlp"))
    assert [s.answer for s in average.skipped] == [wrong[2]]
    assert average.kinds == ("hidden", "mlp") and average.row_labels == AVERAGE_ROWS
    for kind in average.kinds:
        assert average.effects[kind].shape == (6, sharp_lm.n_layers)
        assert len(average.results[kind]) == 2
        assert average.counts[kind][0] == 2 and average.counts[kind][5] == 2
        expected = np.nanmean([align_rows(r.indirect_effect, r.subject_range) for r in average.results[kind]], axis=0)
        assert np.allclose(average.effects[kind], expected, equal_nan=True)


# --------------------------------------------------------------------------------------------- slow


@pytest.fixture
def one_thread():
    """The reference makes many small passes: on shared cores one thread avoids stalls between threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_fast_matches_reference_on_the_default_model(default_lm, one_thread):
    # the reference costs one pass per cell (~0.2 s each on one core, bound by reading the weights):
    # compare the three subject rows of each kind (270 passes); the tiny models cover whole grids
    prompt, subject, rows = "Eiffel Tower is in", "Eiffel Tower", 3
    for kind in KINDS:
        config = TraceConfig(kind=kind, samples=3)
        fast = trace(default_lm, prompt, subject, " Paris", config, noise_subjects=[subject])
        stream = iter_trace_reference(default_lm, prompt, subject, " Paris", config, noise_subjects=[subject])
        slow = list(itertools.islice(stream, rows))[-1]
        stream.close()
        assert fast.subject_range == slow.subject_range == (0, rows)
        assert fast.p_clean == pytest.approx(slow.p_clean, abs=1e-4)
        assert fast.p_corrupt == pytest.approx(slow.p_corrupt, abs=1e-4)
        assert np.abs(fast.scores[:rows] - slow.scores[:rows]).max() < 1e-4
        assert np.allclose(fast.scores[:rows], slow.scores[:rows], rtol=1e-3, atol=1e-7)   # small p too
        assert fast.p_clean - fast.p_corrupt > 0.05


@pytest.mark.slow
def test_eiffel_tower_mlp_effect_peaks_at_the_subject_in_early_middle_layers(default_lm):
    result = trace(default_lm, "The Eiffel Tower is located in the city of", "Eiffel Tower", " Paris",
                   TraceConfig(kind="mlp", samples=10))
    assert result.answer_is_prediction and result.p_clean > 0.5 and result.p_corrupt < 0.1
    effect = result.indirect_effect
    token, layer = np.unravel_index(np.argmax(effect), effect.shape)
    start, end = result.subject_range
    assert start <= token < end                                   # a subject token
    assert 1 <= layer < default_lm.n_layers // 2                  # early-middle layers
    assert effect[token, layer] > 0.1
    assert effect[-1].max() < effect[token, layer] / 2            # the last token's MLPs matter much less
