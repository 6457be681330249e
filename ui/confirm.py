"""Long jobs start on a second click: the first one says how long they are estimated to take.

    >>> message = asks_first(visitor, "trace", key, estimated=400.0, what="This trace")
    >>> if message: yield message; return        # shown; the same request within two minutes starts it
"""
from __future__ import annotations

import time

from kuda_core.workflows.visitor import Tagged

CONFIRM_ABOVE_S = 180          # a job estimated longer than this starts only on a second click
CONFIRM_WITHIN_S = 120         # ... made within this many seconds with the same inputs


def asks_first(visitor, job: str, key, estimated: float | None, what: str, smaller: str = "") -> str | None:
    """The question to show instead of starting `job` (None: start it). `key` names the inputs; `smaller`
    says how to make it smaller (e.g. "fewer facts or steps")."""
    slot = f"confirm {job}"
    asked = visitor.results.get(slot)
    if estimated is None or estimated <= CONFIRM_ABOVE_S or (
            asked and asked.value == key and time.time() - asked.state[0] < CONFIRM_WITHIN_S):
        visitor.results.pop(slot, None)
        return None
    visitor.results[slot] = Tagged(key, (time.time(),))
    return (f"{what} is estimated at about {estimated:.0f} s ({estimated / 60:.1f} min). Click again within two "
            f"minutes to start it, or make it smaller{f' ({smaller})' if smaller else ''}.")
