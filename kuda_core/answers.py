"""Many prompts at once: greedy answers and next-token statistics in left-padded batches.

    >>> greedy_batch(lm, prompts, max_new_tokens=20)            # ["' Paris, the capital...'", ...]
    >>> stats = next_token_stats(lm, prompts, [" Paris", None], k=5)
    >>> stats[0].top, stats[0].answer_p, stats[0].answer_rank   # answer None: the top-1 token

The batched counterparts of generate.greedy_continuation / top_next_tokens; padding may change
the last float bits, so compare batched results with batched results.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kuda_core.generate import MAX_NEW_TOKENS_LIMIT, context_length
from kuda_core.logprobs import encode_text, iter_last_logprobs, left_padded
from kuda_core.models import LoadedModel
from kuda_core.tokens import answer_token_id


@dataclass(frozen=True)
class NextToken:
    answer: str                              # the scored answer (the top-1 token when none was given)
    answer_id: int                           # its first token
    answer_p: float                          # P(first answer token | prompt)
    answer_rank: int                         # 1-based rank of that token
    top: tuple[tuple[str, float], ...]       # the k most likely next tokens (text, p)

    @property
    def top1_ok(self) -> bool:
        return self.answer_rank == 1


def next_token_stats(
    lm: LoadedModel, prompts: Sequence[str], answers: Sequence[str | int | None] | None = None,
    k: int = 5, batch_size: int = 16,
) -> list[NextToken]:
    """Top-k next tokens and the probability / rank of each answer's first token, per prompt.

    An answer is a string (its first token is scored), a token id, or None (the top-1 token).
    """
    if answers is not None and len(answers) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    decode = lm.tokenizer.decode
    out: list[NextToken | None] = [None] * len(prompts)
    for chunk, logp in iter_last_logprobs(lm, prompts, batch_size):          # logp (B, V)
        values, indices = logp.topk(k, dim=-1)                                # (B, k)
        for j, i in enumerate(chunk):
            answer = answers[i] if answers is not None else None
            if answer is None:
                target = int(indices[j, 0])
            elif isinstance(answer, int):
                target = answer
            else:
                target = answer_token_id(lm.tokenizer, answer)
            rank = int((logp[j] > logp[j, target]).sum()) + 1
            out[i] = NextToken(
                answer=answer if isinstance(answer, str) else decode([target]),
                answer_id=target,
                answer_p=float(logp[j, target].exp()),
                answer_rank=rank,
                top=tuple((decode([int(t)]), float(v.exp())) for v, t in zip(values[j], indices[j])),
            )
    return out  # type: ignore[return-value]


@torch.no_grad()
def greedy_batch(lm: LoadedModel, prompts: Sequence[str], max_new_tokens: int = 20, batch_size: int = 16) -> list[str]:
    """Greedy continuations (new text only, no special tokens) of many prompts, in input order."""
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
        raise ValueError(f"max_new_tokens must be in [1, {MAX_NEW_TOKENS_LIMIT}], got {max_new_tokens}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    keep = context_length(lm) - max_new_tokens
    if keep < 1:
        raise ValueError(f"max_new_tokens {max_new_tokens} leaves no room for a prompt in this model's context")
    rows = [encode_text(lm, p)[-keep:] for p in prompts]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out = [""] * len(rows)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = left_padded(lm, [rows[i] for i in chunk])
        generated = lm.model.generate(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
            max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id,
        )                                                                     # (B, T + new)
        width = batch["input_ids"].shape[1]
        for j, i in enumerate(chunk):
            out[i] = lm.tokenizer.decode(generated[j, width:], skip_special_tokens=True)
    return out
