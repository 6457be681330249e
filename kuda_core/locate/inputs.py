"""The inputs every causal trace shares: tokens, subject range, answer, noise.

    >>> prep = prepare(lm, prompt, "Eiffel Tower", " Paris", config, noise_subjects=None)
    >>> prep.ids, prep.subject_range, prep.noise.shape        # (1, T), (start, end), (S, n_subject, d)
    >>> embedding_noise_scale(lm, ["Eiffel Tower", "Paris"])  # 3 x std of their embeddings

Used by the fast path (locate.fast) and the reference (locate.reference); locate.tracing is the
public entry point.
"""
from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kuda_core.data.probes import load_probes
from kuda_core.locate.config import TraceConfig, TraceResult
from kuda_core.model.loading import LoadedModel
from kuda_core.model.tokens import answer_token_id, subject_range, token_text

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
    if ids.shape[1] > lm.context_length:
        raise ValueError(f"The prompt has {ids.shape[1]} tokens, more than the model's context of {lm.context_length}")
    warnings: list[str] = []
    if answer is not None:
        if not isinstance(answer, str) or not answer:
            raise ValueError(f"The answer {answer!r} tokenizes to nothing")
        answer_id = answer_token_id(tokenizer, prompt, answer)  # ValueError when it tokenizes to nothing
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, -1].float()  # (V,)
    probs = torch.softmax(logits, -1)
    prediction_id = int(probs.argmax())
    prediction = token_text(tokenizer, prediction_id)
    if answer is None:
        answer, answer_id = prediction, prediction_id
    elif answer_id != prediction_id:
        warnings.append(
            f"The model predicts {prediction!r} (p={probs[prediction_id].item():.3f}), not {answer!r} "
            f"(p={probs[answer_id].item():.3f}); the trace follows {token_text(tokenizer, answer_id)!r}."
        )
    if config.noise is not None:
        scale = float(config.noise)
    else:
        subjects = list(noise_subjects) if noise_subjects else [fact.subject for fact in load_probes()]
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
