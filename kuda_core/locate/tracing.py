"""Causal tracing with ROME semantics (Meng et al. 2022): where does the model recall a fact?

    >>> config = TraceConfig(kind="mlp", samples=10)                  # "hidden" | "mlp" | "attn"
    >>> result = trace(lm, "The Eiffel Tower is located in the city of", "Eiffel Tower", " Paris", config)
    >>> result.scores, result.indirect_effect                          # (T, L) numpy arrays
    >>> for partial in iter_trace(lm, prompt, subject, config=config):  # one record per token row
    ...     show(partial.indirect_effect)                               # NaN rows are not done yet
    >>> trace_reference(lm, prompt, subject, " Paris", config)          # the plain per-cell algorithm

The corrupted run adds Gaussian noise to the input embeddings of the subject tokens (`samples`
copies, drawn once from `seed`); a cell (t, l) copies clean states back at token t and reads the
mean p(answer) at the last position. `hidden` restores the output of block l; `mlp` / `attn`
restore the sublayer outputs for the window of layers around l (`restore_layers`).

The work is split in four modules: config (configuration, result), inputs (noise, prepared
inputs), fast (the fast path: the clean and corrupted runs once, then only what each cell
changes) and reference (the plain per-cell algorithm, the ground truth in tests and the bench).
Costs, for a 10-token prompt on SmolLM2-135M: bench/trace_speed.py.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import torch

from kuda_core.model.loading import LoadedModel
from kuda_core.locate.fast import base_run, fill_row
from kuda_core.locate.runner import Runner
from kuda_core.locate.reference import iter_trace_reference, restored_probability, trace_reference
from kuda_core.locate.config import KINDS, MAX_SAMPLES, TraceConfig, TraceResult, restore_layers
from kuda_core.locate.inputs import embedding_noise_scale, prepare
from kuda_core.streams import drain

__all__ = [
    "KINDS", "MAX_SAMPLES", "TraceConfig", "TraceResult", "embedding_noise_scale", "iter_trace",
    "iter_trace_reference", "restore_layers", "restored_probability", "trace", "trace_reference",
]


def iter_trace(
    lm: LoadedModel, prompt: str, subject: str, answer: str | None = None,
    config: TraceConfig = TraceConfig(), *, noise_subjects: Sequence[str] | None = None,
) -> Iterator[TraceResult]:
    """iter_trace(lm, prompt, subject, " Paris", config) -> a TraceResult after each token row.

    answer None traces the model's greedy prediction; a given answer that is not the prediction
    is traced anyway and reported in `warnings`. noise_subjects: subjects for the noise scale when
    config.noise is None (default: the probe subjects). No hooks stay on the model between yields,
    so closing the generator early leaves the model as it was. Models the fast path does not know
    fall back to the reference algorithm (with a warning).
    """
    try:
        runner = Runner(lm)
    except NotImplementedError as error:
        for result in iter_trace_reference(lm, prompt, subject, answer, config, noise_subjects=noise_subjects):
            yield replace(result, warnings=result.warnings + (f"slow reference tracing: {error}",))
        return
    prep = prepare(lm, prompt, subject, answer, config, noise_subjects)
    n_tokens, n_layers = prep.ids.shape[1], lm.n_layers
    with torch.inference_mode():
        base = base_run(runner, prep, config)
    if base.p_corrupt > 0.9 * base.p_clean:
        prep.warnings.append(
            f"The noise barely lowers p(answer) ({base.p_clean:.3f} -> {base.p_corrupt:.3f}): effects will be small"
        )
    scores = np.full((n_tokens, n_layers), np.nan)
    for token in range(n_tokens):
        with torch.inference_mode():
            fill_row(runner, prep, base, config, token, scores)
        yield prep.result(config, scores, token + 1, base.p_clean, base.p_corrupt)


def trace(
    lm: LoadedModel, prompt: str, subject: str, answer: str | None = None,
    config: TraceConfig = TraceConfig(), *, noise_subjects: Sequence[str] | None = None,
) -> TraceResult:
    """trace(lm, prompt, subject, " Paris", TraceConfig(kind="mlp")) -> the finished TraceResult."""
    return drain(iter_trace(lm, prompt, subject, answer, config, noise_subjects=noise_subjects))
