"""Greedy continuations and next-token distributions, for one prompt or many in batches.

    >>> greedy_continuation(lm, "The capital of France is", max_new_tokens=8)   # ' Paris, ...'
    >>> top_next_tokens(lm, "The capital of France is", k=10)   # [(' Paris', 0.77), ...]
    >>> greedy_batch(lm, prompts, max_new_tokens=20)            # ["' Paris, the capital...'", ...]
    >>> stats = next_token_stats(lm, prompts, [" Paris", None], k=5)
    >>> stats[0].top, stats[0].answer_p, stats[0].answer_rank   # answer None: the top-1 token
    >>> texts, stats = greedy_batch_with_stats(lm, prompts, 20, answers=[" Paris", None])  # one pass for both

The batched functions pad on the left; padding may change the last float bits, so compare
batched results with batched results.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kuda_core.model.loading import LoadedModel
from kuda_core.model.logprobs import iter_last_logprobs, left_padded
from kuda_core.model.tokens import answer_token_id, decode_after, encode, length_batches, token_text

MAX_NEW_TOKENS_LIMIT = 256


def _prompt_ids(lm: LoadedModel, prompt: str) -> torch.Tensor:
    if not prompt or not prompt.strip():
        raise ValueError("The prompt is empty")
    ids = lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=True)["input_ids"].to(lm.device)  # (1, T)
    if ids.shape[1] >= lm.context_length:
        raise ValueError(f"The prompt has {ids.shape[1]} tokens; this model's context is {lm.context_length}")
    return ids


@torch.no_grad()
def next_token_probs(lm: LoadedModel, prompt: str) -> torch.Tensor:
    """Probabilities of the next token after `prompt`, shape (vocab,), float32 on the CPU."""
    logits = lm.model(_prompt_ids(lm, prompt)).logits[0, -1]  # (V,)
    return logits.float().softmax(-1).cpu()


def top_next_tokens(lm: LoadedModel, prompt: str, k: int = 10) -> list[tuple[str, float]]:
    """The k most probable next tokens as (decoded text, probability)."""
    probs = next_token_probs(lm, prompt)
    values, indices = probs.topk(k)
    return [(token_text(lm.tokenizer, int(i)), float(v)) for v, i in zip(values, indices)]


@torch.no_grad()
def greedy_continuation(lm: LoadedModel, prompt: str, max_new_tokens: int = 20) -> str:
    """Greedy decoding from `prompt`; returns only the new text (no special tokens)."""
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
        raise ValueError(f"max_new_tokens must be in [1, {MAX_NEW_TOKENS_LIMIT}], got {max_new_tokens}")
    ids = _prompt_ids(lm, prompt)
    out = lm.model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=min(max_new_tokens, lm.context_length - ids.shape[1]),
        do_sample=False,
        pad_token_id=lm.tokenizer.pad_token_id,
    )  # (1, T + new)
    return decode_after(lm.tokenizer, out[0, ids.shape[1]:].tolist())


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


def _next_token(lm: LoadedModel, prompt: str, answer: str | int | None, logp: torch.Tensor, k: int) -> NextToken:
    """NextToken from one prompt's next-token log-probabilities logp (V,)."""
    values, indices = logp.topk(k)                                             # (k,)
    if answer is None:
        target = int(indices[0])
    elif isinstance(answer, int):
        target = answer
    else:
        target = answer_token_id(lm.tokenizer, prompt, answer)
    return NextToken(
        answer=answer if isinstance(answer, str) else token_text(lm.tokenizer, target),
        answer_id=target,
        answer_p=float(logp[target].exp()),
        answer_rank=int((logp > logp[target]).sum()) + 1,
        top=tuple((token_text(lm.tokenizer, int(t)), float(v.exp())) for v, t in zip(values, indices)),
    )


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
    out: list[NextToken | None] = [None] * len(prompts)
    for chunk, logp in iter_last_logprobs(lm, prompts, batch_size):          # logp (B, V)
        for j, i in enumerate(chunk):
            out[i] = _next_token(lm, prompts[i], answers[i] if answers is not None else None, logp[j], k)
    return out  # type: ignore[return-value]


@torch.no_grad()
def greedy_batch(lm: LoadedModel, prompts: Sequence[str], max_new_tokens: int = 20, batch_size: int = 16) -> list[str]:
    """Greedy continuations (new text only, no special tokens) of many prompts, in input order."""
    return _greedy(lm, prompts, max_new_tokens, batch_size, answers=None, k=1, with_stats=False)[0]


@torch.no_grad()
def greedy_batch_with_stats(
    lm: LoadedModel, prompts: Sequence[str], max_new_tokens: int = 20, batch_size: int = 16,
    answers: Sequence[str | int | None] | None = None, k: int = 5,
) -> tuple[list[str], list[NextToken]]:
    """greedy_batch's continuations and, from the same passes, next_token_stats of the prompts.

    The first generated step's logits are the prompt's next-token distribution, so the statistics
    cost no extra forward pass (prompts longer than the context keep their last tokens, as in generation).
    """
    return _greedy(lm, prompts, max_new_tokens, batch_size, answers, k, with_stats=True)


def _greedy(
    lm: LoadedModel, prompts: Sequence[str], max_new_tokens: int, batch_size: int,
    answers: Sequence[str | int | None] | None, k: int, with_stats: bool,
) -> tuple[list[str], list[NextToken | None]]:
    """Batched greedy generation; next-token stats only when with_stats (else no logits are kept)."""
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
        raise ValueError(f"max_new_tokens must be in [1, {MAX_NEW_TOKENS_LIMIT}], got {max_new_tokens}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if answers is not None and len(answers) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    keep = lm.context_length - max_new_tokens
    if keep < 1:
        raise ValueError(f"max_new_tokens {max_new_tokens} leaves no room for a prompt in this model's context")
    rows = [encode(lm.tokenizer, p)[-keep:] for p in prompts]
    texts, stats = [""] * len(rows), [None] * len(rows)
    for chunk in length_batches([len(r) for r in rows], batch_size):
        batch = left_padded(lm, [rows[i] for i in chunk])
        generated = lm.model.generate(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], max_new_tokens=max_new_tokens,
            do_sample=False, pad_token_id=lm.tokenizer.pad_token_id, return_dict_in_generate=True,
            output_logits=with_stats,
        )
        first = generated.logits[0].float().log_softmax(-1) if with_stats else None   # (B, V)
        width = batch["input_ids"].shape[1]
        for j, i in enumerate(chunk):
            texts[i] = decode_after(lm.tokenizer, generated.sequences[j, width:].tolist())   # sequences (B, T + new)
            if first is not None:
                stats[i] = _next_token(lm, prompts[i], answers[i] if answers is not None else None, first[j], k)
    return texts, stats  # type: ignore[return-value]
