"""The plain causal-tracing algorithm: one forward pass of 1 + samples rows per cell (ROME).

    >>> trace_reference(lm, "The Eiffel Tower is located in the city of", "Eiffel Tower", " Paris", config)
    >>> restored_probability(lm, prompt, subject, " Paris", config, tokens=[3], layers=[5, 6])

Slow; the ground truth that the fast path (locate.fast) is tested and benchmarked against.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from kuda_core.model.hooks import Hooks
from kuda_core.model.loading import LoadedModel
from kuda_core.locate.config import TraceConfig, TraceResult, restore_layers
from kuda_core.locate.inputs import Prepared, answer_probability, noise_edit, prepare, sublayer_template
from kuda_core.streams import drain


def _restored_run(lm: LoadedModel, prep: Prepared, config: TraceConfig, tokens: Sequence[int], layers: Sequence[int]) -> tuple[float, float]:
    """One forward pass of 1 + S rows (row 0 clean): (p_clean, mean p over the corrupted rows)."""
    ids = prep.ids.repeat(1 + config.samples, 1)  # (1 + S, T)
    tokens = list(tokens)

    def restore(x: torch.Tensor, name: str) -> torch.Tensor:
        x = x.clone()
        x[1:, tokens] = x[:1, tokens]
        return x

    template = sublayer_template(lm, config.kind)
    edits = {
        lm.spec.embed: noise_edit(prep.noise, *prep.subject_range, first_row=1),
        **({template.format(j): restore for j in layers} if tokens else {}),
    }
    with torch.inference_mode(), Hooks(lm.model, edit_outputs=edits):
        probs = answer_probability(lm.model(input_ids=ids).logits[:, -1], prep.answer_id)  # (1 + S,)
    return probs[0].item(), probs[1:].mean().item()


def restored_probability(
    lm: LoadedModel, prompt: str, subject: str, answer: str | None = None,
    config: TraceConfig = TraceConfig(), *, tokens: Sequence[int] = (), layers: Sequence[int] = (),
    noise_subjects: Sequence[str] | None = None,
) -> float:
    """restored_probability(lm, prompt, subject, " Paris", config, tokens=[3], layers=[5, 6]) -> p.

    Mean p(answer) over the corrupted copies with the config.kind states (block / mlp / attn
    outputs) of every token in `tokens` at every layer in `layers` copied from the clean run.
    Nothing restored gives p_corrupt; every token at one layer of the hidden kind gives p_clean.
    """
    prep = prepare(lm, prompt, subject, answer, config, noise_subjects)
    n_tokens, n_layers = prep.ids.shape[1], lm.n_layers
    for token in tokens:
        if not 0 <= token < n_tokens:
            raise ValueError(f"token {token} is outside the prompt's {n_tokens} tokens")
    for layer in layers:
        if not 0 <= layer < n_layers:
            raise ValueError(f"layer {layer} is outside the model's {n_layers} layers")
    return _restored_run(lm, prep, config, tokens, layers)[1]


def iter_trace_reference(
    lm: LoadedModel, prompt: str, subject: str, answer: str | None = None,
    config: TraceConfig = TraceConfig(), *, noise_subjects: Sequence[str] | None = None,
) -> Iterator[TraceResult]:
    """iter_trace_reference(lm, prompt, subject, " Paris", config): the plain algorithm, row by row.

    Every cell, even the no-op ones, costs one full forward pass of 1 + samples rows (row 0 clean),
    as in ROME's trace_with_patch. Slow; kept as the ground truth for tests and the bench.
    """
    prep = prepare(lm, prompt, subject, answer, config, noise_subjects)
    n_tokens, n_layers = prep.ids.shape[1], lm.n_layers
    p_clean, p_corrupt = _restored_run(lm, prep, config, (), ())
    scores = np.full((n_tokens, n_layers), np.nan)
    for token in range(n_tokens):
        for layer in range(n_layers):
            layers = restore_layers(config.kind, layer, n_layers, config.window, config.exclude_layer0)
            scores[token, layer] = _restored_run(lm, prep, config, (token,), layers)[1]
        yield prep.result(config, scores, token + 1, p_clean, p_corrupt)


def trace_reference(
    lm: LoadedModel, prompt: str, subject: str, answer: str | None = None,
    config: TraceConfig = TraceConfig(), *, noise_subjects: Sequence[str] | None = None,
) -> TraceResult:
    """trace_reference(lm, prompt, subject, " Paris", config) -> TraceResult (plain, slow)."""
    return drain(iter_trace_reference(lm, prompt, subject, answer, config, noise_subjects=noise_subjects))
