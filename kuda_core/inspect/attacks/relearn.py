"""Relearning: does a little fine-tuning on some forgotten facts bring the others back?

    >>> for record in iter_relearn(lm, forget, control, names, RelearnConfig()):
    ...     print(record.arm, record.step, record.held_acc)
    >>> record.recovery                                   # last record: relearned - control, held-out half
    >>> iter_relearn(lm, [fact], control, names, related=same_relation_facts(fact, candidates))   # one fact

The forget facts are split in two halves (seeded). "relearn" fine-tunes the given parameters
(the edited MLP projections) on the first half's answers (Adam, NLL); "control" fine-tunes the same
way on as many unrelated facts. A single forgotten fact has no second half: given `related` facts
(the same relation, other answers), "relearn" trains on those and the forgotten fact is measured,
so recovery beyond the control says the relation's training brings the fact back. After `steps` (e.g. 10 and 30) the held-out half is measured;
recovery beyond control = its accuracy after relearning minus after the control. The weights are
put back bit for bit after each arm and at the end, also when the generator is closed early.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kuda_core.data.checks import check_facts
from kuda_core.data.facts import Fact
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.model.tokens import answer_ids, encode, pad_id_of, pad_ids
from kuda_core.model.trainable import only_trainable


@dataclass(frozen=True)
class RelearnConfig:
    steps: tuple[int, ...] = (10, 30)   # measure the held-out half after these many steps
    lr: float = 1e-3                    # Adam learning rate (KUDA's own)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(sorted(int(s) for s in self.steps)))
        if not self.steps or self.steps[0] < 1 or self.steps[-1] > 500:
            shown = ", ".join(str(s) for s in self.steps) or "none"
            raise ValueError(f"Relearning steps must be between 1 and 500, got {shown}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be in (0, 1), got {self.lr}")


@dataclass(frozen=True)
class RelearnRecord:
    arm: str                   # "before", "relearn" or "control"
    step: int
    held_acc: float            # top-1 accuracy on the held-out half of the forget facts
    trained_acc: float         # on the half (or the control facts) trained on
    recovery: float | None = None   # on the last record: relearn - control at the last step


RELATED_FACTS = 4      # a single forgotten fact relearns on this many facts of its relation


def same_relation_facts(fact: Fact, candidates: Sequence[Fact], limit: int = RELATED_FACTS) -> list[Fact]:
    """Up to `limit` candidates of `fact`'s relation whose answer differs from its own (training on the
    answer itself would teach it back directly), in their order; [] when the fact has no relation."""
    if not fact.relation:
        return []
    own = fact.answer.strip().lower()
    chosen = [c for c in candidates if c.relation == fact.relation and c.prompt != fact.prompt
              and c.answer.strip().lower() != own]
    return list(dict.fromkeys(chosen))[:limit]


def split_halves(forget: Sequence[Fact], seed: int = 0) -> tuple[list[Fact], list[Fact]]:
    order = list(forget)
    random.Random(seed).shuffle(order)
    half = max(1, len(order) // 2)
    return order[:half], order[half:]


def _accuracy(lm, facts) -> float:
    return float(np.mean([c.top1_ok for c in check_facts(lm, [f.prompt for f in facts], [f.answer for f in facts])]))


def _nll(lm: LoadedModel, facts: Sequence[Fact]) -> torch.Tensor:
    """Mean NLL of the answers' tokens given the prompts (one right-padded batch)."""
    rows = [(encode(lm.tokenizer, f.prompt), answer_ids(lm.tokenizer, f.prompt, f.answer)) for f in facts]
    ids, mask = pad_ids([p + a for p, a in rows], pad_id_of(lm.tokenizer))              # (B, T) each
    labels = torch.full(ids.shape, -100, dtype=torch.long)                                # (B, T)
    for j, (p, a) in enumerate(rows):
        labels[j, len(p):len(p) + len(a)] = ids[j, len(p):len(p) + len(a)]
    return lm.model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device), labels=labels.to(lm.device)).loss


def _arm(lm, params, train: Sequence[Fact], held: Sequence[Fact], config: RelearnConfig, arm: str):
    optimizer = torch.optim.Adam(params, lr=config.lr)
    for step in range(1, config.steps[-1] + 1):
        with only_trainable(lm.model, params):       # per step: between yields other jobs set their own flags
            loss = _nll(lm, train)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if step in config.steps:
            yield RelearnRecord(arm, step, _accuracy(lm, held), _accuracy(lm, train))


def iter_relearn(lm: LoadedModel, forget: Sequence[Fact], control: Sequence[Fact], names: Sequence[str],
                 config: RelearnConfig = RelearnConfig(), related: Sequence[Fact] = ()) -> Iterator[RelearnRecord]:
    """Records for "before", then each measured step of "relearn" and "control" (see the module docstring).
    `related` is used only when there is a single forget fact."""
    train, held = split_halves(forget, config.seed)
    if not held and related:
        train, held = list(related), list(forget)
    if not held:
        raise ValueError("Relearning needs at least two forget facts (one to train on, one to measure), or facts "
                         "of the forgotten fact's relation to train on")
    control = list(control)[: len(train)]
    if len(control) < len(train):
        raise ValueError(f"The control needs {len(train)} unrelated facts, got {len(control)}")
    params = [lm.model.get_parameter(n) for n in names]
    start = WeightSnapshot.take(lm.model, list(names))
    last: dict[str, float] = {}
    try:
        yield RelearnRecord("before", 0, _accuracy(lm, held), _accuracy(lm, train))
        for arm, facts in (("relearn", train), ("control", control)):
            start.restore(lm.model)
            for record in _arm(lm, params, facts, held, config, arm):
                last[arm] = record.held_acc
                final = arm == "control" and record.step == config.steps[-1]
                yield record if not final else RelearnRecord(arm, record.step, record.held_acc, record.trained_acc,
                                                             last["relearn"] - record.held_acc)
    finally:
        start.restore(lm.model)
