"""What every causal trace shares: its configuration, result, noise and prepared inputs.

    >>> config = TraceConfig(kind="mlp", samples=10)
    >>> prep = prepare(lm, prompt, "Eiffel Tower", " Paris", config, noise_subjects=None)
    >>> prep.ids, prep.subject_range, prep.noise.shape        # (1, T), (start, end), (S, n_subject, d)
    >>> restore_layers("mlp", 6, 30)                           # layers restored for cell layer 6

Used by the fast path (trace_fast) and the reference (trace_reference); kuda_core.tracing is the
public entry point.
"""
from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kuda_core.models import LoadedModel
from kuda_core.tokens import answer_token_id, subject_range

KINDS = ("hidden", "mlp", "attn")
MAX_SAMPLES = 100


@dataclass(frozen=True)
class TraceConfig:
    """TraceConfig(kind="mlp", samples=10, noise=None, window=10, seed=0, exclude_layer0=True).

    Windows are clipped to layers 0..L-1 as in ROME, so a window larger than the depth is allowed
    (with window >= 2L every window covers all layers); the result carries a warning saying so.
    """

    kind: str = "hidden"           # "hidden" block output | "mlp" / "attn" sublayer outputs
    samples: int = 10              # corrupted copies, 1..100 (ROME: 10)
    noise: float | None = None     # std of the embedding noise; None = noise_factor x subject embedding std
    noise_factor: float = 3.0      # ROME: 3 x std of subject-token embeddings
    window: int = 10               # layers restored together for mlp / attn (ROME: 10)
    seed: int = 0                  # seed of the noise, drawn once and shared by every cell
    exclude_layer0: bool = True    # leave layer 0 out of mlp / attn windows (METHOD.md step 2)
    max_batch_tokens: int = 8192   # fast path: rows x positions per forward pass (memory bound)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or not 1 <= self.samples <= MAX_SAMPLES:
            raise ValueError(f"samples must be an integer in 1..{MAX_SAMPLES}, got {self.samples!r}")
        if self.noise is not None and not (isinstance(self.noise, (int, float)) and math.isfinite(self.noise) and self.noise > 0):
            raise ValueError(f"noise must be a positive finite float or None, got {self.noise!r}")
        if not (isinstance(self.noise_factor, (int, float)) and math.isfinite(self.noise_factor) and self.noise_factor > 0):
            raise ValueError(f"noise_factor must be a positive finite float, got {self.noise_factor!r}")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise ValueError(f"window must be an integer >= 1, got {self.window!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if isinstance(self.max_batch_tokens, bool) or not isinstance(self.max_batch_tokens, int) or self.max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be an integer >= 1, got {self.max_batch_tokens!r}")


@dataclass(frozen=True)
class TraceResult:
    """One (possibly partial) trace; `scores[t, l]` = mean p(answer) with cell (t, l) restored."""

    prompt: str
    subject: str
    tokens: tuple[str, ...]            # decoded prompt tokens, length T
    subject_range: tuple[int, int]     # half-open token range [start, end) of the subject
    kind: str
    answer: str                        # traced answer (as given, or the model's greedy token)
    answer_id: int                     # its first token: the one scored
    prediction: str                    # the model's greedy next token on the clean prompt
    prediction_id: int
    p_clean: float                     # p(answer | prompt)
    p_corrupt: float                   # mean p(answer) over the corrupted copies, nothing restored
    scores: np.ndarray                 # (T, L) p(answer) with the cell restored; NaN = not computed yet
    rows_done: int                     # token rows finished (rows are computed in order)
    noise: float                       # std of the noise that was used
    config: TraceConfig
    warnings: tuple[str, ...] = ()

    @property
    def indirect_effect(self) -> np.ndarray:
        """(T, L) p_restored - p_corrupt (NaN where not computed yet)."""
        return self.scores - self.p_corrupt

    @property
    def answer_is_prediction(self) -> bool:
        return self.answer_id == self.prediction_id

    @property
    def done(self) -> bool:
        return self.rows_done == len(self.tokens)

    @property
    def n_layers(self) -> int:
        return self.scores.shape[1]


# ----------------------------------------------------------------------------------------------
# windows, noise


def restore_layers(kind: str, layer: int, n_layers: int, window: int = 10, exclude_layer0: bool = True) -> tuple[int, ...]:
    """restore_layers("mlp", 6, 30) -> (1, ..., 10): the layers restored for cell layer `layer`.

    hidden: (layer,). mlp / attn: range(max(0, l - w//2), min(L, l - (-w//2))), without layer 0
    when exclude_layer0 (may be empty for window 1 at layer 0: that cell equals p_corrupt).
    """
    if kind == "hidden":
        return (layer,)
    low, high = max(0, layer - window // 2), min(n_layers, layer - (-window // 2))
    return tuple(j for j in range(low, high) if not (exclude_layer0 and j == 0))


_NOISE_CACHE: "weakref.WeakKeyDictionary[torch.nn.Module, dict]" = weakref.WeakKeyDictionary()


def embedding_noise_scale(lm: LoadedModel, subjects: Iterable[str], factor: float = 3.0) -> float:
    """embedding_noise_scale(lm, ["Eiffel Tower", "Paris"]) -> factor x std of their token embeddings.

    The std runs over every element of the subjects' input embeddings (ROME's collect_embedding_std);
    cached per model, subject list and factor (and recomputed if the embedding weight changes).
    """
    subjects = tuple(s for s in subjects if s and s.strip())
    if not subjects:
        raise ValueError("embedding_noise_scale needs at least one non-empty subject")
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"factor must be a positive finite float, got {factor!r}")
    embedding = lm.model.get_input_embeddings()
    key = (subjects, float(factor), embedding.weight._version)
    per_model = _NOISE_CACHE.setdefault(lm.model, {})
    if key not in per_model:
        ids = [i for s in subjects for i in lm.tokenizer(s, add_special_tokens=False)["input_ids"]]
        if not ids:
            raise ValueError(f"The subjects {subjects!r} tokenize to nothing")
        with torch.inference_mode():
            vectors = embedding(torch.tensor(ids, device=embedding.weight.device))  # (N, d)
            per_model[key] = factor * vectors.float().std().item()
    return per_model[key]


def _default_noise_subjects(subject: str) -> tuple[list[str], str | None]:
    """Probe subjects when the probe set loads, else the traced subject (with a warning)."""
    try:
        from kuda_core.probes import load_probes

        subjects = [fact.subject for fact in load_probes()]
        if subjects:
            return subjects, None
    except Exception:  # noqa: BLE001  (any missing or broken probe file: fall back, and say so)
        pass
    return [subject], "noise scale measured on the traced subject only (probe set unavailable)"


def _draw_noise(config: TraceConfig, n_tokens: int, width: int, scale: float, lm: LoadedModel) -> torch.Tensor:
    """Noise (samples, n_subject_tokens, d), drawn on the CPU from config.seed: same on every device."""
    generator = torch.Generator().manual_seed(config.seed)
    noise = torch.randn((config.samples, n_tokens, width), generator=generator) * scale  # (S, n, d)
    return noise.to(lm.device, lm.model.get_input_embeddings().weight.dtype)


# ----------------------------------------------------------------------------------------------
# shared preparation


@dataclass
class Prepared:
    prompt: str
    subject: str
    ids: torch.Tensor                  # (1, T)
    tokens: tuple[str, ...]
    subject_range: tuple[int, int]
    answer: str
    answer_id: int
    prediction: str
    prediction_id: int
    noise_scale: float
    noise: torch.Tensor                # (S, n_subject, d)
    warnings: list[str]

    def result(self, config: TraceConfig, scores: np.ndarray, rows_done: int, p_clean: float, p_corrupt: float) -> TraceResult:
        return TraceResult(
            prompt=self.prompt, subject=self.subject, tokens=self.tokens, subject_range=self.subject_range,
            kind=config.kind, answer=self.answer, answer_id=self.answer_id, prediction=self.prediction,
            p_clean=p_clean, p_corrupt=p_corrupt, scores=scores.copy(), rows_done=rows_done,
            prediction_id=self.prediction_id, noise=self.noise_scale, config=config, warnings=tuple(self.warnings),
        )


def _context_length(model) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def prepare(
    lm: LoadedModel, prompt: str, subject: str, answer: str | None, config: TraceConfig,
    noise_subjects: Sequence[str] | None,
) -> Prepared:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"The prompt is empty: {prompt!r}")
    if not isinstance(subject, str):
        raise ValueError(f"The subject must be a string, got {subject!r}")
    tokenizer, model = lm.tokenizer, lm.model
    start, end = subject_range(tokenizer, prompt, subject)  # ValueError / LookupError
    ids = tokenizer(prompt, add_special_tokens=True, return_tensors="pt")["input_ids"].to(lm.device)  # (1, T)
    limit = _context_length(model)
    if limit is not None and ids.shape[1] > limit:
        raise ValueError(f"The prompt has {ids.shape[1]} tokens, more than the model's context of {limit}")
    warnings: list[str] = []
    if answer is not None:
        if not isinstance(answer, str) or not answer:
            raise ValueError(f"The answer {answer!r} tokenizes to nothing")
        answer_id = answer_token_id(tokenizer, answer)  # ValueError when it tokenizes to nothing
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, -1].float()  # (V,)
    probs = torch.softmax(logits, -1)
    prediction_id = int(probs.argmax())
    prediction = tokenizer.decode([prediction_id])
    if answer is None:
        answer, answer_id = prediction, prediction_id
    elif answer_id != prediction_id:
        warnings.append(
            f"The model predicts {prediction!r} (p={probs[prediction_id].item():.3f}), not {answer!r} "
            f"(p={probs[answer_id].item():.3f}); the trace follows {tokenizer.decode([answer_id])!r}."
        )
    if config.noise is not None:
        scale = float(config.noise)
    else:
        subjects = list(noise_subjects) if noise_subjects else None
        if subjects is None:
            subjects, note = _default_noise_subjects(subject)
            if note:
                warnings.append(note)
        scale = embedding_noise_scale(lm, subjects, config.noise_factor)
    if config.kind != "hidden" and config.window > lm.n_layers:
        warnings.append(
            f"window {config.window} exceeds the depth {lm.n_layers}: every window is clipped to layers 0..{lm.n_layers - 1}"
        )
    width = model.get_input_embeddings().weight.shape[1]
    return Prepared(
        prompt=prompt, subject=subject, ids=ids,
        tokens=tuple(tokenizer.decode([i]) for i in ids[0].tolist()), subject_range=(start, end),
        answer=answer, answer_id=answer_id, prediction=prediction, prediction_id=prediction_id,
        noise_scale=scale, noise=_draw_noise(config, end - start, width, scale, lm),
        warnings=warnings,
    )


def noise_edit(noise: torch.Tensor, start: int, end: int, first_row: int):
    """Edit callback adding `noise` (S, n, d) to rows first_row.. at the subject positions."""

    def edit(x: torch.Tensor, name: str) -> torch.Tensor:
        x = x.clone()
        x[first_row:, start:end] += noise
        return x

    return edit


def sublayer_template(lm: LoadedModel, kind: str) -> str:
    return {"hidden": lm.spec.block, "mlp": lm.spec.mlp, "attn": lm.spec.attn}[kind]


def answer_probability(logits: torch.Tensor, answer_id: int) -> torch.Tensor:
    """(B, V) logits -> (B,) p(answer) = exp(z_answer - logsumexp(z)), in float32."""
    logits = logits.float()
    return torch.exp(logits[:, answer_id] - torch.logsumexp(logits, dim=-1))
