"""An edit: the few parameters a run changed, kept apart from the model so it can be put on and off.

    >>> edit = Edit.track(model, ["model.layers.4.mlp.down_proj.weight"], base_version=1)
    >>> edit.apply(model)          # the edited values in place (a no-op right after track)
    >>> ... train in place ...
    >>> edit.capture(model)        # remember the values reached
    >>> edit.remove(model)         # the base values back, bit for bit
    >>> edit.snapshot              # WeightSnapshot of the base values (for "original" comparisons)
    >>> edit.save(folder); Edit.load(folder)   # safetensors, for edits kept on disk

One base model serves every visitor of the app; each visitor's edit is applied for the duration
of one of their jobs and removed after it (kuda_core.workflows.host).
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from kuda_core.model.snapshot import WeightSnapshot

VALUES_FILE = "edit.safetensors"
BASE_FILE = "base.safetensors"
META_FILE = "edit.json"
_SERIALS = itertools.count(1)


@dataclass
class Edit:
    base: dict[str, torch.Tensor]                       # parameter name -> base value (CPU)
    values: dict[str, torch.Tensor]                     # parameter name -> edited value (CPU)
    base_version: int = 0                               # the base model this edit was made on
    description: str = ""                               # how it was made, for status lines
    generation: int = field(default=0)                  # bumped at every capture: results carry it
    serial: int = field(default_factory=lambda: next(_SERIALS), compare=False)   # names these values; kept by save/load

    @classmethod
    def track(cls, model: torch.nn.Module, names: list[str], base_version: int = 0,
              base: dict[str, torch.Tensor] | None = None) -> "Edit":
        """A new edit over `names`, starting at the model's current (base) values.

        `base` may hand in shared CPU copies of those base values (they are never written).
        """
        params = dict(model.named_parameters())
        missing = [n for n in names if n not in params]
        if missing:
            raise LookupError(f"Parameters not found: {missing}")
        base = {n: (base[n] if base and n in base else params[n].detach().to("cpu", copy=True)) for n in names}
        return cls(base=base, values={n: t.clone() for n, t in base.items()}, base_version=base_version)

    def extend(self, model: torch.nn.Module, names: list[str], base: dict[str, torch.Tensor] | None = None) -> None:
        """Track more parameters (call while the edit is applied: their current values are the base)."""
        new = [n for n in names if n not in self.base]
        if new:
            extra = Edit.track(model, new, self.base_version, base)
            self.base.update(extra.base)
            self.values.update(extra.values)

    def copy(self) -> "Edit":
        """An independent copy (its values can change without touching this edit; base values shared)."""
        return Edit(self.base, {n: v.clone() for n, v in self.values.items()}, self.base_version, self.description,
                    self.generation)

    def apply(self, model: torch.nn.Module) -> None:
        WeightSnapshot(self.values).restore(model)

    def remove(self, model: torch.nn.Module) -> None:
        WeightSnapshot(self.base).restore(model)

    @torch.no_grad()
    def capture(self, model: torch.nn.Module) -> None:
        """Remember the values the model holds now for the tracked parameters."""
        params = dict(model.named_parameters())
        for name in self.values:
            self.values[name] = params[name].detach().to("cpu", copy=True)
        self.generation += 1

    @property
    def snapshot(self) -> WeightSnapshot:
        """The base values as a WeightSnapshot (engine functions read "original" through it)."""
        return WeightSnapshot(dict(self.base))

    def is_modified(self) -> bool:
        return any(not torch.equal(self.values[n], self.base[n]) for n in self.values)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.values.values())

    def save(self, folder: str | Path) -> Path:
        """Write the edited and base values (safetensors) and the description to `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({n: t.contiguous() for n, t in self.values.items()}, str(folder / VALUES_FILE))
        save_file({n: t.contiguous() for n, t in self.base.items()}, str(folder / BASE_FILE))
        (folder / META_FILE).write_text(json.dumps({"base_version": self.base_version, "description": self.description,
                                                    "generation": self.generation, "serial": self.serial}),
                                        encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "Edit":
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return cls(base=load_file(str(folder / BASE_FILE)), values=load_file(str(folder / VALUES_FILE)), **meta)
