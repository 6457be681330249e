"""Points where a long job on a shared model lets other jobs have their turn (a no-op by default).

    >>> with turns.offered(give):      # the app's host: give() hands the model over and takes it back
    ...     build_context(...)         # which calls turns.give_turn() between its batches
    >>> with turns.stoppable(lambda: run.stop_requested):
    ...     next(records)              # give_turn() raises Stopped once Stop was asked for

Code that calls give_turn() must leave the model as any other job expects it at that point: no
hooks, no changed weights beyond the caller's own edit (the host takes that off and puts it back).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Iterator

_local = threading.local()


class Stopped(Exception):
    """Raised by give_turn() inside `stoppable(asked)` once asked() is true: the job ends at that point."""


def give_turn() -> None:
    """Let waiting jobs use the model now, if this thread runs under a host that offers turns; raise Stopped
    first when the job was asked to stop (a preparation can take minutes under load: Stop ends it here)."""
    asked = getattr(_local, "stop", None)
    if asked is not None and asked():
        raise Stopped("stopped")
    give = getattr(_local, "give", None)
    if give is not None:
        give()


def offered(give: Callable[[], None]):
    """Within the block, give_turn() on this thread calls `give`."""
    return _set("give", give)


def stoppable(asked: Callable[[], bool] | None):
    """Within the block, give_turn() on this thread raises Stopped once asked() is true (None: never)."""
    return _set("stop", asked)


@contextmanager
def _set(name: str, value) -> Iterator[None]:
    """This thread's `name` (give / stop) is `value` within the block, as before after it."""
    previous = getattr(_local, name, None)
    setattr(_local, name, value)
    try:
        yield
    finally:
        setattr(_local, name, previous)
