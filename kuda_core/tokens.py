"""Encoding helpers and subject token ranges.

    >>> subject_range(tokenizer, "The Eiffel Tower is in", "Eiffel Tower")   # (1, 3): tokens 1..2
    >>> answer_token_id(tokenizer, " Paris")
"""
from __future__ import annotations

import torch


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of `text` as the model sees a prompt (with BOS when the tokenizer adds one)."""
    return tokenizer(text, add_special_tokens=True)["input_ids"]


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
