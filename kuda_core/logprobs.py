"""Per-token log-probabilities of texts and of continuations, in length-sorted batches.

    >>> sequence_logprobs(lm, ["The cat sat."])                 # [array of T-1 floats]
    >>> continuation_logprobs(lm, ["Q: 2+2?\\nA:"], [" 4"])       # [array of len(" 4" ids)]
    >>> perplexity_of(lm, texts)                               # token-weighted, one number

Shared by perplexity, coherence, Min-K% membership scores and multiple-choice scoring.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from kuda_core.generate import context_length
from kuda_core.models import LoadedModel

TOKEN_BUDGET = 4096  # tokens per forward pass: bounds the (B, T, V) logits tensor


def encode_text(lm: LoadedModel, text: str) -> list[int]:
    """Ids of `text` as a whole document (with BOS when the tokenizer adds one)."""
    return list(lm.tokenizer(text, add_special_tokens=True)["input_ids"])


def encode_continuation(lm: LoadedModel, prompt: str, continuation: str) -> tuple[list[int], int]:
    """(ids of prompt + continuation, index of the first continuation token).

    The two parts are encoded separately and joined (lm-evaluation-harness style), so the
    continuation's tokens are the same whatever the prompt ends with.
    """
    prompt_ids = encode_text(lm, prompt)
    cont_ids = list(lm.tokenizer(continuation, add_special_tokens=False)["input_ids"])
    return prompt_ids + cont_ids, len(prompt_ids)


@torch.no_grad()
def score_ids(
    lm: LoadedModel, id_lists: Sequence[list[int]], starts: Sequence[int], batch_size: int = 16
) -> list[np.ndarray]:
    """log p(ids[t] | ids[:t]) for t >= starts[i], per row: a list of float64 arrays.

    Rows longer than the model's context keep their first tokens. Row i yields
    max(0, len(ids_i) - max(starts_i, 1)) values (the first token has no prediction).
    """
    if len(id_lists) != len(starts):
        raise ValueError(f"{len(id_lists)} id lists but {len(starts)} start indices")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    limit = context_length(lm)
    rows = [list(ids)[:limit] for ids in id_lists]
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    results: list[np.ndarray] = [np.zeros(0)] * len(rows)
    position = 0
    while position < len(order):
        longest = max(len(rows[order[position]]), 1)
        size = max(1, min(batch_size, TOKEN_BUDGET // longest))
        chunk = order[position:position + size]
        position += len(chunk)
        width = max(len(rows[i]) for i in chunk)
        if width < 2:
            continue
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)          # (B, T)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)             # (B, T)
        for j, i in enumerate(chunk):
            ids[j, :len(rows[i])] = torch.tensor(rows[i], dtype=torch.long)
            mask[j, :len(rows[i])] = 1
        ids, mask = ids.to(lm.device), mask.to(lm.device)
        logits = lm.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()  # (B, T-1, V)
        target = ids[:, 1:]                                                   # (B, T-1)
        picked = logits.gather(-1, target[..., None])[..., 0]                 # (B, T-1)
        token_lp = (picked - logits.logsumexp(-1)).double().cpu().numpy()     # (B, T-1)
        for j, i in enumerate(chunk):
            first = max(int(starts[i]), 1) - 1
            results[i] = token_lp[j, first:len(rows[i]) - 1].copy()
    return results


def sequence_logprobs(lm: LoadedModel, texts: Sequence[str], batch_size: int = 16) -> list[np.ndarray]:
    """sequence_logprobs(lm, texts) -> per text, log p of every token after the first."""
    return score_ids(lm, [encode_text(lm, t) for t in texts], [1] * len(texts), batch_size)


def continuation_logprobs(
    lm: LoadedModel, prompts: Sequence[str], continuations: Sequence[str], batch_size: int = 16
) -> list[np.ndarray]:
    """continuation_logprobs(lm, prompts, conts) -> per pair, log p of each continuation token."""
    if len(prompts) != len(continuations):
        raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    pairs = [encode_continuation(lm, p, c) for p, c in zip(prompts, continuations)]
    return score_ids(lm, [ids for ids, _ in pairs], [start for _, start in pairs], batch_size)


def perplexity_from_logprobs(logprobs: Sequence[np.ndarray]) -> float:
    """exp(mean NLL over all tokens of all rows) (token-weighted); NaN when there are no tokens."""
    total = sum(float(-lp.sum()) for lp in logprobs)
    count = sum(len(lp) for lp in logprobs)
    return float(np.exp(total / count)) if count else float("nan")


def perplexity_of(lm: LoadedModel, texts: Sequence[str], batch_size: int = 16) -> float:
    """perplexity_of(lm, texts) -> token-weighted perplexity over all texts."""
    if not texts:
        raise ValueError("No texts to measure perplexity on")
    return perplexity_from_logprobs(sequence_logprobs(lm, texts, batch_size))
