"""One base model shared by many visitors: every job runs under one fair lock with the visitor's edit on.

    >>> host = ModelHost(); host.load("default")
    >>> with host.use(edit) as lm:                 # lock, edit applied; base values back afterwards
    ...     greedy_continuation(lm, "The capital of France is")
    >>> for record in host.steps(edit, iter_trace(host.lm, ...)):   # each step under the lock
    ...     show(record)                           # between steps other visitors get their turn

The base model is never edited between jobs: `use` removes the edit bit for bit on the way out
(capturing what a training step changed first, when asked). The lock is first come, first
served, so a short request waits for at most one step of somebody else's long job; inside a step,
long preparations (caching, eigendecompositions) hand the lock over between batches
(`model.turns.give_turn`).
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch

from kuda_core.model import turns
from kuda_core.model.edit import Edit
from kuda_core.model.loading import LoadedModel, load_model

T = TypeVar("T")
ORIGINALS_LIMIT = 50_000


class FairLock:
    """A lock served in arrival order (threading.Lock lets a busy thread take it again at once)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._queue: deque[object] = deque()
        self._owner: object | None = None

    def __enter__(self) -> "FairLock":
        ticket = object()
        with self._condition:
            self._queue.append(ticket)
            while self._owner is not None or self._queue[0] is not ticket:
                self._condition.wait()
            self._queue.popleft()
            self._owner = ticket
        return self

    def __exit__(self, *exc) -> None:
        with self._condition:
            self._owner = None
            self._condition.notify_all()

    @property
    def waiting(self) -> int:
        return len(self._queue)


class JobCount:
    """How many jobs run on the model now, and how often one began while another ran (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.overlaps = 0

    def begin(self) -> None:
        with self._lock:
            self.overlaps += self.running > 0
            self.running += 1

    def end(self) -> None:
        with self._lock:
            self.running -= 1


class Sharing:
    """Seen from one job: the other jobs running when it began, and whether any ran alongside it."""

    def __init__(self, jobs: JobCount) -> None:
        self._jobs = jobs
        self.others_now = jobs.running
        self._overlaps = jobs.overlaps

    def shared(self) -> bool:
        """True when another job ran alongside since this watch began (call it once the watched job ended)."""
        return self.others_now > 0 or self._jobs.overlaps > self._overlaps


class ModelHost:
    """The process's one base model, its version, and the lock every model job takes."""

    def __init__(self) -> None:
        self.lm: LoadedModel | None = None
        self.source = ""               # what was asked for: hub id, folder, .gguf or "default"
        self.device_request = "auto"
        self.version = 0               # bumped when the base model is replaced
        self.lock = FairLock()
        self._base_copies: dict[str, torch.Tensor] = {}
        self._originals: dict = {}     # the base model's answers and measures, shared by every visitor
        self._jobs = JobCount()

    def load(self, name: str = "default", device: str = "auto", progress=None, **options) -> LoadedModel:
        """Load a new base model (an administrator's action: every visitor's edit becomes stale)."""
        lm = load_model(name, device=device, progress=progress, **options)
        self.adopt(lm, name, device)
        return lm

    def adopt(self, lm: LoadedModel, source: str, device: str = "auto") -> None:
        """Serve an already loaded model as the base."""
        with self.lock:
            for p in lm.model.parameters():
                p.requires_grad_(False)    # jobs switch gradients on for the parameters they train
            lm.model.eval()
            self.lm, self.source, self.device_request = lm, source, device
            self._base_copies, self._originals = {}, {}
            self.version += 1

    @property
    def originals(self) -> dict:
        """A cache of what the base model answers and measures (inspect.compare / evaluate), per base model;
        emptied when it grows past ORIGINALS_LIMIT entries."""
        if len(self._originals) > ORIGINALS_LIMIT:
            self._originals.clear()
        return self._originals

    def require(self) -> LoadedModel:
        if self.lm is None:
            raise ValueError("No model is loaded yet")
        return self.lm

    def new_edit(self, names: list[str]) -> Edit:
        """An empty edit over `names` of the current base model."""
        with self.lock:
            return Edit.track(self.require().model, names, self.version, self._shared_base(names))

    def extend(self, edit: Edit, names: list[str]) -> None:
        """Track more parameters in `edit` (their base values come from the base model)."""
        with self.lock:
            self.check(edit)
            edit.extend(self.require().model, names, self._shared_base(names))

    def check(self, edit: Edit | None) -> None:
        """ValueError when `edit` was made on a base model that has since been replaced."""
        if edit is not None and edit.base_version != self.version:
            raise ValueError("The model was replaced since this edit was made: it no longer applies (Reset)")

    @contextmanager
    def use(self, edit: Edit | None = None, capture: bool = False) -> Iterator[LoadedModel]:
        """The model with `edit` applied, for the block; `capture` keeps what the block changed in the edit."""
        with self.lock:
            lm = self.require()
            self.check(edit)
            if edit is not None:
                edit.apply(lm.model)

            def give() -> None:                    # a long job's turns.give_turn(): others first, then go on
                if not self.lock.waiting:
                    return
                if edit is not None:
                    if capture:
                        edit.capture(lm.model)
                    edit.remove(lm.model)
                self.lock.__exit__()
                self.lock.__enter__()
                if self.lm is not lm:
                    raise ValueError("The model was replaced during this job: its result would not apply")
                if edit is not None:
                    edit.apply(lm.model)

            try:
                with turns.offered(give):
                    yield lm
            finally:
                if edit is not None:
                    if capture:
                        edit.capture(lm.model)
                    edit.remove(lm.model)

    def sharing(self) -> "Sharing":
        """Watch whether jobs of other visitors share the model with yours (they take turns, so both take longer).

        >>> watch = host.sharing()        # before your job
        >>> watch.others_now              # jobs running now (yours waits for their turns)
        >>> watch.shared()                # after it: did any other job run alongside?"""
        return Sharing(self._jobs)

    def steps(self, edit: Edit | None, records: Iterator[T], capture: bool = False,
              stop: Callable[[], bool] | None = None) -> Iterator[T]:
        """Each step of a generator under `use(edit)`; closing early closes it under the lock too. Once
        stop() is true, the generator's next turns.give_turn() raises turns.Stopped inside its step."""
        self._jobs.begin()
        try:
            while True:
                with self.use(edit, capture), turns.stoppable(stop):
                    try:
                        record = next(records)
                    except StopIteration:
                        return
                yield record
        finally:
            self._jobs.end()
            close = getattr(records, "close", None)
            if close is not None:
                with self.use(edit, capture):
                    close()

    def _shared_base(self, names: list[str]) -> dict[str, torch.Tensor]:
        """CPU copies of base parameter values, made once per base model and shared by every edit."""
        params = dict(self.require().model.named_parameters())
        for name in names:
            if name not in self._base_copies and name in params:
                self._base_copies[name] = params[name].detach().to("cpu", copy=True)
        return {n: self._base_copies[n] for n in names if n in self._base_copies}
