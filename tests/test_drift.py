"""Representation drift: exactly zero when nothing changed, located where a weight changed."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kuda_core.inspect.drift import DriftConfig, drift_between, krd, layer_drift, pca_view
from kuda_core.model.hooks import hook_count
from kuda_core.model.snapshot import WeightSnapshot

FORGET = ["The Eiffel Tower is located in the city of", "The Colosseum is in", "The capital of France is"]
RETAIN = ["Water boils at one hundred", "The quick brown fox jumps over", "Microsoft was founded by"]
SUBJECTS = ["Eiffel Tower", "Colosseum", "France"]


def snapshot_and_edit(lm, layer: int, scale: float = 0.5) -> WeightSnapshot:
    name = lm.spec.mlp_out.format(layer) + ".weight"
    snap = WeightSnapshot.take(lm.model, [name])
    weight = dict(lm.model.named_parameters())[name]
    with torch.no_grad():
        weight.add_(scale * torch.randn(weight.shape, generator=torch.Generator().manual_seed(1)))
    return snap


def test_drift_between_by_hand():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    b = torch.tensor([[0.0, 1.0], [-1.0, 0.0], [3.0, 4.0]])
    cos, rel = drift_between(a, b)
    np.testing.assert_allclose(cos, [1.0, 2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(rel, [np.sqrt(2), 2.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("site", ["block", "mlp"])
def test_unchanged_model_has_exactly_zero_drift(tiny_lm, site):
    name = tiny_lm.spec.mlp_out.format(1) + ".weight"
    for snap in (None, WeightSnapshot.take(tiny_lm.model, [name])):
        result = layer_drift(tiny_lm, snap, FORGET, DriftConfig(site=site, batch_size=2))
        assert result.cosine.shape == (tiny_lm.n_layers,) and result.n_tokens > 0
        assert np.all(result.cosine == 0.0) and np.all(result.relative_l2 == 0.0)
        assert krd(tiny_lm, snap, FORGET, [0, 1, 2]) == 0.0
    assert hook_count(tiny_lm.model) == 0


def test_editing_one_layer_moves_that_layer_and_above(tiny_lm):
    snap = snapshot_and_edit(tiny_lm, layer=2)
    block = layer_drift(tiny_lm, snap, FORGET)
    assert np.all(block.cosine[:2] == 0.0) and np.all(block.relative_l2[:2] == 0.0)
    assert np.all(block.cosine[2:] > 0.0) and np.all(block.relative_l2[2:] > 0.0)
    mlp = layer_drift(tiny_lm, snap, FORGET, DriftConfig(site="mlp"))
    assert np.all(mlp.cosine[:2] == 0.0) and mlp.cosine[2] > 0.0
    assert krd(tiny_lm, snap, FORGET, [2]) == pytest.approx(mlp.cosine[2])
    assert krd(tiny_lm, snap, FORGET, [0, 1]) == 0.0
    assert krd(tiny_lm, snap, FORGET, [2], subjects=SUBJECTS) > 0.0
    assert snap.is_modified(tiny_lm.model)  # the edit is still in place


def test_position_selection_counts_tokens(tiny_lm):
    last = layer_drift(tiny_lm, None, FORGET, DriftConfig(positions="last"), layers=[0])
    assert last.n_tokens == len(FORGET)
    subject = layer_drift(tiny_lm, None, FORGET, DriftConfig(positions="subject"), layers=[0], subjects=SUBJECTS)
    assert len(FORGET) < subject.n_tokens
    everything = layer_drift(tiny_lm, None, FORGET, layers=[0])
    assert subject.n_tokens <= everything.n_tokens
    with pytest.raises(ValueError, match="subject"):
        layer_drift(tiny_lm, None, FORGET, DriftConfig(positions="subject"), layers=[0])
    with pytest.raises(ValueError, match="out of range"):
        layer_drift(tiny_lm, None, FORGET, layers=[tiny_lm.n_layers])
    for bad in (dict(site="attn"), dict(positions="first"), dict(batch_size=0)):
        with pytest.raises(ValueError):
            DriftConfig(**bad)


def test_pca_shares_one_basis(tiny_lm):
    same = pca_view(tiny_lm, None, FORGET, RETAIN, layer=2)
    assert set(same.points) == {"forget (before)", "forget (after)", "retain (before)", "retain (after)"}
    assert all(v.shape == (3, 2) for v in same.points.values())
    np.testing.assert_allclose(same.points["forget (before)"], same.points["forget (after)"])
    assert 0.0 < same.explained[0] <= 1.0
    snap = snapshot_and_edit(tiny_lm, layer=1, scale=2.0)
    moved = pca_view(tiny_lm, snap, FORGET, RETAIN, layer=2, fit_on="before")
    assert not np.allclose(moved.points["forget (before)"], moved.points["forget (after)"])
    # fitted on the original states only: the "before" points are those of the unedited model
    snap.restore(tiny_lm.model)
    reference = pca_view(tiny_lm, None, FORGET, RETAIN, layer=2, fit_on="before")
    for group in ("forget (before)", "retain (before)"):
        np.testing.assert_allclose(reference.points[group], moved.points[group], atol=1e-5)
    with pytest.raises(ValueError):
        pca_view(tiny_lm, None, FORGET, RETAIN, layer=2, fit_on="after")
