"""The fast causal-tracing path: clean and corrupted runs once, then only what each cell changes.

    >>> runner = Runner(lm)                       # NotImplementedError for blocks it does not know
    >>> base = base_run(runner, prep, config)     # clean + corrupted runs: states, keys / values, p
    >>> fill_row(runner, prep, base, config, token, scores)   # scores[token] = every cell of the row

Restoring token t at layer l cannot change positions before t nor anything below the first
restored layer, and every cell shares the same clean and corrupted runs. The base run keeps every
residual state and the corrupted keys / values. A cell of row t then runs only positions >= t from
the layer after its first restored one (that layer changes position t alone and is finished from
the cached states), with the keys / values of positions < t read from the cache. All cells of a
row share one growing batch; cells whose restore windows start alike share rows until their
windows part (then the rows fork). The last block runs its MLP at the last position only; restored
MLP outputs are not computed. Rows before the subject, and hidden-state cells at the last layer
away from the last token, are exact no-ops and filled with p_corrupt.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from kuda_core.locate.config import TraceConfig, restore_layers
from kuda_core.locate.inputs import Prepared, noise_edit, sublayer_template
from kuda_core.locate.runner import KV, Runner
from kuda_core.model.hooks import Hooks
from kuda_core.model.loading import LoadedModel


class _Stop(Exception):
    pass


def _block0_input(lm: LoadedModel, ids: torch.Tensor, noise_edit) -> torch.Tensor:
    """(B, T) ids -> (B, T, d): what block 0 receives (embeddings, noised; plus positions on GPT-2)."""
    box: list[torch.Tensor] = []

    def grab(x: torch.Tensor, name: str):
        box.append(x)
        raise _Stop

    with Hooks(lm.model, edit_outputs={lm.spec.embed: noise_edit}, edit_inputs={lm.spec.block.format(0): grab}):
        try:
            lm.model(input_ids=ids)
        except _Stop:
            pass
    return box[0]


@dataclass
class BaseRun:
    """The clean (row 0) and corrupted (rows 1..S) runs, shared by every cell."""

    inputs: list[torch.Tensor]               # [l] (1 + S, T, d) input of block l; [L] = final states
    middle: list[torch.Tensor]               # [l] (1 + S, T, d) residual after the attention of block l
    clean: list[torch.Tensor]                # [l] (1, T, d) clean mlp / attn output (empty for hidden)
    kv: dict[int, tuple[torch.Tensor, torch.Tensor]]  # [l] corrupted keys, values (S, H_kv, T, hd)
    p_clean: float
    p_corrupt: float


def base_run(runner: Runner, prep: Prepared, config: TraceConfig) -> BaseRun:
    lm = runner.lm
    ids = prep.ids.repeat(1 + config.samples, 1)  # (1 + S, T)
    hidden = _block0_input(lm, ids, noise_edit(prep.noise, *prep.subject_range, first_row=1))  # (1 + S, T, d)
    cache, geometry = KV(record=True), runner.geometry(0, ids.shape[1], hidden)
    names = [] if config.kind == "hidden" else lm.spec.names(sublayer_template(lm, config.kind), lm.n_layers)
    inputs, middle = [hidden], []
    with Hooks(lm.model, capture_outputs=names) as rec:
        for layer in range(lm.n_layers):
            middle.append(runner.attention(layer, hidden, cache, geometry))
            hidden = runner.feed_forward(layer, middle[-1])
            inputs.append(hidden)
    probs = runner.answer_prob(hidden[:, -1], prep.answer_id)  # (1 + S,)
    return BaseRun(
        inputs=inputs, middle=middle, clean=[rec.outputs[name][:1] for name in names],
        kv={j: (k[1:], v[1:]) for j, (k, v) in cache.recorded.items()},
        p_clean=probs[0].item(), p_corrupt=probs[1:].mean().item(),
    )


@dataclass
class _Cell:
    layer: int                  # the cell's column
    key: tuple                  # cells with the same key start from the same state
    start: int                  # first block the cell runs (L = nothing left to run)
    state: torch.Tensor         # (S, n, d) input of block `start` at positions t..T-1
    patched: frozenset[int]     # layers (>= start) whose sublayer output at t is set to the clean one


def _row_cells(runner: Runner, base: BaseRun, config: TraceConfig, token: int) -> tuple[list[_Cell], list[int]]:
    """Cells of row `token` to run, and the columns that equal p_corrupt without running anything.

    hidden: the clean block-l output at t, corrupted elsewhere, enters block l + 1.
    mlp / attn: the first restored layer a is finished on the spot (only position t changes there:
    the corrupted residual plus the clean sublayer output); the cell enters block a + 1.
    """
    n_layers, n_tokens = runner.lm.n_layers, base.inputs[0].shape[1]
    cells, unchanged, joins = [], [], {}
    for layer in range(n_layers):
        layers = restore_layers(config.kind, layer, n_layers, config.window, config.exclude_layer0)
        if not layers or (config.kind == "hidden" and layer == n_layers - 1 and token < n_tokens - 1):
            unchanged.append(layer)  # nothing restored, or a last-layer state that the last position never reads
            continue
        first = layers[0]
        if first not in joins:
            state = base.inputs[first + 1][1:, token:].clone()  # (S, n, d) corrupted output of block `first`
            if config.kind == "hidden":
                state[:, 0] = base.inputs[first + 1][0, token]
            elif config.kind == "mlp":
                state[:, 0] = base.middle[first][1:, token] + base.clean[first][0, token]
            else:
                middle = base.inputs[first][1:, token:token + 1] + base.clean[first][0, token]  # (S, 1, d)
                state[:, :1] = runner.feed_forward(first, middle)
            joins[first] = state
        cells.append(_Cell(layer, (first,), first + 1, joins[first], frozenset(layers[1:])))
    return cells, unchanged


def _run_cells(runner: Runner, prep: Prepared, base: BaseRun, config: TraceConfig, token: int, cells: list[_Cell]) -> list[float]:
    """Mean p(answer) of each cell of row `token`.

    One growing batch of tracks (S rows each, track-major): a track is a state shared by cells
    that have done the same thing so far; it forks when their restored layers part.
    """
    n_layers, samples = runner.lm.n_layers, config.samples
    n_positions = prep.ids.shape[1] - token
    prefix = {j: (k[:, :, :token], v[:, :, :token]) for j, (k, v) in base.kv.items()} if token else None
    geometry = runner.geometry(token, n_positions, base.inputs[0])
    tracks: list[list[_Cell]] = []   # track i holds rows [i * S, (i + 1) * S) of `hidden`
    hidden = None
    for layer in range(min(c.start for c in cells), n_layers + 1):
        joining: dict[tuple, list[_Cell]] = {}
        for cell in cells:
            if cell.start == layer:
                joining.setdefault(cell.key, []).append(cell)
        if joining:
            states = [g[0].state if layer < n_layers else g[0].state[:, -1:] for g in joining.values()]
            hidden = torch.cat(([hidden] if hidden is not None else []) + states)
            tracks += list(joining.values())
        if layer == n_layers:
            break
        # fork tracks whose cells part at this layer
        for index in range(len(tracks)):
            restored = [c for c in tracks[index] if layer in c.patched]
            if restored and len(restored) < len(tracks[index]):
                tracks[index] = [c for c in tracks[index] if layer not in c.patched]
                tracks.append(restored)
                hidden = torch.cat([hidden, hidden[index * samples:(index + 1) * samples]])
        patch = None
        flags = [bool(t) and layer in t[0].patched for t in tracks]
        if any(flags):
            rows = torch.tensor(flags, device=hidden.device).repeat_interleave(samples).nonzero().squeeze(1)
            patch = (rows, base.clean[layer][0, token])
        cache = KV(prefix)
        if config.kind == "attn":
            middle = runner.attention(layer, hidden, cache, geometry, patch)
            patch = None
        else:
            middle = runner.attention(layer, hidden, cache, geometry)
        if layer == n_layers - 1 and n_positions > 1:  # last block: only the last position is read
            hidden = runner.feed_forward(layer, middle[:, -1:])
        else:
            hidden = runner.feed_forward(layer, middle, patch)
    probs = runner.answer_prob(hidden[:, -1], prep.answer_id).view(-1, samples).mean(1)  # (tracks,)
    by_layer = {cell.layer: probs[i].item() for i, track in enumerate(tracks) for cell in track}
    return [by_layer[c.layer] for c in cells]


def _chunks(cells: list[_Cell], size: int) -> Iterator[list[_Cell]]:
    for i in range(0, len(cells), size):
        yield cells[i:i + size]


def fill_row(runner: Runner, prep: Prepared, base: BaseRun, config: TraceConfig, token: int, scores: np.ndarray) -> None:
    """Fill scores[token] (the (T, L) grid's row) with every cell of that token row."""
    if token < prep.subject_range[0]:
        scores[token] = base.p_corrupt  # clean and corrupted states agree before the subject
        return
    n_tokens = prep.ids.shape[1]
    cells, unchanged = _row_cells(runner, base, config, token)
    scores[token, unchanged] = base.p_corrupt
    size = max(1, config.max_batch_tokens // (config.samples * (n_tokens - token)))
    for chunk in _chunks(cells, size) if cells else ():
        for cell, value in zip(chunk, _run_cells(runner, prep, base, config, token, chunk)):
            scores[token, cell.layer] = value
