"""Tokens: encoding, subject token ranges, padding and length-sorted batches.

    >>> subject_range(tokenizer, "The Eiffel Tower is in", "Eiffel Tower")   # (1, 3): tokens 1..2
    >>> answer_token_id(tokenizer, " Paris")
    >>> ids, mask = pad_ids([[5, 6, 7], [8]], pad_id=0, side="left")      # (2, 3) each
    >>> for rows in length_batches([12, 3, 7], batch_size=2): ...         # [[1, 2], [0]]
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of `text` as the model sees a prompt (with BOS when the tokenizer adds one)."""
    return list(tokenizer(text, add_special_tokens=True)["input_ids"])


def subject_range(tokenizer, prompt: str, subject: str) -> tuple[int, int]:
    """Half-open token range [start, end) of the first occurrence of `subject` in `prompt`.

    Works from character offsets, so leading spaces folded into byte-level BPE tokens
    ("ĠTower") and SentencePiece "▁" tokens are handled alike. LookupError when absent.
    """
    if not subject or not subject.strip():
        raise ValueError("The subject is empty")
    start_char = prompt.find(subject)
    if start_char < 0:
        raise LookupError(f"Subject {subject!r} does not occur in prompt {prompt!r}")
    # ignore whitespace at the edges of the subject: it belongs to neighbouring tokens
    start_char += len(subject) - len(subject.lstrip())
    end_char = start_char + len(subject.strip())
    encoding = tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True)
    hits = [
        i
        for i, (a, b) in enumerate(encoding["offset_mapping"])
        if b > a and a < end_char and b > start_char and prompt[max(a, start_char):min(b, end_char)].strip()
    ]
    if not hits:
        raise LookupError(f"Subject {subject!r} maps to no token of prompt {prompt!r}")
    return hits[0], hits[-1] + 1


def answer_token_id(tokenizer, answer: str) -> int:
    """Id of the first token of `answer` as it would follow a prompt (keep its leading space)."""
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"The answer {answer!r} tokenizes to nothing")
    return ids[0]


def batch_encode(tokenizer, texts: list[str], device: torch.device) -> dict[str, torch.Tensor]:
    """Right-padded batch: input_ids and attention_mask, both (B, T)."""
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    try:
        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=True)
    finally:
        tokenizer.padding_side = padding_side
    return {k: v.to(device) for k, v in encoded.items() if k in ("input_ids", "attention_mask")}


def pad_ids(rows: Sequence[Sequence[int]], pad_id: int, side: str = "right") -> tuple[torch.Tensor, torch.Tensor]:
    """Id lists -> (input_ids (B, T), attention_mask (B, T)), padded on `side` ("right" or "left")."""
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    tensors = [torch.as_tensor(list(r), dtype=torch.long) for r in rows]
    ids = pad_sequence(tensors, batch_first=True, padding_value=pad_id, padding_side=side)            # (B, T)
    mask = pad_sequence([torch.ones_like(t) for t in tensors], batch_first=True, padding_side=side)   # (B, T)
    return ids, mask


def pad_id_of(tokenizer) -> int:
    """The tokenizer's padding id (0 when it has none)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def length_batches(lengths: Sequence[int], batch_size: int, token_budget: int | None = None) -> list[list[int]]:
    """Indices grouped into batches of similar length (shortest first).

    A batch holds at most `batch_size` rows and, with a token budget, at most token_budget //
    (longest row) rows, so that (B, T, V) logits stay bounded.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches, position = [], 0
    while position < len(order):
        size = batch_size
        if token_budget is not None:
            longest = max(lengths[i] for i in order[position:position + batch_size])
            size = max(1, min(batch_size, token_budget // max(longest, 1)))
        batches.append(order[position:position + size])
        position += size
    return batches
