"""Each unlearning loss on small hand-computed tensors."""
from __future__ import annotations

import math

import pytest
import torch

from kuda_core.forget import objectives as obj


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


# v, v0: (B=1, T=3, d=2): same direction, orthogonal, reversed
V0 = t([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])
V = t([[[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]])
ALL = torch.ones(1, 3, dtype=torch.bool)


def test_token_cosine():
    assert torch.allclose(obj.token_cosine(V, V0), t([[1.0, 0.0, -1.0]]))


def test_kuda_softplus_form():
    beta = 10.0
    expected = [math.log1p(math.exp(beta * c)) / beta for c in (1.0, 0.0, -1.0)]
    loss = obj.kuda_forget_loss(V, V0, ALL, beta=beta)
    assert loss.item() == pytest.approx(sum(expected) / 3, rel=1e-5)
    only_second = torch.tensor([[False, True, False]])
    assert obj.kuda_forget_loss(V, V0, only_second, beta=2.0).item() == pytest.approx(math.log(2) / 2, rel=1e-5)


def test_kuda_margin_and_other_forms():
    mask = torch.tensor([[True, False, False]])  # c = 1
    assert obj.kuda_forget_loss(V, V0, mask, beta=1.0, margin=1.0).item() == pytest.approx(math.log(2), rel=1e-5)
    assert obj.kuda_forget_loss(V, V0, ALL, form="cos").item() == pytest.approx(0.0, abs=1e-6)
    assert obj.kuda_forget_loss(V, V0, ALL, form="cos2").item() == pytest.approx(2 / 3, rel=1e-5)


def test_kuda_norm_term():
    mask = torch.tensor([[True, False, False]])  # ‖v‖/‖v0‖ = 2, c = 1
    loss = obj.kuda_forget_loss(V, V0, mask, form="cos", norm_weight=0.5)
    assert loss.item() == pytest.approx(1.0 + 0.5 * 1.0, rel=1e-5)


def test_kuda_gradient_pushes_away():
    v0 = t([[[1.0, 0.2]]])
    v = (v0 + 0.01 * t([[[0.0, 1.0]]])).requires_grad_(True)   # slightly off v0 (at v0 the gradient is 0)
    obj.kuda_forget_loss(v, v0, torch.ones(1, 1, dtype=torch.bool), beta=10.0).backward()
    stepped = (v - 10.0 * v.grad).detach()
    assert obj.token_cosine(stepped, v0).item() < obj.token_cosine(v.detach(), v0).item() - 1e-4


def test_kuda_rejects_bad_values():
    with pytest.raises(ValueError, match="cube"):
        obj.kuda_forget_loss(V, V0, ALL, form="cube")
    with pytest.raises(ValueError, match="-1"):
        obj.kuda_forget_loss(V, V0, ALL, beta=-1.0)


def test_krd():
    assert obj.krd(V, V0, ALL).item() == pytest.approx((0 + 1 + 2) / 3, rel=1e-6)
    assert obj.krd(V0, V0, ALL).item() == pytest.approx(0.0, abs=1e-6)


def test_empty_mask_gives_zero_not_nan():
    empty = torch.zeros(1, 3, dtype=torch.bool)
    for value in (obj.kuda_forget_loss(V, V0, empty), obj.krd(V, V0, empty), obj.rmu_retain_loss(V, V0, empty)):
        assert value.item() == 0.0


def test_retain_repr_loss():
    v0 = t([[[3.0, 4.0], [0.0, 0.0]]])
    v = t([[[3.0, 0.0], [9.0, 9.0]]])
    mask = torch.tensor([[True, False]])  # the second token is padding
    assert obj.retain_repr_loss(v, v0, mask).item() == pytest.approx(16 / 25, rel=1e-6)
    assert obj.retain_repr_loss(v0, v0, mask).item() == 0.0


def test_kl_retain_loss():
    ref = t([[[0.0, 0.0]]])                  # p_ref = (1/2, 1/2)
    logits = t([[[math.log(3.0), 0.0]]])     # p = (3/4, 1/4)
    mask = torch.ones(1, 1, dtype=torch.bool)
    expected = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert obj.kl_retain_loss(logits, ref, mask).item() == pytest.approx(expected, rel=1e-5)
    assert obj.kl_retain_loss(ref, ref, mask).item() == pytest.approx(0.0, abs=1e-7)


def test_alternative_kl_moves_the_answer_mass_to_the_alternatives():
    ref = t([[math.log(6.0), math.log(3.0), 0.0]])    # p_ref = (.6, .3, .1); answer = token 0
    answer = torch.tensor([0])
    alternatives = t([[-30.0, math.log(3.0), 0.0]])   # p ~ (0, .75, .25): the reference without the answer
    assert obj.alternative_kl(alternatives, ref, answer).item() == pytest.approx(0.0, abs=1e-6)
    expected = 0.75 * math.log(0.75 / 0.3) + 0.25 * math.log(0.25 / 0.1)
    assert obj.alternative_kl(ref, ref, answer).item() == pytest.approx(expected, rel=1e-4)
    logits = ref.clone().requires_grad_(True)
    obj.alternative_kl(logits, ref, answer).backward()
    assert logits.grad[0, 0] > 0 and torch.isfinite(logits.grad).all()   # descent lowers the answer's logit


def test_sequence_logprob_and_nll():
    logits = torch.zeros(1, 3, 4)            # uniform over 4 tokens
    labels = torch.tensor([[1, 2, 3]])
    mask = torch.tensor([[False, True, True]])
    seq = obj.sequence_logprob(logits, labels, mask)
    assert seq.item() == pytest.approx(2 * math.log(0.25), rel=1e-6)
    lengths = torch.tensor([2.0])
    assert obj.nll_loss(seq, lengths).item() == pytest.approx(math.log(4), rel=1e-6)
    assert obj.ga_loss(seq, lengths).item() == pytest.approx(-math.log(4), rel=1e-6)


def test_npo_loss():
    seq = t([-2.0, -3.0])
    assert obj.npo_loss(seq, seq, beta=0.1).item() == pytest.approx(2 / 0.1 * math.log(2), rel=1e-5)
    lower = obj.npo_loss(seq - 5.0, seq, beta=0.1).item()   # already less likely than the reference
    assert lower < 2 / 0.1 * math.log(2)
    expected = (2 / 0.5) * math.log1p(math.exp(0.5 * 1.0))
    assert obj.npo_loss(t([0.0]), t([-1.0]), beta=0.5).item() == pytest.approx(expected, rel=1e-5)


def test_simnpo_loss():
    seq, lengths = t([-2.0]), t([2.0])
    expected = 2.0 * math.log1p(math.exp(-1.0))     # β = 1, γ = 0: (2/β)·softplus(β·(−2)/2)
    assert obj.simnpo_loss(seq, lengths, beta=1.0).item() == pytest.approx(expected, rel=1e-5)
    expected_gamma = 2.0 * math.log1p(math.exp(-1.0 + 0.5))
    assert obj.simnpo_loss(seq, lengths, beta=1.0, gamma=0.5).item() == pytest.approx(expected_gamma, rel=1e-5)


def test_rmu_losses():
    h = t([[[1.0, 1.0]]])
    mask = torch.ones(1, 1, dtype=torch.bool)
    assert obj.rmu_forget_loss(h, t([1.0, 0.0]), mask).item() == pytest.approx(0.5)
    assert obj.rmu_retain_loss(h, t([[[0.0, 1.0]]]), mask).item() == pytest.approx(0.5)
