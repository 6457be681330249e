"""Layer scores and window suggestion (pure numpy)."""
import numpy as np
import pytest

from kuda_core.locate.suggest import layer_scores, other_token_note, suggest_window, suggestions_by_token


def test_layer_scores_last_and_strongest_subject_token():
    grid = np.zeros((5, 6))
    grid[1, 2] = 0.5   # first subject token
    grid[2, 4] = 0.3   # last subject token
    grid[4, 5] = 0.9   # last prompt token: not a subject token
    assert layer_scores([grid], [(1, 3)]).tolist() == [0, 0, 0, 0, 0.3, 0]
    assert layer_scores([grid], [(1, 3)], token="strongest").tolist() == [0, 0, 0.5, 0, 0.3, 0]
    other = np.zeros((4, 6))
    other[1, 4] = 0.1
    assert np.allclose(layer_scores([grid, other], [(1, 3), (0, 2)]), [0, 0, 0, 0, 0.2, 0])


def test_layer_scores_treats_unfinished_cells_as_zero_and_validates():
    grid = np.full((3, 4), np.nan)
    grid[1] = [0.1, 0.2, 0.3, 0.4]
    assert layer_scores([grid], [(0, 2)]).tolist() == [0.1, 0.2, 0.3, 0.4]
    with pytest.raises(ValueError, match="token must be"):
        layer_scores([grid], [(0, 2)], token="first")
    with pytest.raises(ValueError, match="does not fit"):
        layer_scores([grid], [(2, 5)])
    with pytest.raises(ValueError, match="one subject range"):
        layer_scores([grid], [])
    with pytest.raises(ValueError, match="different layer counts"):
        layer_scores([grid, np.zeros((3, 5))], [(0, 1), (0, 1)])


def test_suggest_window_picks_largest_total_and_skips_layer0():
    scores = [0.9, 0.1, 0.2, 0.6, 0.5, 0.4, 0.0]
    assert suggest_window(scores, 3).layers == (3, 4, 5)
    assert suggest_window(scores, 3).total == pytest.approx(1.5)
    assert suggest_window(scores, 1, exclude_layer0=False).layers == (0,)
    assert suggest_window(scores, 1).layers == (3,)
    assert suggest_window([0.0] * 6, 2).layers == (1, 2)  # ties: earliest allowed window
    assert suggest_window(scores, 6).layers == (1, 2, 3, 4, 5, 6)
    with pytest.raises(ValueError, match="does not fit"):
        suggest_window(scores, 7)
    with pytest.raises(ValueError, match="positive integer"):
        suggest_window(scores, 0)


def test_other_token_note_names_the_strongest_window_when_last_token_is_weak():
    # token 1 (middle of the subject) carries the effect at layers 1-2; the last subject token (2)
    # only a little at layer 4, as for "E|iffel|Tower" on the default model
    grid = np.zeros((4, 6))
    grid[1, 1:3] = [0.4, 0.3]
    grid[2, 4] = 0.05
    by_token = suggestions_by_token([grid], [(1, 3)], size=2)
    assert by_token["last"].layers in {(3, 4), (4, 5)}
    assert by_token["strongest"].layers == (1, 2)
    note = other_token_note(by_token, "last")
    assert "layers 1, 2" in note and "0.700" in note and "better choice" in note
    back = other_token_note(by_token, "strongest")
    assert "last subject token" in back and "better choice" not in back
    with pytest.raises(ValueError, match="chosen"):
        other_token_note(by_token, "first")


def test_other_token_note_is_none_when_both_scorings_agree():
    grid = np.zeros((3, 5))
    grid[1, 2:4] = [0.5, 0.5]  # single-token subject: both scorings read row 1
    by_token = suggestions_by_token([grid], [(1, 2)], size=2)
    assert by_token["last"].layers == by_token["strongest"].layers == (2, 3)
    assert other_token_note(by_token, "last") is None


def test_trace_estimate_scales_with_the_work_and_learns_from_runs(tiny_lm):
    from kuda_core.locate.estimate import TraceTimeEstimator

    estimator = TraceTimeEstimator()
    prompt, subject = "The Eiffel Tower is located in the city of", "Eiffel Tower"
    with pytest.raises(LookupError):
        estimator.estimate(tiny_lm, prompt, subject, ("mlp",), 3)
    assert estimator.calibrate(tiny_lm) > 0
    one = estimator.estimate(tiny_lm, prompt, subject, ("mlp",), 3)
    assert estimator.estimate(tiny_lm, prompt, subject, ("mlp",), 7) == pytest.approx(2 * one)     # 1 + samples rows
    assert estimator.estimate(tiny_lm, prompt, subject, ("mlp", "attn"), 3) == pytest.approx(2 * one)
    assert estimator.estimate(tiny_lm, prompt, "city", ("mlp",), 3) < one      # a later subject: fewer rows to run
    estimator.record(estimated=one, actual=4 * one)                           # slower than thought: estimates grow
    assert estimator.estimate(tiny_lm, prompt, subject, ("mlp",), 3) == pytest.approx(one * 4 ** 0.7)


def test_a_weak_trace_is_said_to_give_an_unreliable_suggestion():
    from kuda_core.locate.suggest import weak_trace_note

    assert weak_trace_note(p_clean=0.70, p_corrupt=0.04) is None                   # the Eiffel Tower fact
    assert "unreliable" in weak_trace_note(p_clean=0.29, p_corrupt=0.25)           # hiding the subject keeps most of p
    assert "0.07 to 0.01" in weak_trace_note(p_clean=0.069, p_corrupt=0.005)       # a fact the model hardly gives
