"""Which parameters a block trains, set for that block only: the shared model's flags are put back after.

    >>> with only_trainable(lm.model, params):     # eval mode, grad on, only `params` require it
    ...     loss.backward(); optimizer.step()

A job on the shared model sets this inside each of its turns (one step), never across a yield: between
turns another visitor's job runs and sets the flags its own way (a relearning attack that set them once
for all its steps had them turned off under it, and its backward found nothing to differentiate).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch


@contextmanager
def only_trainable(model: torch.nn.Module, params: Sequence[torch.nn.Parameter]) -> Iterator[None]:
    """For the block: eval mode, gradients on and only `params` requiring them; all put back after."""
    found = [(p, p.requires_grad) for p in model.parameters()]
    was_training = model.training
    try:
        model.eval()
        for p, _ in found:
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        with torch.enable_grad():
            yield
    finally:
        for p, flag in found:
            p.grad = None
            p.requires_grad_(flag)
        model.train(was_training)
