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

Speed: restoring token t at layer l cannot change positions before t nor anything below the first
restored layer, and every cell shares the same clean and corrupted runs. The fast path runs those
two once, keeping every residual state and the corrupted keys / values. A cell of row t then runs
only positions >= t from the layer after its first restored one (that layer changes position t
alone and is finished from the cached states), with the keys / values of positions < t read from
the cache. All cells of a row share one growing batch; cells whose restore windows start alike
share rows until their windows part (then the rows fork). The last block runs its MLP at the last
position only; restored MLP outputs are not computed. Rows before the subject, and hidden-state
cells at the last layer away from the last token, are exact no-ops and filled with p_corrupt.
Costs, for a 10-token prompt on SmolLM2-135M: bench/trace_speed.py.
"""
from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from kuda_core.architectures import get_module
from kuda_core.hooks import Hooks, first_tensor
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
class _Prepared:
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


def _prepare(
    lm: LoadedModel, prompt: str, subject: str, answer: str | None, config: TraceConfig,
    noise_subjects: Sequence[str] | None,
) -> _Prepared:
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
    return _Prepared(
        prompt=prompt, subject=subject, ids=ids,
        tokens=tuple(tokenizer.decode([i]) for i in ids[0].tolist()), subject_range=(start, end),
        answer=answer, answer_id=answer_id, prediction=prediction, prediction_id=prediction_id,
        noise_scale=scale, noise=_draw_noise(config, end - start, width, scale, lm),
        warnings=warnings,
    )


def _noise_edit(noise: torch.Tensor, start: int, end: int, first_row: int):
    """Edit callback adding `noise` (S, n, d) to rows first_row.. at the subject positions."""

    def edit(x: torch.Tensor, name: str) -> torch.Tensor:
        x = x.clone()
        x[first_row:, start:end] += noise
        return x

    return edit


def _sublayer_template(lm: LoadedModel, kind: str) -> str:
    return {"hidden": lm.spec.block, "mlp": lm.spec.mlp, "attn": lm.spec.attn}[kind]


def _answer_prob(logits: torch.Tensor, answer_id: int) -> torch.Tensor:
    """(B, V) logits -> (B,) p(answer), softmax in float32."""
    return torch.softmax(logits.float(), dim=-1)[:, answer_id]


# ----------------------------------------------------------------------------------------------
# reference: one forward pass of 1 + samples rows per cell, with hooks (ROME's trace_with_patch)


def _restored_run(lm: LoadedModel, prep: _Prepared, config: TraceConfig, tokens: Sequence[int], layers: Sequence[int]) -> tuple[float, float]:
    """One forward pass of 1 + S rows (row 0 clean): (p_clean, mean p over the corrupted rows)."""
    ids = prep.ids.repeat(1 + config.samples, 1)  # (1 + S, T)
    tokens = list(tokens)

    def restore(x: torch.Tensor, name: str) -> torch.Tensor:
        x = x.clone()
        x[1:, tokens] = x[:1, tokens]
        return x

    template = _sublayer_template(lm, config.kind)
    edits = {
        lm.spec.embed: _noise_edit(prep.noise, *prep.subject_range, first_row=1),
        **({template.format(j): restore for j in layers} if tokens else {}),
    }
    with torch.inference_mode(), Hooks(lm.model, edit_outputs=edits):
        probs = _answer_prob(lm.model(input_ids=ids).logits[:, -1], prep.answer_id)  # (1 + S,)
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
    prep = _prepare(lm, prompt, subject, answer, config, noise_subjects)
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
    prep = _prepare(lm, prompt, subject, answer, config, noise_subjects)
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
    result = None
    for result in iter_trace_reference(lm, prompt, subject, answer, config, noise_subjects=noise_subjects):
        pass
    return result


# ----------------------------------------------------------------------------------------------
# fast path: run the sublayers by hand with a cached K/V prefix

# Pre-norm blocks: out = mid + mlp(norm2(mid)), mid = x + attn(norm1(x)). Attribute names inside one
# block (spec.block), per family; _Runner checks the decomposition against the block itself.
_BLOCK_PARTS = {
    "gpt2": ("ln_1", "attn", "ln_2", "mlp"),
    "llama": ("input_layernorm", "self_attn", "post_attention_layernorm", "mlp"),
}


class _Stop(Exception):
    pass


class _KV:
    """Duck-typed K/V cache for hand-run attention: prepends a per-layer prefix, optionally records.

    prefix[j] = (keys, values), each (S, H_kv, t, hd), shared by every track; a batch of k tracks
    x S samples (track-major rows) sees it tiled k times.
    """

    def __init__(self, prefix: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None, record: bool = False):
        self.prefix = prefix or {}
        self.recorded: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.record = record

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        if self.record:
            self.recorded[layer_idx] = (key_states, value_states)
        past = self.prefix.get(layer_idx)
        if past is None:
            return key_states, value_states
        keys, values = past
        repeat = key_states.shape[0] // keys.shape[0]
        keys = keys.repeat(repeat, 1, 1, 1)  # (B, H_kv, t, hd)
        values = values.repeat(repeat, 1, 1, 1)
        return torch.cat([keys, key_states], dim=-2), torch.cat([values, value_states], dim=-2)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        past = self.prefix.get(layer_idx)
        return 0 if past is None else past[0].shape[-2]


def _cache_kwarg(module: torch.nn.Module) -> str:
    """Name of the K/V cache argument of an attention module (`cache` in transformers 5)."""
    parameters = inspect.signature(module.forward).parameters
    for name in ("cache", "past_key_values", "past_key_value", "layer_past"):
        if name in parameters:
            return name
    raise NotImplementedError(f"Cannot find the cache argument of {type(module).__name__}.forward")


Patch = tuple[torch.Tensor, torch.Tensor] | None  # (row indices, (d,) value written at position 0)


class _Runner:
    """Runs the two halves of each block by hand on (B, n, d) states at positions [offset, offset + n).

    Keys / values of positions < offset come from a _KV prefix. Masks are float and additive (eager
    and sdpa attention accept them). NotImplementedError when the model does not fit.
    """

    def __init__(self, lm: LoadedModel):
        model, spec = lm.model, lm.spec
        implementation = getattr(model.config, "_attn_implementation", "eager")
        if implementation not in ("eager", "sdpa"):
            raise NotImplementedError(f"fast tracing supports eager / sdpa attention, not {implementation!r}")
        if spec.family not in _BLOCK_PARTS:
            raise NotImplementedError(f"fast tracing does not know the blocks of the {spec.family!r} family")
        self.lm = lm
        blocks = get_module(model, spec.layers)
        try:
            self.parts = [tuple(getattr(block, name) for name in _BLOCK_PARTS[spec.family]) for block in blocks]
        except AttributeError as error:
            raise NotImplementedError(f"unexpected block layout: {error}") from None
        base = get_module(model, spec.layers.rsplit(".", 1)[0])
        self.rotary = getattr(base, "rotary_emb", None)  # Llama family: one rotary embedding for all layers
        self.final_norm = get_module(model, spec.final_norm)
        self.lm_head = get_module(model, spec.lm_head)
        self.cache_name = _cache_kwarg(self.parts[0][1])
        self._check(blocks[0])

    def _check(self, block: torch.nn.Module) -> None:
        """The hand-run halves must reproduce block 0 on a random input."""
        weight = self.lm.model.get_input_embeddings().weight
        generator = torch.Generator().manual_seed(0)
        hidden = torch.randn((1, 3, weight.shape[1]), generator=generator).to(weight.device, weight.dtype)  # (1, 3, d)
        with torch.inference_mode():
            geometry = self.geometry(0, 3, hidden)
            expected = first_tensor(block(hidden, **{self.cache_name: _KV()}, **geometry, use_cache=True))
            got = self.feed_forward(0, self.attention(0, hidden, _KV(), geometry))
        if not torch.allclose(expected, got, rtol=1e-4, atol=1e-5):
            raise NotImplementedError("the hand-run block does not match the model's block")

    def geometry(self, offset: int, n: int, like: torch.Tensor) -> dict:
        """Keyword arguments of every attention call for positions [offset, offset + n)."""
        positions = torch.arange(offset, offset + n, device=like.device).unsqueeze(0)  # (1, n)
        keys = torch.arange(offset + n, device=like.device)
        blocked = keys.unsqueeze(0) > positions.squeeze(0).unsqueeze(1)  # (n, offset + n): key after query
        mask = torch.zeros(blocked.shape, dtype=like.dtype, device=like.device)
        mask = mask.masked_fill(blocked, torch.finfo(like.dtype).min)[None, None]  # (1, 1, n, offset + n)
        geometry = {"attention_mask": mask, "position_ids": positions}
        if self.rotary is not None:
            geometry["position_embeddings"] = self.rotary(like, positions)
        return geometry

    def attention(self, layer: int, hidden: torch.Tensor, cache: _KV, geometry: dict, patch: Patch = None) -> torch.Tensor:
        """(B, n, d) block input -> (B, n, d) residual after attention; patch sets the attention output."""
        norm, attention, _, _ = self.parts[layer]
        output = first_tensor(attention(norm(hidden), **{self.cache_name: cache}, **geometry))  # (B, n, d)
        if patch is not None:
            output[patch[0], 0] = patch[1]
        return hidden + output

    def feed_forward(self, layer: int, middle: torch.Tensor, patch: Patch = None) -> torch.Tensor:
        """(B, n, d) residual after attention -> (B, n, d) block output; patch sets the MLP output."""
        _, _, norm, mlp = self.parts[layer]
        if patch is None:
            return middle + first_tensor(mlp(norm(middle)))
        # the patched states are overwritten anyway: run the MLP on the other (row, position) pairs only
        keep = torch.ones(middle.shape[:2], dtype=torch.bool, device=middle.device)  # (B, n)
        keep[patch[0], 0] = False
        index = keep.view(-1).nonzero().squeeze(1)  # (N,)
        flat = middle.reshape(-1, middle.shape[-1])  # (B * n, d)
        output = torch.empty_like(flat)
        if len(index):
            output[index] = first_tensor(mlp(norm(flat[index].unsqueeze(0))))[0]  # (N, d)
        output = output.view(middle.shape)
        output[patch[0], 0] = patch[1]
        return middle + output

    def answer_prob(self, last: torch.Tensor, answer_id: int) -> torch.Tensor:
        """(B, d) final residual states -> (B,) p(answer) = exp(z_answer - logsumexp(z)), in float32."""
        logits = self.lm_head(self.final_norm(last)).float()  # (B, V)
        return torch.exp(logits[:, answer_id] - torch.logsumexp(logits, dim=-1))


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
class _Base:
    """The clean (row 0) and corrupted (rows 1..S) runs, shared by every cell."""

    inputs: list[torch.Tensor]               # [l] (1 + S, T, d) input of block l; [L] = final states
    middle: list[torch.Tensor]               # [l] (1 + S, T, d) residual after the attention of block l
    clean: list[torch.Tensor]                # [l] (1, T, d) clean mlp / attn output (empty for hidden)
    kv: dict[int, tuple[torch.Tensor, torch.Tensor]]  # [l] corrupted keys, values (S, H_kv, T, hd)
    p_clean: float
    p_corrupt: float


def _base_run(runner: _Runner, prep: _Prepared, config: TraceConfig) -> _Base:
    lm = runner.lm
    ids = prep.ids.repeat(1 + config.samples, 1)  # (1 + S, T)
    hidden = _block0_input(lm, ids, _noise_edit(prep.noise, *prep.subject_range, first_row=1))  # (1 + S, T, d)
    cache, geometry = _KV(record=True), runner.geometry(0, ids.shape[1], hidden)
    names = [] if config.kind == "hidden" else lm.spec.names(_sublayer_template(lm, config.kind), lm.n_layers)
    inputs, middle = [hidden], []
    with Hooks(lm.model, capture_outputs=names) as rec:
        for layer in range(lm.n_layers):
            middle.append(runner.attention(layer, hidden, cache, geometry))
            hidden = runner.feed_forward(layer, middle[-1])
            inputs.append(hidden)
    probs = runner.answer_prob(hidden[:, -1], prep.answer_id)  # (1 + S,)
    return _Base(
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


def _row_cells(runner: _Runner, base: _Base, config: TraceConfig, token: int) -> tuple[list[_Cell], list[int]]:
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


def _run_cells(runner: _Runner, prep: _Prepared, base: _Base, config: TraceConfig, token: int, cells: list[_Cell]) -> list[float]:
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
        cache = _KV(prefix)
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
        runner = _Runner(lm)
    except NotImplementedError as error:
        for result in iter_trace_reference(lm, prompt, subject, answer, config, noise_subjects=noise_subjects):
            yield replace(result, warnings=result.warnings + (f"slow reference tracing: {error}",))
        return
    prep = _prepare(lm, prompt, subject, answer, config, noise_subjects)
    n_tokens, n_layers = prep.ids.shape[1], lm.n_layers
    with torch.inference_mode():
        base = _base_run(runner, prep, config)
    if base.p_corrupt > 0.9 * base.p_clean:
        prep.warnings.append(
            f"The noise barely lowers p(answer) ({base.p_clean:.3f} -> {base.p_corrupt:.3f}): effects will be small"
        )
    scores = np.full((n_tokens, n_layers), np.nan)
    for token in range(n_tokens):
        if token < prep.subject_range[0]:
            scores[token] = base.p_corrupt  # clean and corrupted states agree before the subject
        else:
            with torch.inference_mode():
                cells, unchanged = _row_cells(runner, base, config, token)
                scores[token, unchanged] = base.p_corrupt
                size = max(1, config.max_batch_tokens // (config.samples * (n_tokens - token)))
                for chunk in _chunks(cells, size) if cells else ():
                    for cell, value in zip(chunk, _run_cells(runner, prep, base, config, token, chunk)):
                        scores[token, cell.layer] = value
        yield prep.result(config, scores, token + 1, base.p_clean, base.p_corrupt)


def trace(
    lm: LoadedModel, prompt: str, subject: str, answer: str | None = None,
    config: TraceConfig = TraceConfig(), *, noise_subjects: Sequence[str] | None = None,
) -> TraceResult:
    """trace(lm, prompt, subject, " Paris", TraceConfig(kind="mlp")) -> the finished TraceResult."""
    result = None
    for result in iter_trace(lm, prompt, subject, answer, config, noise_subjects=noise_subjects):
        pass
    return result
