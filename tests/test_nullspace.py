"""Relaxed null-space projector: algebra, low-rank form, step projection, cache."""
from __future__ import annotations

import pytest
import torch

from kuda_core.forget import nullspace as ns


def low_rank_keys(n=40, d=64, rank=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, rank, generator=g, dtype=torch.float64) @ torch.randn(rank, d, generator=g, dtype=torch.float64)


def spectrum_of(keys):
    acc = ns.KeyCovariance(keys.shape[1])
    acc.add(keys)
    return ns.eigen(acc.covariance(), acc.count)


def test_covariance_matches_definition():
    keys = low_rank_keys()
    acc = ns.KeyCovariance(64)
    acc.add(keys[:10])
    acc.add(keys[10:].float())
    assert acc.count == 40
    assert torch.allclose(acc.covariance(), keys.T @ keys / 40, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 64\)"):
        acc.add(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="empty"):
        ns.KeyCovariance(4).covariance()


def test_projector_symmetric_idempotent_annihilates_keys():
    keys = low_rank_keys()
    p = ns.relaxed_projector(spectrum_of(keys), tau=1e-10)
    assert torch.allclose(p, p.T, atol=1e-12)
    assert torch.allclose(p @ p, p, atol=1e-10)
    assert (keys @ p).abs().max() <= 1e-8 * keys.abs().max()
    assert torch.linalg.matrix_rank(p).item() == 64 - 12


def test_gamma_leak_and_tau_modes():
    spectrum = spectrum_of(low_rank_keys())
    assert torch.allclose(ns.relaxed_projector(spectrum, 1e-10, gamma=1.0), torch.eye(64, dtype=torch.float64), atol=1e-10)
    half = ns.relaxed_projector(spectrum, 1e-10, gamma=0.5)
    strict = ns.relaxed_projector(spectrum, 1e-10)
    assert torch.allclose(half, strict + 0.5 * (torch.eye(64, dtype=torch.float64) - strict), atol=1e-12)
    relative = ns.relaxed_projector(spectrum, 0.05)
    absolute = ns.relaxed_projector(spectrum, 0.05 * float(spectrum.values.max()), tau_mode="absolute")
    assert torch.allclose(relative, absolute)
    assert ns.null_fraction(spectrum, 1.0) == 1.0          # τ = λ_max: everything is free
    with pytest.raises(ValueError, match="sideways"):
        ns.relaxed_projector(spectrum, 0.1, tau_mode="sideways")
    with pytest.raises(ValueError, match="1.5"):
        ns.relaxed_projector(spectrum, 0.1, gamma=1.5)
    with pytest.raises(ValueError, match="-1"):
        ns.null_mask(spectrum, -1.0)


@pytest.mark.parametrize("tau", [1e-10, 0.5])      # null side small / large: both low-rank forms
@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_low_rank_projector_matches_dense(tau, gamma):
    spectrum = spectrum_of(low_rank_keys())
    dense = ns.relaxed_projector(spectrum, tau, gamma=gamma)
    low = ns.low_rank_projector(spectrum, tau, gamma=gamma)
    assert torch.allclose(low.matrix(), dense, atol=1e-5)
    delta = torch.randn(7, 64)
    assert torch.allclose(ns.project_step(delta, low, transposed=False), (delta.double() @ dense).float(), atol=1e-4)
    assert torch.allclose(ns.project_step(delta.T, low, transposed=True), (dense @ delta.T.double()).float(), atol=1e-4)


def test_project_step_linear_and_conv1d_keep_retained_outputs():
    keys = low_rank_keys().float()                        # (N, in)
    p = ns.relaxed_projector(spectrum_of(keys.double()), tau=1e-10)
    delta_linear = torch.randn(8, 64)                      # nn.Linear weight change (out, in)
    projected = ns.project_step(delta_linear, p, transposed=False)
    assert (keys @ projected.T).abs().max() < 1e-3 * (keys @ delta_linear.T).abs().max()
    delta_conv = torch.randn(64, 8)                        # Conv1D weight change (in, out)
    projected = ns.project_step(delta_conv, p, transposed=True)
    assert (keys @ projected).abs().max() < 1e-3 * (keys @ delta_conv).abs().max()
    assert projected.dtype == delta_conv.dtype


def test_cache_computes_each_spectrum_once():
    cache = ns.ProjectorCache()
    calls = []

    def compute():
        calls.append(1)
        return spectrum_of(low_rank_keys())

    key = ("tiny", "layers.1.mlp.down_proj", "abc", "w0")
    first = cache.projector(key, 1e-2, "relative", 0.0, compute)
    again = cache.projector(key, 1e-2, "relative", 0.0, compute)
    other = cache.projector(key, 1e-1, "relative", 0.0, compute)
    assert first is again and other is not first
    assert len(calls) == 1 and cache.has_spectrum(key)
    cache.clear()
    assert len(cache) == 0


def test_data_hash_and_fingerprint_change_with_content():
    assert ns.data_hash([[1, 2], [3]]) == ns.data_hash([[1, 2], [3]])
    assert ns.data_hash([[1, 2], [3]]) != ns.data_hash([[1], [2, 3]])
    w = torch.randn(4, 4)
    before = ns.weights_fingerprint([w])
    w[0, 0] += 1e-3
    assert ns.weights_fingerprint([w]) != before


def test_the_setup_line_says_when_the_projection_protects_almost_nothing():
    from kuda_core.forget.config import UnlearnConfig
    from kuda_core.forget.setup import _null_space_note

    config = UnlearnConfig(layers=(9, 10, 11), tau=0.01)
    # the default model's layer 9 with tau 0.01: one protected direction of 1536 (a massive activation)
    nearly_free = ns.Projector(torch.eye(1536)[:, :1], null_side=False, gamma=0.0, null_fraction=1535 / 1536)
    note = _null_space_note(nearly_free, config, keys=4225)
    assert note.startswith("null space: 100% of key directions free at layer 9 (tau=0.01 relative")
    assert "only 1 of 1536 directions are protected" in note
    # layer 5 of the same run: 602 protected, nothing to add
    half = ns.Projector(torch.eye(1536)[:, :602], null_side=False, gamma=0.0, null_fraction=934 / 1536)
    assert "protected" not in _null_space_note(half, config, keys=4225)
    # tau 0.01 times the median eigenvalue: nearly every direction is protected, and the line says what tau means
    blocked = ns.Projector(torch.eye(1536)[:, :3], null_side=True, gamma=0.0, null_fraction=3 / 1536)
    note = _null_space_note(blocked, UnlearnConfig(layers=(5,), tau=0.01, tau_mode="median"), keys=4225)
    assert "only 3 of 1536 directions are free there" in note and "a multiple of the median eigenvalue" in note


def test_a_median_tau_is_not_moved_by_one_massive_direction():
    """The default model's layer 11: one key direction holds nearly all of the variance (λ_max ≈ 7e5, median ≈
    7e-3). τ relative to λ_max frees every other direction; τ times the median protects those above it."""
    values = torch.cat([torch.logspace(-4, 0, 99, dtype=torch.float64), torch.tensor([1e6], dtype=torch.float64)])
    spectrum = ns.Spectrum(values=values, vectors=torch.eye(100, dtype=torch.float64), count=1000)
    assert int((~ns.null_mask(spectrum, 0.01)).sum()) == 1                       # relative: λ_max alone
    median = float(values.median())
    assert ns.threshold(spectrum, 2.0, "median") == pytest.approx(2.0 * median)
    protected = ~ns.null_mask(spectrum, 2.0, "median")
    assert median == pytest.approx(1e-2)                                           # the 50th of 100, 10^-2
    assert int(protected.sum()) == 43                     # 42 of the log-spaced values above 0.02, and λ_max
    assert ns.threshold(spectrum, 0.5, "absolute") == 0.5
    with pytest.raises(ValueError, match="sideways"):
        ns.threshold(spectrum, 0.1, "sideways")
