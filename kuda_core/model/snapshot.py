"""Keep only what you change so you can undo it: snapshots of a few weights.

    >>> snap = WeightSnapshot.take(model, ["model.layers.4.mlp.down_proj.weight"])
    >>> ... edit the weights in place ...
    >>> with snap.original(model):      # temporarily the original weights (no second model)
    ...     before = model(ids)
    >>> snap.restore(model)             # bit-exact original
    >>> snap.is_modified(model)         # False
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch


@dataclass
class WeightSnapshot:
    originals: dict[str, torch.Tensor] = field(default_factory=dict)  # parameter name -> CPU copy

    @classmethod
    def take(cls, model: torch.nn.Module, parameter_names: list[str]) -> "WeightSnapshot":
        params = dict(model.named_parameters())
        missing = [n for n in parameter_names if n not in params]
        if missing:
            raise LookupError(f"Parameters not found: {missing}")
        return cls({n: params[n].detach().to("cpu", copy=True) for n in parameter_names})

    def extend(self, model: torch.nn.Module, parameter_names: list[str]) -> None:
        """Add parameters not yet in the snapshot (already snapshotted ones keep their original)."""
        new = [n for n in parameter_names if n not in self.originals]
        self.originals.update(WeightSnapshot.take(model, new).originals)

    @torch.no_grad()
    def restore(self, model: torch.nn.Module) -> None:
        params = dict(model.named_parameters())
        for name, value in self.originals.items():
            params[name].copy_(value.to(params[name].device))

    @torch.no_grad()
    def current(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        params = dict(model.named_parameters())
        return {n: params[n].detach().to("cpu", copy=True) for n in self.originals}

    @contextmanager
    def original(self, model: torch.nn.Module):
        """Swap the original weights in for the block, then put the edited ones back."""
        edited = self.current(model)
        self.restore(model)
        try:
            yield model
        finally:
            with torch.no_grad():
                params = dict(model.named_parameters())
                for name, value in edited.items():
                    params[name].copy_(value.to(params[name].device))

    def is_modified(self, model: torch.nn.Module) -> bool:
        params = dict(model.named_parameters())
        return any(not torch.equal(params[n].detach().cpu(), v) for n, v in self.originals.items())

    def modified_names(self, model: torch.nn.Module) -> list[str]:
        params = dict(model.named_parameters())
        return [n for n, v in self.originals.items() if not torch.equal(params[n].detach().cpu(), v)]


def state_dict_hash(model: torch.nn.Module) -> str:
    """SHA-256 over every tensor of the state dict (names and bytes): equal iff bit-identical."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
