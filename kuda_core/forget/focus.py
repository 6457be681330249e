"""Forget batches narrowed to the rows of the facts still answered, so that resting facts cost nothing.

    >>> batches = narrow(replay, ctx.forget, ctx.train_rows, ctx.still_answered, batch_size=64, pad_id=0)
    >>> batches        # [Cached]: the rows whose fact is still answered, cut after their focus; None: keep all
    >>> take_rows(cached, torch.tensor([0, 3]))    # a Cached of rows 0 and 3 of one cached batch (no new pass)

A method that rests forgotten facts (KUDA's remaining_only) masks their rows out of the loss, but a
step still ran them through the trained layers. With augmentation most rows are long (k-shot
prefixes), so a run spent most of its time on facts already forgotten. The narrowed rows are cached
again (the frozen layers below the first trained one give the same stream, masks and positions),
and their original MLP outputs v0 / block outputs h0 are copied from the first cache, because the
trained layers have changed since. Each row ends at its last focus token. A loss on the focus tokens
(KUDA's forget term) of the narrowed rows equals the masked loss on all rows.
"""
from __future__ import annotations

from dataclasses import fields

import torch

from kuda_core.forget.replay import Batch, Cached, Replay, SeqRow, make_batches


def narrow(replay: Replay, forget: list[Cached], rows: list[SeqRow], answered: torch.Tensor, batch_size: int,
           pad_id: int) -> list[Cached] | None:
    """The rows (in `forget`'s order) whose source fact is answered, each cut after its last focus token
    (through_focus: the batches serve losses on focus tokens only, such as KUDA's forget term), re-batched
    and cached; None when no fact is answered (then the caller keeps `forget`)."""
    where = [(b, j) for b, cached in enumerate(forget) for j in range(cached.batch.input_ids.shape[0])]
    if len(where) != len(rows):
        raise ValueError(f"{len(rows)} rows for {len(where)} cached forget rows")
    answered = answered.cpu()
    keep = [i for i, row in enumerate(rows) if row.source >= 0 and bool(answered[row.source])]
    if not keep:
        return None
    device = forget[0].batch.input_ids.device
    out = []
    for start in range(0, len(keep), batch_size):
        chunk = keep[start:start + batch_size]
        cut = [through_focus(rows[i]) for i in chunk]
        (batch,) = make_batches(cut, batch_size, pad_id, device)
        cached = replay.cache(batch)
        spots = [(where[i], len(row.ids)) for i, row in zip(chunk, cut)]
        cached.v0 = {layer: _original(forget, "v0", layer, spots, cached.v0[layer]) for layer in cached.v0}
        cached.h0 = {layer: _original(forget, "h0", layer, spots, cached.h0[layer]) for layer in cached.h0}
        out.append(cached)
    return out


def through_focus(row: SeqRow) -> SeqRow:
    """The row cut after its last focus token, without its answer: a position's MLP output depends only on
    the tokens up to it (causal attention), so a loss on focus tokens is the same on the cut row."""
    end = max(row.focus, default=len(row.ids) - 1) + 1
    return SeqRow(row.ids[:end], -1, 0, list(row.focus), row.source)


def _original(forget: list[Cached], name: str, layer: int, spots: list, like: torch.Tensor) -> torch.Tensor:
    """(B', T', d): the first cache's outputs of layer `layer` for the rows at spots [((batch, row), length)]."""
    out = torch.zeros_like(like)                                          # (B', T', d), zeros on the padding
    for k, ((b, j), length) in enumerate(spots):
        out[k, :length] = getattr(forget[b], name)[layer][j, :length]
    return out


def take_rows(cached: Cached, rows: torch.Tensor) -> Cached:
    """The rows `rows` (R,) of one cached batch as a cached batch of R rows (same padding), without a new pass.

    Every cached tensor whose first dimension is the batch is cut (masks included); positions and
    rotary tables shared by the batch (first dimension 1) are kept as they are."""
    size = cached.batch.input_ids.shape[0]
    rows = rows.to(cached.batch.input_ids.device)

    def cut(value):
        if isinstance(value, torch.Tensor) and value.dim() >= 2 and value.shape[0] == size:
            return value[rows]
        if isinstance(value, (tuple, list)):
            return type(value)(cut(v) for v in value)
        return value

    batch = Batch(*(getattr(cached.batch, f.name)[rows] for f in fields(Batch)))
    inputs = {layer: (cut(args), {k: cut(v) for k, v in kwargs.items()})
              for layer, (args, kwargs) in cached.block_inputs.items()}
    return Cached(batch=batch, hidden_in=cached.hidden_in[rows], block_inputs=inputs,
                  v0={i: v[rows] for i, v in cached.v0.items()}, h0={i: h[rows] for i, h in cached.h0.items()})
