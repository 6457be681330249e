"""From what a user picked (probe topics or facts, own rows) to a run's data split.

    >>> choice = DataChoice(topics=("landmarks",))                 # built-in probes
    >>> choice = DataChoice.from_rows(rows)                        # own rows (data.rows.RowSet)
    >>> data = build_split(choice)                                 # DataSplit: forget, neighbours, retain ...

Typed rows get their relation from the probes' wording (data.relations), so the probes of that
relation become the run's neighbours.
    >>> choice.forget_section()                                    # its part of run.json's forget section
"""
from __future__ import annotations

from dataclasses import dataclass

from kuda_core.data.facts import Fact
from kuda_core.data.probes import load_general_texts, load_probes
from kuda_core.data.relations import with_relations
from kuda_core.data.rows import RowSet
from kuda_core.data.splits import DataSplit, probes_without, split_probes, split_rows


@dataclass(frozen=True)
class DataChoice:
    """The data part of a Forget request: probe topics / prompts, or own fact rows (and retain rows)."""

    topics: tuple[str, ...] = ()                 # probe topics to forget
    prompts: tuple[str, ...] = ()                # single probe facts to forget (by prompt)
    facts: tuple[Fact, ...] = ()                 # own facts to forget (instead of probes)
    retain_facts: tuple[Fact, ...] | None = None  # own retain facts; None = the probes not being forgotten
    retain_texts: tuple[str, ...] = ()           # own retain texts (join the general texts)
    source: str = "built-in probes"              # where the rows came from, for messages
    holdout_fraction: float = 0.25               # share of retain facts and texts used only for measuring
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("topics", "prompts", "facts", "retain_texts"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.retain_facts is not None:
            object.__setattr__(self, "retain_facts", tuple(self.retain_facts))
        if not (self.topics or self.prompts or self.facts):
            raise ValueError("Pick at least one topic or fact to forget")
        if self.facts and (self.topics or self.prompts):
            raise ValueError("Own rows to forget cannot be mixed with probe topics or facts")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"The held-out fraction must be in [0, 1), got {self.holdout_fraction}")

    @classmethod
    def from_rows(cls, forget: RowSet, retain: RowSet | None = None, holdout_fraction: float = 0.25,
                  seed: int = 0) -> "DataChoice":
        """Own rows to forget; retain rows (facts and texts) or, without them, the probes."""
        if not forget.facts:
            raise ValueError(f"{forget.source} has no fact rows (prompt, subject, answer) to forget")
        return cls(facts=tuple(forget.facts), retain_facts=tuple(retain.facts) if retain is not None else None,
                   retain_texts=tuple(retain.texts) if retain is not None else (), source=forget.source,
                   holdout_fraction=holdout_fraction, seed=seed)

    def forget_section(self) -> dict:
        """The data keys of run.json's forget section."""
        if not self.facts:
            return {"topics": list(self.topics), "prompts": list(self.prompts)}
        section = {"facts": [f.to_dict() for f in self.facts]}
        if self.retain_facts is not None or self.retain_texts:
            section["retain_facts"] = [f.to_dict() for f in self.retain_facts or ()] + [
                {"text": t} for t in self.retain_texts]
        return section


def build_split(choice: DataChoice, probes: list[Fact] | None = None, texts: list[str] | None = None) -> DataSplit:
    """The run's DataSplit for a choice (probes and general texts default to the shipped ones)."""
    probes = load_probes() if probes is None else probes
    texts = load_general_texts() if texts is None else texts
    if not choice.facts:
        return split_probes(probes, texts, topics=choice.topics, prompts=choice.prompts,
                            holdout_fraction=choice.holdout_fraction, seed=choice.seed)
    forget = RowSet(facts=with_relations(choice.facts, probes), source=choice.source)
    if choice.retain_facts is None and not choice.retain_texts:
        retain = probes_without(forget, probes)
    else:
        retain = RowSet(facts=with_relations(choice.retain_facts or (), probes), texts=list(choice.retain_texts),
                        source="retain rows")
    return split_rows(forget, retain, texts, choice.holdout_fraction, choice.seed)
