"""Per-token log-probabilities of texts and of continuations, in length-sorted batches.

    >>> sequence_logprobs(lm, ["The cat sat."])                 # [array of T-1 floats]
    >>> continuation_logprobs(lm, ["Q: 2+2?\\nA:"], [" 4"])       # [array of len(" 4" ids)]
    >>> perplexity_of(lm, texts)                               # token-weighted, one number

Shared by perplexity, fluency, Min-K% membership scores and multiple-choice scoring.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from kuda_core.model.loading import LoadedModel
from kuda_core.model.tokens import encode, length_batches, pad_id_of, pad_ids

TOKEN_BUDGET = 4096  # tokens per forward pass: bounds the (B, T, V) logits tensor


def encode_continuation(lm: LoadedModel, prompt: str, continuation: str) -> tuple[list[int], int]:
    """(ids of prompt + continuation, index of the first continuation token).

    The two parts are encoded separately and joined (lm-evaluation-harness style), so the
    continuation's tokens are the same whatever the prompt ends with.
    """
    prompt_ids = encode(lm.tokenizer, prompt)
    cont_ids = list(lm.tokenizer(continuation, add_special_tokens=False)["input_ids"])
    return prompt_ids + cont_ids, len(prompt_ids)


@torch.no_grad()
def score_ids(
    lm: LoadedModel, id_lists: Sequence[list[int]], starts: Sequence[int], batch_size: int = 16
) -> list[np.ndarray]:
    """log p(ids[t] | ids[:t]) for t >= starts[i], per row: a list of float64 arrays.

    Rows longer than the model's context are cut: whole texts (start <= 1) keep their first
    tokens, continuations (start > 1) lose prompt tokens from the left so the scored part stays.
    Row i yields len(ids_i) - max(starts_i, 1) values (the first token has no prediction).
    """
    if len(id_lists) != len(starts):
        raise ValueError(f"{len(id_lists)} id lists but {len(starts)} start indices")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    # the last token of a row is only predicted, never fed: a row may be one token longer than the context
    rows, starts = _fit_context([list(ids) for ids in id_lists], [int(s) for s in starts], lm.context_length + 1)
    results: list[np.ndarray] = [np.zeros(0)] * len(rows)
    for chunk in length_batches([len(r) for r in rows], batch_size, TOKEN_BUDGET):
        if max(len(rows[i]) for i in chunk) < 2:
            continue
        ids, mask = pad_ids([rows[i] for i in chunk], pad_id_of(lm.tokenizer))              # (B, T) each
        ids, mask = ids.to(lm.device), mask.to(lm.device)
        logits = lm.model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1]).logits.float()  # (B, T-1, V)
        target = ids[:, 1:]                                                   # (B, T-1)
        picked = logits.gather(-1, target[..., None])[..., 0]                 # (B, T-1)
        token_lp = (picked - logits.logsumexp(-1)).double().cpu().numpy()     # (B, T-1)
        for j, i in enumerate(chunk):
            first = max(int(starts[i]), 1) - 1
            results[i] = token_lp[j, first:len(rows[i]) - 1].copy()
    return results


def _fit_context(rows: list[list[int]], starts: list[int], limit: int) -> tuple[list[list[int]], list[int]]:
    fitted_rows, fitted_starts = [], []
    for ids, start in zip(rows, starts):
        cut = len(ids) - limit
        if cut > 0 and start > 1:
            ids, start = ids[cut:], max(start - cut, 1)
        elif cut > 0:
            ids = ids[:limit]
        fitted_rows.append(ids)
        fitted_starts.append(start)
    return fitted_rows, fitted_starts


def left_padded(lm: LoadedModel, rows: Sequence[list[int]]) -> dict[str, torch.Tensor]:
    """input_ids, attention_mask and position_ids (B, T) of left-padded id lists, on lm.device."""
    ids, mask = pad_ids(rows, pad_id_of(lm.tokenizer), side="left")            # (B, T) each
    positions = (mask.cumsum(-1) - 1).clamp(min=0)                           # (B, T)
    return {"input_ids": ids.to(lm.device), "attention_mask": mask.to(lm.device),
            "position_ids": positions.to(lm.device)}


@torch.no_grad()
def iter_last_logprobs(lm: LoadedModel, prompts: Sequence[str], batch_size: int = 16) -> Iterator[tuple[list[int], torch.Tensor]]:
    """Yield (prompt indices, log-softmax of the next-token logits (B, V) float32) per batch.

    Left-padded batches with explicit position ids, so only the last position's logits are
    computed (logits_to_keep=1); prompts longer than the context lose tokens from the left.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = [encode(lm.tokenizer, p)[-lm.context_length:] for p in prompts]
    for chunk in length_batches([len(r) for r in rows], batch_size, TOKEN_BUDGET):
        batch = left_padded(lm, [rows[i] for i in chunk])
        logits = lm.model(**batch, logits_to_keep=1).logits[:, -1].float()   # (B, V)
        yield chunk, logits.log_softmax(-1)


def next_token_logprobs(
    lm: LoadedModel, prompts: Sequence[str], token_ids: Sequence[int], batch_size: int = 16
) -> np.ndarray:
    """log p(token | prompt) for each prompt and each of `token_ids`: shape (N, K), float64."""
    out = np.zeros((len(prompts), len(token_ids)))
    for chunk, logp in iter_last_logprobs(lm, prompts, batch_size):
        wanted = torch.tensor(list(token_ids), dtype=torch.long, device=logp.device)   # (K,)
        out[chunk] = logp[:, wanted].double().cpu().numpy()
    return out


def sequence_logprobs(lm: LoadedModel, texts: Sequence[str], batch_size: int = 16) -> list[np.ndarray]:
    """sequence_logprobs(lm, texts) -> per text, log p of every token after the first."""
    return score_ids(lm, [encode(lm.tokenizer, t) for t in texts], [1] * len(texts), batch_size)


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
