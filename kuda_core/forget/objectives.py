"""Unlearning losses as pure functions of tensors (no model inside).

    >>> kuda_forget_loss(v, v0, mask, beta=10.0)          # (1/β)·softplus(β·(cos(v, v0) − m))
    >>> retain_repr_loss(v, v0, mask)                      # mean‖v − v0‖² / mean‖v0‖²
    >>> krd(v, v0, mask)                                   # mean (1 − cos): 0 unchanged, 1 orthogonal
    >>> npo_loss(seq_logp, ref_seq_logp, beta=0.1)
    >>> alternative_kl(logits, ref_logits, answer_ids)      # KL(original without the answer ‖ current)

Shapes: v, v0 (B, T, d); mask (B, T) bool/0-1, True where the token counts. Sequence
log-probabilities (B,) are sums over the answer tokens (`sequence_logprob`).
Every loss returns a scalar; an empty mask gives 0 (with a gradient path) rather than NaN.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

FORGET_FORMS = ("softplus", "cos", "cos2")


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of values (B, T) over mask (B, T); 0 when the mask is empty."""
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def token_cosine(v: torch.Tensor, v0: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """cos(v, v0) per token: (B, T, d), (B, T, d) -> (B, T), computed in float32."""
    return F.cosine_similarity(v.float(), v0.float(), dim=-1, eps=eps)


def kuda_forget_loss(
    v: torch.Tensor,
    v0: torch.Tensor,
    mask: torch.Tensor,
    beta: float = 10.0,
    margin: float = 0.0,
    form: str = "softplus",
    norm_weight: float = 0.0,
) -> torch.Tensor:
    """KUDA forget loss on masked tokens, scalar.

    form "softplus": (1/β)·softplus(β·(c − m)) with c = cos(v, v0): a push away from the
    original direction whose gradient fades once c is below m. "cos": c. "cos2": c².
    norm_weight > 0 adds norm_weight·(‖v‖/‖v0‖ − 1)², keeping the norm near the original.
    """
    if form not in FORGET_FORMS:
        raise ValueError(f"Unknown forget form {form!r}; choose one of {FORGET_FORMS}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    c = token_cosine(v, v0)  # (B, T)
    if form == "softplus":
        per_token = F.softplus(beta * (c - margin)) / beta
    elif form == "cos":
        per_token = c
    else:
        per_token = c * c
    if norm_weight:
        ratio = v.float().norm(dim=-1) / v0.float().norm(dim=-1).clamp_min(1e-8)  # (B, T)
        per_token = per_token + norm_weight * (ratio - 1.0) ** 2
    return _masked_mean(per_token, mask)


def krd(v: torch.Tensor, v0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Knowledge representation deviation: mean (1 − cos(v, v0)) over masked tokens, scalar."""
    return _masked_mean(1.0 - token_cosine(v, v0), mask)


def retain_repr_loss(v: torch.Tensor, v0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """mean‖v − v0‖² / mean‖v0‖² over masked tokens, scalar (0 when unchanged)."""
    diff = ((v.float() - v0.float()) ** 2).sum(-1)  # (B, T)
    scale = _masked_mean((v0.float() ** 2).sum(-1), mask).clamp_min(1e-12)
    return _masked_mean(diff, mask) / scale


def kl_retain_loss(logits: torch.Tensor, ref_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """KL(p_ref ‖ p) of next-token distributions, mean over masked positions, scalar.

    logits, ref_logits: (B, T, V) (or (N, V) with mask (N,)).
    """
    logp = logits.float().log_softmax(-1)
    ref_logp = ref_logits.float().log_softmax(-1)
    per_position = (ref_logp.exp() * (ref_logp - logp)).sum(-1)  # (B, T)
    return _masked_mean(per_position, mask)


def alternative_kl(logits: torch.Tensor, ref_logits: torch.Tensor, answer_ids: torch.Tensor) -> torch.Tensor:
    """KL(p_ref without the answer ‖ p) at answer positions, mean, scalar: what the original would say instead.

    logits, ref_logits: (N, V) at the positions that predict each fact's first answer token; answer_ids (N,).
    The reference gets the answer's logit far below every other one, so its mass goes to the alternatives in
    their original proportions (a finite floor, so that 0·log 0 stays 0).
    """
    ref = ref_logits.float().clone()                                      # (N, V)
    rows = torch.arange(ref.shape[0], device=ref.device)
    ref[rows, answer_ids] = ref.min(dim=-1).values - 100.0
    return kl_retain_loss(logits, ref, torch.ones(ref.shape[0], dtype=torch.bool, device=ref.device))


def sequence_logprob(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of log p(labels) over masked positions per sequence: (B, T, V), (B, T), (B, T) -> (B,).

    logits[:, t] predicts labels[:, t] (shift before calling).
    """
    logp = logits.float().log_softmax(-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return (logp * mask.to(logp.dtype)).sum(-1)


def nll_loss(seq_logp: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over sequences of the per-token negative log-likelihood: (B,), (B,) -> scalar."""
    return (-seq_logp / lengths.clamp_min(1)).mean()


def ga_loss(seq_logp: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Gradient ascent: minimise −NLL of the forget answers, scalar (= −nll_loss)."""
    return -nll_loss(seq_logp, lengths)


def npo_loss(seq_logp: torch.Tensor, ref_seq_logp: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """NPO: (2/β)·mean log(1 + (π_θ/π_ref)^β) = (2/β)·mean softplus(β·(log π_θ − log π_ref)).

    seq_logp, ref_seq_logp: (B,) sequence log-probabilities under the model and the reference.
    """
    if beta <= 0:
        raise ValueError(f"NPO beta must be > 0, got {beta}")
    return (2.0 / beta) * F.softplus(beta * (seq_logp - ref_seq_logp.detach())).mean()


def simnpo_loss(seq_logp: torch.Tensor, lengths: torch.Tensor, beta: float = 2.5, gamma: float = 0.0) -> torch.Tensor:
    """SimNPO: −(2/β)·mean log σ(−(β/|y|)·log π_θ(y|x) − γ), no reference model.

    seq_logp, lengths: (B,). Equal to (2/β)·mean softplus((β/|y|)·log π_θ + γ).
    """
    if beta <= 0:
        raise ValueError(f"SimNPO beta must be > 0, got {beta}")
    return (2.0 / beta) * F.softplus(beta * seq_logp / lengths.clamp_min(1) + gamma).mean()


def rmu_forget_loss(h: torch.Tensor, control: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """RMU forget term: mean over masked tokens of mean_d (h − c·u)², scalar.

    h: (B, T, d) layer output; control: (d,) the scaled random direction c·u.
    """
    per_token = ((h.float() - control.float()) ** 2).mean(-1)  # (B, T)
    return _masked_mean(per_token, mask)


def rmu_retain_loss(h: torch.Tensor, h0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """RMU retain term: mean over masked tokens of mean_d (h − h0)², scalar."""
    return _masked_mean(((h.float() - h0.float()) ** 2).mean(-1), mask)
