"""Relaxed null-space projection of weight updates (protects retained knowledge).

    >>> acc = KeyCovariance(d_in)                  # keys = inputs of the edited projection
    >>> acc.add(keys)                              # (N, d_in), non-padding tokens only
    >>> spectrum = eigen(acc.covariance())         # float64 eigendecomposition, ascending
    >>> P = relaxed_projector(spectrum, tau=1e-2, tau_mode="relative", gamma=0.0)   # (d_in, d_in)
    >>> delta = project_step(delta, P, transposed=False)   # ΔW·P (Linear) or P·ΔW (Conv1D)
    >>> proj = low_rank_projector(spectrum, 1e-2)          # the same P, cheaper: proj.apply(delta, False)

Idea: collect the keys k of retained text, C = KᵀK / N. Eigen-directions with eigenvalue ≤ τ
(times the largest eigenvalue by default, times the median one, or absolute) count as "null":
retained keys barely reach them, so a
weight change restricted to them, ΔW·P with P = U₀U₀ᵀ, leaves ΔW·k_r ≈ 0. The leak γ mixes in the
rest: P_γ = P + γ(I − P).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable

import torch

TAU_MODES = ("relative", "median", "absolute")


class KeyCovariance:
    """Running float64 sum of kᵀk over keys: acc.add(K (N, d)); acc.covariance() -> (d, d)."""

    def __init__(self, dim: int):
        if dim <= 0:
            raise ValueError(f"Key dimension must be positive, got {dim}")
        self.dim = dim
        self.total = torch.zeros(dim, dim, dtype=torch.float64)  # (d, d) on the CPU
        self.count = 0

    def add(self, keys: torch.Tensor) -> None:
        """Add keys (N, d) (any device / dtype)."""
        if keys.ndim != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"Keys must have shape (N, {self.dim}), got {tuple(keys.shape)}")
        k = keys.detach()
        k = k if k.dtype == torch.float64 else k.float()   # model keys: the product in float32 (fast), the sum in float64
        self.total += (k.T @ k).to("cpu", torch.float64)
        self.count += k.shape[0]

    def covariance(self) -> torch.Tensor:
        """C = KᵀK / N, (d, d) float64; ValueError when no key was added."""
        if self.count == 0:
            raise ValueError("No retained keys were collected: the retain set is empty")
        return self.total / self.count


@dataclass(frozen=True)
class Spectrum:
    values: torch.Tensor   # (d,) float64 eigenvalues, ascending
    vectors: torch.Tensor  # (d, d) float64, column i = eigenvector of values[i]
    count: int             # number of keys behind the covariance


def eigen(covariance: torch.Tensor, count: int = 0) -> Spectrum:
    """Eigendecomposition of a symmetric (d, d) covariance in float64 on the CPU."""
    c = covariance.detach().to("cpu", torch.float64)
    c = 0.5 * (c + c.T)
    values, vectors = torch.linalg.eigh(c)
    return Spectrum(values=values.clamp_min(0.0), vectors=vectors, count=count)


def threshold(spectrum: Spectrum, tau: float, tau_mode: str = "relative") -> float:
    """The eigenvalue at or below which a direction counts as null: τ·λ_max ("relative"), τ·median λ
    ("median": unmoved by a few massive-activation directions that hold nearly all of the variance), or τ."""
    if tau_mode not in TAU_MODES:
        raise ValueError(f"Unknown tau_mode {tau_mode!r}; choose one of {TAU_MODES}")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    if tau_mode == "relative":
        return tau * float(spectrum.values.max())
    if tau_mode == "median":
        return tau * float(spectrum.values.median())
    return float(tau)


def null_mask(spectrum: Spectrum, tau: float, tau_mode: str = "relative") -> torch.Tensor:
    """Bool (d,): True for eigen-directions counted as null (eigenvalue ≤ threshold(spectrum, τ, tau_mode))."""
    return spectrum.values <= threshold(spectrum, tau, tau_mode)


def relaxed_projector(spectrum: Spectrum, tau: float, tau_mode: str = "relative", gamma: float = 0.0) -> torch.Tensor:
    """P_γ = U₀U₀ᵀ + γ(I − U₀U₀ᵀ), (d, d) float64, symmetric; idempotent when γ ∈ {0, 1}."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    u0 = spectrum.vectors[:, null_mask(spectrum, tau, tau_mode)]  # (d, n_null)
    p = u0 @ u0.T
    if gamma:
        p = p + gamma * (torch.eye(p.shape[0], dtype=p.dtype) - p)
    return p


def null_fraction(spectrum: Spectrum, tau: float, tau_mode: str = "relative") -> float:
    """Share of directions counted as null (0: nothing may change, 1: no protection)."""
    return float(null_mask(spectrum, tau, tau_mode).double().mean())


@dataclass(frozen=True)
class Projector:
    """P_γ in low-rank form: basis (in, r) of the null space (null_side) or of its complement.

    Applying it costs 2·out·in·r instead of out·in²; `matrix()` gives the dense (in, in) P_γ.
    """

    basis: torch.Tensor    # (in, r) float32, orthonormal columns
    null_side: bool        # True: P = BBᵀ; False: P = I − BBᵀ
    gamma: float           # leak: P_γ = P + γ(I − P)
    null_fraction: float   # share of directions counted as null

    def matrix(self) -> torch.Tensor:
        """Dense P_γ, (in, in) float64."""
        b = self.basis.double()
        eye = torch.eye(b.shape[0], dtype=torch.float64)
        p = b @ b.T if self.null_side else eye - b @ b.T
        return p + self.gamma * (eye - p)

    def apply(self, delta: torch.Tensor, transposed: bool) -> torch.Tensor:
        """ΔW·P_γ for delta (out, in), or P_γ·ΔW for delta (in, out) when transposed."""
        b = self.basis.to(delta.device)
        d = delta.float()
        low = b @ (b.T @ d) if transposed else (d @ b) @ b.T      # the part along the basis
        if self.null_side:
            return (self.gamma * d + (1.0 - self.gamma) * low).to(delta.dtype)
        return (d - (1.0 - self.gamma) * low).to(delta.dtype)


def low_rank_projector(spectrum: Spectrum, tau: float, tau_mode: str = "relative", gamma: float = 0.0) -> Projector:
    """The relaxed projector in the cheaper of its two low-rank forms."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    null = null_mask(spectrum, tau, tau_mode)
    null_side = int(null.sum()) <= null.numel() // 2
    basis = spectrum.vectors[:, null if null_side else ~null].float().contiguous()  # (in, r)
    return Projector(basis, null_side, float(gamma), float(null.double().mean()))


def project_step(delta: torch.Tensor, projector: "torch.Tensor | Projector", transposed: bool) -> torch.Tensor:
    """Project a weight change on its key side, in float32, returned in delta's dtype.

    delta (out, in) for nn.Linear -> ΔW·P; delta (in, out) for GPT-2 Conv1D (transposed=True)
    -> P·ΔW. projector: dense (in, in) or a Projector.
    """
    if isinstance(projector, Projector):
        return projector.apply(delta, transposed)
    p = projector.to(delta.device, torch.float32)
    d = delta.float()
    return (p @ d if transposed else d @ p).to(delta.dtype)


def data_hash(token_rows: Iterable[Iterable[int]]) -> str:
    """Short stable hash of token id sequences (identifies a retain set in cache keys)."""
    digest = hashlib.sha256()
    for row in token_rows:
        digest.update(",".join(map(str, row)).encode())
        digest.update(b";")
    return digest.hexdigest()[:16]


def weights_fingerprint(tensors: Iterable[torch.Tensor]) -> str:
    """Cheap fingerprint of weights (float64 sums of w and w² and the first row): changes on edits."""
    parts = []
    with torch.no_grad():
        for t in tensors:
            w = t.detach().double()
            parts.append(f"{float(w.sum()):.12e}/{float((w * w).sum()):.12e}/{float(w.reshape(-1)[:64].sum()):.12e}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class ProjectorCache:
    """Eigendecompositions and projectors keyed by (model, module, retain hash, weights[, τ, mode, γ]).

        >>> spectrum = cache.spectrum(key, compute)        # compute() -> Spectrum, run once per key
        >>> P = cache.projector(key, tau, tau_mode, gamma, compute)

    Bounded by `max_bytes` (least recently used entries dropped).
    """

    def __init__(self, max_bytes: int = 1 << 30):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, object] = OrderedDict()

    def _get(self, key: tuple, compute: Callable[[], object]):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = compute()
        self._items[key] = value
        while self._bytes() > self.max_bytes and len(self._items) > 1:
            self._items.popitem(last=False)
        return value

    def _bytes(self) -> int:
        total = 0
        for value in self._items.values():
            if isinstance(value, Spectrum):
                tensors = (value.values, value.vectors)
            else:
                tensors = (value.basis,) if isinstance(value, Projector) else (value,)
            total += sum(t.numel() * t.element_size() for t in tensors)
        return total

    def spectrum(self, key: tuple, compute: Callable[[], Spectrum]) -> Spectrum:
        return self._get(("spectrum", *key), compute)

    def projector(
        self, key: tuple, tau: float, tau_mode: str, gamma: float, compute: Callable[[], Spectrum]
    ) -> Projector:
        return self._get(
            ("projector", *key, float(tau), tau_mode, float(gamma)),
            lambda: low_rank_projector(self.spectrum(key, compute), tau, tau_mode, gamma),
        )

    def has_spectrum(self, key: tuple) -> bool:
        return ("spectrum", *key) in self._items

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


PROJECTORS = ProjectorCache()  # process-level cache shared by runs and tuning sweeps
