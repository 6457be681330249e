"""Raise the learning rate when forgetting stalls (UnlearnConfig.stall_boost > 1; 1 = off).

    >>> pace = StallBoost(config, answered=15)     # once per run: facts answered before the first step
    >>> pace.update(optimizer, answered=3)         # at each check -> "" or a note for the step's record
    'lr 1e-03 -> 2e-03 after 2 checks without fewer facts answered'

Some facts do not move at the starting pace: on the dev topic continents, 3 of 10 stayed answered
from step 40 to step 200 at lr 1e-3. After STALL_CHECKS checks in a row without fewer forget facts
answered (prompt, known paraphrase or augmented row), the lr of every parameter group is multiplied
by stall_boost, up to MAX_BOOST times the configured lr, so easy facts go at the gentle starting
pace and only a stalled run pushes harder.
"""
from __future__ import annotations

STALL_CHECKS = 2    # checks in a row without progress before the lr rises
MAX_BOOST = 8.0     # the lr rises to at most this many times config.lr


class StallBoost:
    def __init__(self, config, answered: int):
        self.base, self.factor = float(config.lr), float(config.stall_boost)
        self.fewest, self.stalled, self.boost = int(answered), 0, 1.0

    def update(self, optimizer, answered: int) -> str:
        """Count a check with `answered` facts still answered; raise the lr after a stall. Returns a note."""
        if answered < self.fewest:
            self.fewest, self.stalled = int(answered), 0
            return ""
        self.stalled += 1
        if self.factor <= 1.0 or self.stalled < STALL_CHECKS or self.boost >= MAX_BOOST or answered == 0:
            return ""
        before = self.base * self.boost
        self.boost, self.stalled = min(self.boost * self.factor, MAX_BOOST), 0
        for group in optimizer.param_groups:
            group["lr"] = self.base * self.boost
        return f"lr {before:.0e} -> {self.base * self.boost:.0e} after {STALL_CHECKS} checks without fewer facts answered"
