"""The process-level model holder shared by all tabs (one model in memory at a time).

    >>> HOLDER.load("default", device="auto")       # LoadedModel
    >>> HOLDER.lm, HOLDER.status_line()
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from kuda_core.models import DEFAULT_MODEL, LoadedModel, load_model
from kuda_core.snapshot import WeightSnapshot


@dataclass
class ModelHolder:
    lm: LoadedModel | None = None
    snapshot: WeightSnapshot | None = None      # original weights of everything an edit touched
    edit_description: str = ""                  # how the model was edited, for the status line
    options: dict = field(default_factory=dict)  # allow_pickle / trust_remote_code from the CLI
    lock: threading.RLock = field(default_factory=threading.RLock)
    version: int = 0                            # bumped on every load / edit / reset (cache keys)
    last_run: dict | None = None                # config, data split and step records of the last run
    last_evaluation: dict | None = None         # evaluation table and answers of the last Evaluate
    source: str = DEFAULT_MODEL                 # what was asked for: hub id, folder, .gguf or "default"
    device_request: str = "auto"
    last_compare: object = None                 # DataFrame of the last Compare

    def load(self, name: str = DEFAULT_MODEL, device: str = "auto", progress=None) -> LoadedModel:
        with self.lock:
            lm = load_model(name, device=device, progress=progress, **self.options)
            self.lm, self.snapshot, self.edit_description, self.last_run = lm, None, "", None
            self.last_evaluation, self.source, self.device_request = None, name, device
            self.version += 1
            return lm

    def load_loaded(self, lm: LoadedModel, source: str) -> None:
        """Adopt an already loaded model (e.g. from a bundle) as the new original."""
        with self.lock:
            self.lm, self.snapshot, self.edit_description, self.last_run = lm, None, "", None
            self.last_evaluation, self.source = None, source
            self.version += 1

    def require(self) -> LoadedModel:
        if self.lm is None:
            raise ValueError("No model is loaded yet: load one on the Model tab")
        return self.lm

    def is_edited(self) -> bool:
        return self.lm is not None and self.snapshot is not None and self.snapshot.is_modified(self.lm.model)

    def reset(self) -> str:
        """Restore the original weights bit for bit."""
        with self.lock:
            if self.lm is not None and self.snapshot is not None:
                self.snapshot.restore(self.lm.model)
            self.edit_description = ""
            self.version += 1
            return self.status_line()

    def status_line(self) -> str:
        if self.lm is None:
            return "No model loaded."
        if self.is_edited():
            return f"**{self.lm.name}: EDITED** ({self.edit_description or 'weights changed'}). Reset restores the original."
        return f"**{self.lm.name}: original weights.**"


HOLDER = ModelHolder()
