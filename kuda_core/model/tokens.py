"""Tokens: encoding, subject token ranges, padding and length-sorted batches.

    >>> subject_range(tokenizer, "The Eiffel Tower is in", "Eiffel Tower")   # (1, 3): tokens 1..2
    >>> find_subject("The Colosseum is in", "the colosseum")                  # (0, 13): case ignored when unique
    >>> subject_match_note("The Colosseum is in", "the colosseum")            # "Subject ... matched as 'The Colosseum' ..."
    >>> answer_ids(tokenizer, "Madrid is the capital of", "Spain")            # ids of " Spain"
    >>> answer_token_id(tokenizer, prompt, " Paris")                          # the first of them
    >>> token_text(tokenizer, answer_token_id(tokenizer, prompt, "Paris"))    # ' Paris' (round trip)
    >>> ids, mask = pad_ids([[5, 6, 7], [8]], pad_id=0, side="left")      # (2, 3) each
    >>> for rows in length_batches([12, 3, 7], batch_size=2): ...         # [[1, 2], [0]]
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of `text` as the model sees a prompt (with BOS when the tokenizer adds one)."""
    return list(tokenizer(text, add_special_tokens=True)["input_ids"])


def find_subject(prompt: str, subject: str) -> tuple[int, int]:
    """Character span [start, end) of `subject` in `prompt`: the first exact match, else the one match
    ignoring case. LookupError (naming near candidates) when absent or ambiguous."""
    if not subject or not subject.strip():
        raise ValueError("The subject is empty")
    start = prompt.find(subject)
    if start >= 0:
        return start, start + len(subject)
    folded = [m.start() for m in re.finditer(re.escape(subject.casefold()), prompt.casefold())]
    if len(folded) == 1:
        return folded[0], folded[0] + len(subject)
    if len(folded) > 1:
        raise LookupError(f"Subject {subject!r} occurs {len(folded)} times in prompt {prompt!r} (ignoring case); "
                          "type it with the exact capitals of the occurrence you mean")
    words = prompt.split()
    size = max(1, len(subject.split()))
    spans = {" ".join(words[i:i + n]).strip(".,;:!?\"'") for n in range(max(1, size - 1), size + 2)
             for i in range(len(words) - n + 1)}
    near = difflib.get_close_matches(subject, sorted(spans), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(map(repr, near))}?" if near else ""
    raise LookupError(f"Subject {subject!r} does not occur in prompt {prompt!r}{hint}")


def subject_match_note(prompt: str, subject: str) -> str:
    """'' when `subject` occurs in `prompt` as typed; else which span find_subject used, as a sentence.

    >>> subject_match_note("The Mona Lisa was painted by", "the mona lisa")
    "Subject 'the mona lisa' matched as 'The Mona Lisa' (capitals ignored)."
    """
    start, end = find_subject(prompt, subject)
    used = prompt[start:end]
    return "" if used == subject else f"Subject {subject!r} matched as {used!r} (capitals ignored)."


def subject_range(tokenizer, prompt: str, subject: str) -> tuple[int, int]:
    """Half-open token range [start, end) of `subject` in `prompt` (matched as find_subject does).

    Works from character offsets, so leading spaces folded into byte-level BPE tokens
    ("ĠTower") and SentencePiece "▁" tokens are handled alike. LookupError when absent.
    """
    start_char, end_char = find_subject(prompt, subject)
    # ignore whitespace at the edges of the subject: it belongs to neighbouring tokens
    text = prompt[start_char:end_char]
    start_char += len(text) - len(text.lstrip())
    end_char = start_char + len(text.strip())
    encoding = tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True)
    hits = [
        i
        for i, (a, b) in enumerate(encoding["offset_mapping"])
        if b > a and a < end_char and b > start_char and prompt[max(a, start_char):min(b, end_char)].strip()
    ]
    if not hits:
        raise LookupError(f"Subject {subject!r} maps to no token of prompt {prompt!r}")
    return hits[0], hits[-1] + 1


def answer_text(prompt: str, answer: str) -> str:
    """The answer as it follows the prompt: a leading space added when neither side has one."""
    if answer and not answer[0].isspace() and prompt and not prompt[-1].isspace():
        return " " + answer
    return answer


def answer_ids(tokenizer, prompt: str, answer: str) -> list[int]:
    """Token ids of `answer` as it follows `prompt` (answer_text, no special tokens): the one definition
    used by training, tracing, checks, comparisons and benchmarks."""
    ids = list(tokenizer(answer_text(prompt, answer), add_special_tokens=False)["input_ids"])
    if not ids or not answer.strip():
        raise ValueError(f"The answer {answer!r} tokenizes to nothing")
    return ids


def answer_token_id(tokenizer, prompt: str, answer: str) -> int:
    """The first token of `answer` after `prompt`: the token whose rank and probability are scored."""
    return answer_ids(tokenizer, prompt, answer)[0]


def decode_after(tokenizer, ids, skip_special_tokens: bool = True) -> str:
    """The text token ids add after a word, leading space kept (" Paris, France." for "▁Paris , ...").

    tokenizer.decode(ids) drops the leading space of SentencePiece tokens; decoding after an anchor
    token keeps it, so a continuation or answer can be scored again and gives the same ids.
    """
    anchor = tokenizer("x", add_special_tokens=False)["input_ids"]
    full = tokenizer.decode([*anchor, *(int(i) for i in ids)], skip_special_tokens=skip_special_tokens)
    return full[len(tokenizer.decode(anchor, skip_special_tokens=skip_special_tokens)):]


def token_text(tokenizer, token_id: int) -> str:
    """The text one token adds after a word (" Paris" for "▁Paris" or "ĠParis", "e" for a word piece)."""
    return decode_after(tokenizer, [token_id], skip_special_tokens=False)


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
