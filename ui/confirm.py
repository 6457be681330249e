"""Long jobs start on a second click: the first one says how long they are estimated to take.

    >>> message = asks_first(visitor, "trace", key, estimated=400.0, what="This trace")
    >>> if message: yield message; return        # shown; the same request within two minutes starts it
    >>> duration(19_410_522)                      # '5392 h'

A job estimated over REFUSE_ABOVE_S is refused outright (ValueError): it would hold the shared model
for everyone for hours (a 300-fold prompt was offered as a 224-day trace).
"""
from __future__ import annotations

import time

from kuda_core.workflows.visitor import Tagged

CONFIRM_ABOVE_S = 180          # a job estimated longer than this starts only on a second click
CONFIRM_WITHIN_S = 120         # ... made within this many seconds with the same inputs
REFUSE_ABOVE_S = 2 * 3600      # a job estimated longer than this is refused


def duration(seconds: float) -> str:
    """'45 s', '300 s (5.0 min)' or '5.3 h': seconds as a person reads them."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds:.0f} s ({seconds / 60:.1f} min)"
    return f"{seconds / 3600:.1f} h" if seconds < 100 * 3600 else f"{seconds / 3600:.0f} h"


def asks_first(visitor, job: str, key, estimated: float | None, what: str, smaller: str = "") -> str | None:
    """The question to show instead of starting `job` (None: start it). `key` names the inputs; `smaller`
    says how to make it smaller (e.g. "fewer facts or steps")."""
    if estimated is not None and estimated > REFUSE_ABOVE_S:
        raise ValueError(f"{what} is estimated at about {duration(estimated)}, longer than the "
                         f"{REFUSE_ABOVE_S // 3600} h this app runs one job for: make it smaller"
                         f"{f' ({smaller})' if smaller else ''}.")
    slot = f"confirm {job}"
    asked = visitor.results.get(slot)
    if estimated is None or estimated <= CONFIRM_ABOVE_S or (
            asked and asked.value == key and time.time() - asked.state[0] < CONFIRM_WITHIN_S):
        visitor.results.pop(slot, None)
        return None
    visitor.results[slot] = Tagged(key, (time.time(),))
    return (f"{what} is estimated at about {duration(estimated)}. Click again within two "
            f"minutes to start it, or make it smaller{f' ({smaller})' if smaller else ''}.")
