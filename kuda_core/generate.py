"""Greedy continuations and next-token distributions.

    >>> greedy_continuation(lm, "The capital of France is", max_new_tokens=8)   # ' Paris, ...'
    >>> top_next_tokens(lm, "The capital of France is", k=10)   # [(' Paris', 0.77), ...]
"""
from __future__ import annotations

import torch

from kuda_core.models import LoadedModel

MAX_NEW_TOKENS_LIMIT = 256


def _prompt_ids(lm: LoadedModel, prompt: str) -> torch.Tensor:
    if not prompt or not prompt.strip():
        raise ValueError("The prompt is empty")
    ids = lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=True)["input_ids"].to(lm.device)  # (1, T)
    limit = context_length(lm)
    if ids.shape[1] >= limit:
        raise ValueError(f"The prompt has {ids.shape[1]} tokens; this model's context is {limit}")
    return ids


def context_length(lm: LoadedModel) -> int:
    config = lm.model.config
    return int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048))


@torch.no_grad()
def next_token_probs(lm: LoadedModel, prompt: str) -> torch.Tensor:
    """Probabilities of the next token after `prompt`, shape (vocab,), float32 on the CPU."""
    logits = lm.model(_prompt_ids(lm, prompt)).logits[0, -1]  # (V,)
    return logits.float().softmax(-1).cpu()


def top_next_tokens(lm: LoadedModel, prompt: str, k: int = 10) -> list[tuple[str, float]]:
    """The k most probable next tokens as (decoded text, probability)."""
    probs = next_token_probs(lm, prompt)
    values, indices = probs.topk(k)
    return [(lm.tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, indices)]


@torch.no_grad()
def greedy_continuation(lm: LoadedModel, prompt: str, max_new_tokens: int = 20) -> str:
    """Greedy decoding from `prompt`; returns only the new text (no special tokens)."""
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
        raise ValueError(f"max_new_tokens must be in [1, {MAX_NEW_TOKENS_LIMIT}], got {max_new_tokens}")
    ids = _prompt_ids(lm, prompt)
    out = lm.model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=min(max_new_tokens, context_length(lm) - ids.shape[1]),
        do_sample=False,
        pad_token_id=lm.tokenizer.pad_token_id,
    )  # (1, T + new)
    return lm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
