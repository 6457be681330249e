"""How far did the representations move? Per-layer drift, KRD and a shared PCA view.

    >>> d = layer_drift(lm, snap, forget_prompts)              # DriftResult over every layer
    >>> d.cosine, d.relative_l2                                # (L,) each: 1 - cos, |h - h0| / |h0|
    >>> krd(lm, snap, forget_prompts, layers=[4, 5, 6])        # mean 1 - cos of MLP outputs
    >>> p = pca_view(lm, snap, forget_prompts, retain_prompts, layer=5)
    >>> p.points["forget (before)"]                            # (N, 2) in one shared basis

"Before" states come from the same model with the snapshot's original weights swapped in. For a
token whose state did not change at all, drift is exactly 0 (not 1 - cos(h, h) rounding noise),
so an unchanged model reads 0 everywhere.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.decomposition import PCA

from kuda_core.model.hooks import Hooks
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.model.tokens import batch_encode, subject_range

SITES = ("block", "mlp")
POSITIONS = ("all", "last", "subject")


@dataclass(frozen=True)
class DriftConfig:
    site: str = "block"        # "block" (residual stream after the block) or "mlp" (MLP output)
    positions: str = "all"     # "all" tokens, the "last" token, or "subject" tokens + last token
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.site not in SITES:
            raise ValueError(f"site must be one of {SITES}, got {self.site!r}")
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {self.positions!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")


@dataclass(frozen=True)
class DriftResult:
    layers: np.ndarray         # (L,) layer indices
    cosine: np.ndarray         # (L,) mean over tokens of 1 - cos(h, h0); 0 unchanged, 1 orthogonal
    relative_l2: np.ndarray    # (L,) mean over tokens of |h - h0| / |h0|
    n_tokens: int
    site: str


@dataclass(frozen=True)
class PCAView:
    layer: int
    points: dict[str, np.ndarray]              # group -> (N, 2): forget/retain x before/after
    explained: tuple[float, float]              # explained variance ratio of the two axes
    prompts: dict[str, list[str]] = field(default_factory=dict)


def _template(lm: LoadedModel, site: str) -> str:
    return lm.spec.block if site == "block" else lm.spec.mlp


def _token_mask(lm: LoadedModel, prompts: Sequence[str], subjects: Sequence[str] | None,
                attention: torch.Tensor, positions: str) -> torch.Tensor:
    """(B, T) bool mask of the positions that count."""
    mask = attention.bool().clone()                                   # (B, T)
    if positions == "all":
        return mask
    last = attention.sum(1) - 1                                       # (B,)
    chosen = torch.zeros_like(mask)
    chosen[torch.arange(len(prompts)), last] = True
    if positions == "subject":
        if subjects is None or len(subjects) != len(prompts):
            raise ValueError("positions='subject' needs one subject per prompt")
        for row, (prompt, subject) in enumerate(zip(prompts, subjects)):
            start, end = subject_range(lm.tokenizer, prompt, subject)
            chosen[row, start:end] = True
    return chosen & mask


@torch.no_grad()
def collect_states(
    lm: LoadedModel,
    prompts: Sequence[str],
    layers: Sequence[int],
    config: DriftConfig = DriftConfig(),
    subjects: Sequence[str] | None = None,
) -> dict[int, torch.Tensor]:
    """{layer: (N_tokens, d) float32 CPU} of the chosen positions, rows in prompt order."""
    if not prompts:
        raise ValueError("No prompts")
    names = {layer: _template(lm, config.site).format(layer) for layer in layers}
    found: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for start in range(0, len(prompts), config.batch_size):
        chunk = list(prompts[start:start + config.batch_size])
        chunk_subjects = list(subjects[start:start + config.batch_size]) if subjects is not None else None
        batch = batch_encode(lm.tokenizer, chunk, lm.device)
        mask = _token_mask(lm, chunk, chunk_subjects, batch["attention_mask"].cpu(), config.positions)
        with Hooks(lm.model, capture_outputs=list(names.values())) as rec:
            lm.model(**batch)
        for layer, name in names.items():
            found[layer].append(rec.outputs[name].float().cpu()[mask])   # (n, d)
    return {layer: torch.cat(parts) for layer, parts in found.items()}


def _original(lm: LoadedModel, snapshot: WeightSnapshot | None):
    return snapshot.original(lm.model) if snapshot is not None else nullcontext()


def drift_between(current: torch.Tensor, original: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (1 - cos, relative L2) of (N, d) states; rows that are bit-identical give 0."""
    same = (current == original).all(dim=-1)                                        # (N,)
    cos = torch.nn.functional.cosine_similarity(current.double(), original.double(), dim=-1)
    one_minus = (1.0 - cos).clamp(min=0.0).masked_fill(same, 0.0)                  # (N,)
    rel = ((current - original).double().norm(dim=-1) / original.double().norm(dim=-1).clamp(min=1e-12))
    rel = rel.masked_fill(same, 0.0)                                                # (N,)
    return one_minus.numpy(), rel.numpy()


def layer_drift(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    prompts: Sequence[str],
    config: DriftConfig = DriftConfig(),
    layers: Sequence[int] | None = None,
    subjects: Sequence[str] | None = None,
) -> DriftResult:
    """layer_drift(lm, snap, prompts) -> DriftResult for every layer (or `layers`)."""
    layers = list(range(lm.n_layers)) if layers is None else [int(x) for x in layers]
    bad = [x for x in layers if not 0 <= x < lm.n_layers]
    if bad:
        raise ValueError(f"Layers {bad} out of range 0..{lm.n_layers - 1}")
    now = collect_states(lm, prompts, layers, config, subjects)
    with _original(lm, snapshot):
        before = collect_states(lm, prompts, layers, config, subjects)
    cosine, relative = [], []
    for layer in layers:
        one_minus, rel = drift_between(now[layer], before[layer])
        cosine.append(float(one_minus.mean()) if one_minus.size else 0.0)
        relative.append(float(rel.mean()) if rel.size else 0.0)
    n_tokens = int(now[layers[0]].shape[0]) if layers else 0
    return DriftResult(np.array(layers), np.array(cosine), np.array(relative), n_tokens, config.site)


def krd(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    prompts: Sequence[str],
    layers: Sequence[int],
    subjects: Sequence[str] | None = None,
    batch_size: int = 16,
) -> float:
    """KRD: mean over tokens and `layers` of 1 - cos(v, v0), v the MLP output.

    Tokens: the subject tokens plus the last token when `subjects` are given (the tokens the
    forget loss acts on), else every token.
    """
    if not layers:
        raise ValueError("KRD needs at least one layer")
    config = DriftConfig(site="mlp", positions="subject" if subjects is not None else "all", batch_size=batch_size)
    result = layer_drift(lm, snapshot, prompts, config, layers, subjects)
    return float(result.cosine.mean())


def pca_view(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    forget_prompts: Sequence[str],
    retain_prompts: Sequence[str],
    layer: int,
    site: str = "block",
    fit_on: str = "all",
) -> PCAView:
    """Last-token states of forget and retain prompts before and after, projected on 2 axes.

    fit_on="all" fits the PCA on all four groups, "before" on the original states only; either
    way every group is projected with the same basis.
    """
    if fit_on not in ("all", "before"):
        raise ValueError(f"fit_on must be 'all' or 'before', got {fit_on!r}")
    if not 0 <= layer < lm.n_layers:
        raise ValueError(f"layer {layer} out of range 0..{lm.n_layers - 1}")
    config = DriftConfig(site=site, positions="last")
    groups = {"forget": list(forget_prompts), "retain": list(retain_prompts)}
    states: dict[str, np.ndarray] = {}
    for name, prompts in groups.items():
        if prompts:
            states[f"{name} (after)"] = collect_states(lm, prompts, [layer], config)[layer].numpy()
    with _original(lm, snapshot):
        for name, prompts in groups.items():
            if prompts:
                states[f"{name} (before)"] = collect_states(lm, prompts, [layer], config)[layer].numpy()
    fit_rows = [v for k, v in states.items() if fit_on == "all" or k.endswith("(before)")]
    stacked = np.concatenate(fit_rows)                                             # (M, d)
    if stacked.shape[0] < 2:
        raise ValueError("PCA needs at least two prompts in total")
    pca = PCA(n_components=2).fit(stacked)
    points = {k: pca.transform(v) for k, v in sorted(states.items())}
    prompts_by_group = {k: groups[k.split(" ")[0]] for k in points}
    ratio = pca.explained_variance_ratio_
    return PCAView(layer, points, (float(ratio[0]), float(ratio[1])), prompts_by_group)
