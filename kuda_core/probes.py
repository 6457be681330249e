"""Probe facts and general texts: loading, splitting, and checking them against a model.

    >>> facts = load_probes()                              # assets/probes.jsonl -> list[Fact]
    >>> forget, retain = split_by_topic(facts, ["capitals"])
    >>> used, held_out = holdout_split(retain, 0.25, seed=0)
    >>> check_fact(lm, facts[0])                           # FactCheck(top1_ok, prob, rank, top_token)
    >>> check_facts(lm, [f.prompt for f in facts], [f.answer for f in facts])
    >>> texts = load_general_texts()                       # assets/general_texts.jsonl -> list[str]
"""
from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch

from kuda_core.tokens import answer_token_id, batch_encode

ROOT = Path(__file__).resolve().parents[1]
PROBES_PATH = ROOT / "assets" / "probes.jsonl"
GENERAL_TEXTS_PATH = ROOT / "assets" / "general_texts.jsonl"

T = TypeVar("T")


@dataclass(frozen=True)
class Fact:
    """Fact(prompt, subject, answer, relation="", topic="", paraphrases=()).

    `answer` follows `prompt` directly, so it usually starts with a space (" Paris"); `subject`
    must occur in `prompt` and in every paraphrase. Invalid values raise ValueError.
    """

    prompt: str                           # text that ends where the answer should follow
    subject: str                          # exact substring of prompt (the traced tokens)
    answer: str                           # continuation; its first token is what is scored
    relation: str = ""                    # e.g. "capital of", free text
    topic: str = ""                       # group name used for forget / retain splits
    paraphrases: tuple[str, ...] = field(default_factory=tuple)  # rewordings of prompt

    def __post_init__(self) -> None:
        for name in ("prompt", "subject", "answer", "relation", "topic"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValueError(f"Fact.{name} must be a string, got {type(value).__name__}: {value!r}")
        if isinstance(self.paraphrases, str):
            raise ValueError(f"Fact.paraphrases must be a list of prompts, got a string: {self.paraphrases!r}")
        object.__setattr__(self, "paraphrases", tuple(self.paraphrases))
        if not self.prompt.strip():
            raise ValueError(f"The prompt is empty: {self.prompt!r}")
        if not self.subject.strip():
            raise ValueError(f"The subject is empty: {self.subject!r} (prompt {self.prompt!r})")
        if not self.answer.strip():
            raise ValueError(f"The answer is empty: {self.answer!r} (prompt {self.prompt!r})")
        if self.subject not in self.prompt:
            raise ValueError(f"Subject {self.subject!r} does not occur in prompt {self.prompt!r}")
        for paraphrase in self.paraphrases:
            if not isinstance(paraphrase, str) or not paraphrase.strip():
                raise ValueError(f"Empty or non-string paraphrase {paraphrase!r} (prompt {self.prompt!r})")
            if self.subject not in paraphrase:
                raise ValueError(f"Subject {self.subject!r} does not occur in paraphrase {paraphrase!r}")

    @classmethod
    def from_dict(cls, row: Mapping) -> "Fact":
        """Fact.from_dict({"prompt": ..., "subject": ..., "answer": ..., ...}); extra keys ignored."""
        missing = [k for k in ("prompt", "subject", "answer") if k not in row]
        if missing:
            raise ValueError(f"Fact row lacks {', '.join(missing)}; found keys {sorted(row)}")
        return cls(
            prompt=row["prompt"],
            subject=row["subject"],
            answer=row["answer"],
            relation=row.get("relation", "") or "",
            topic=row.get("topic", "") or "",
            paraphrases=tuple(row.get("paraphrases") or ()),
        )

    def to_dict(self) -> dict:
        """Plain dict, the JSONL layout of assets/probes.jsonl."""
        return {
            "prompt": self.prompt, "subject": self.subject, "answer": self.answer,
            "relation": self.relation, "topic": self.topic, "paraphrases": list(self.paraphrases),
        }

    @property
    def text(self) -> str:
        """prompt + answer, the fact as one piece of text."""
        return self.prompt + self.answer


@dataclass(frozen=True)
class FactCheck:
    """Result of check_fact / check_facts for one prompt."""

    top1_ok: bool       # the answer's first token is the greedy next token
    prob: float         # P(first answer token | prompt)
    rank: int           # 1-based rank of that token among the vocabulary (1 = top)
    top_token: str      # the model's greedy next token, decoded
    margin: float = 0.0  # log P(answer) - log P(best other token); > 0 when top1_ok


def resolve_path(path: str | Path | None, default: Path) -> Path:
    """Absolute path: `default` when None; relative paths try the cwd, then the repo root."""
    if path is None:
        return default
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return ROOT / candidate


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: invalid JSON ({error.msg})") from error
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            rows.append((number, row))
    if not rows:
        raise ValueError(f"{path} holds no rows")
    return rows


def load_probes(path: str | Path | None = None) -> list[Fact]:
    """load_probes() -> the facts in assets/probes.jsonl (or `path`), in file order."""
    resolved = resolve_path(path, PROBES_PATH)
    facts = []
    for number, row in _read_jsonl(resolved):
        try:
            facts.append(Fact.from_dict(row))
        except ValueError as error:
            raise ValueError(f"{resolved}:{number}: {error}") from error
    return facts


def load_general_texts(path: str | Path | None = None) -> list[str]:
    """load_general_texts() -> the passages of assets/general_texts.jsonl (or `path`)."""
    resolved = resolve_path(path, GENERAL_TEXTS_PATH)
    texts = []
    for number, row in _read_jsonl(resolved):
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{resolved}:{number}: missing or empty 'text' (keys {sorted(row)})")
        texts.append(text)
    return texts


def topics(facts: Iterable[Fact]) -> dict[str, list[Fact]]:
    """topics(facts) -> {topic: [facts]} in order of first appearance."""
    groups: dict[str, list[Fact]] = {}
    for fact in facts:
        groups.setdefault(fact.topic, []).append(fact)
    return groups


def split_by_topic(facts: Sequence[Fact], forget_topics: Iterable[str]) -> tuple[list[Fact], list[Fact]]:
    """split_by_topic(facts, ["capitals"]) -> (forget, retain); unknown topic names raise ValueError."""
    wanted = [forget_topics] if isinstance(forget_topics, str) else list(forget_topics)
    if not wanted:
        raise ValueError("Choose at least one topic to forget")
    known = topics(facts)
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise ValueError(f"Unknown topic(s) {unknown}; available: {list(known)}")
    chosen = set(wanted)
    forget = [f for f in facts if f.topic in chosen]
    retain = [f for f in facts if f.topic not in chosen]
    return forget, retain


def holdout_split(items: Sequence[T], fraction: float, seed: int = 0) -> tuple[list[T], list[T]]:
    """holdout_split(items, 0.25, seed=0) -> (used, held_out), both in input order, deterministic.

    round(len(items) * fraction) items are held out, chosen by a seeded shuffle.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}")
    items = list(items)
    n_held = round(len(items) * fraction)
    held = set(random.Random(seed).sample(range(len(items)), n_held))
    used = [x for i, x in enumerate(items) if i not in held]
    held_out = [x for i, x in enumerate(items) if i in held]
    return used, held_out


def check_fact(lm, fact: Fact) -> FactCheck:
    """check_fact(lm, fact) -> FactCheck for fact.prompt and the first token of fact.answer."""
    return check_facts(lm, [fact.prompt], [fact.answer])[0]


@torch.inference_mode()
def check_facts(lm, prompts: Sequence[str], answers: Sequence[str], batch_size: int = 32) -> list[FactCheck]:
    """check_facts(lm, prompts, answers, batch_size=32) -> [FactCheck] in input order.

    Prompts are sorted by length and run in right-padded batches; logits are read at each row's
    last real token, and only there (logits_to_keep), so the vocabulary projection stays small.
    """
    if len(prompts) != len(answers):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"Empty prompt {prompt!r}")
    tokenizer = lm.tokenizer
    answer_ids = [answer_token_id(tokenizer, a) for a in answers]
    lengths = [len(tokenizer(p, add_special_tokens=True)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])
    results: list[FactCheck | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = batch_encode(tokenizer, [prompts[i] for i in rows], lm.device)
        last = batch["attention_mask"].sum(dim=1) - 1                     # (B,)
        logits = _last_logits(lm.model, batch, last).float()              # (B, V)
        target = torch.tensor([answer_ids[i] for i in rows], device=logits.device)  # (B,)
        probs = logits.softmax(dim=-1)                                    # (B, V)
        target_logit = logits.gather(1, target[:, None])                  # (B, 1)
        ranks = (logits > target_logit).sum(dim=1) + 1                    # (B,)
        top = logits.argmax(dim=-1)                                       # (B,)
        others = logits.scatter(1, target[:, None], float("-inf"))        # (B, V)
        margins = (target_logit[:, 0] - others.max(dim=-1).values)        # (B,) log-prob gap
        target_prob = probs.gather(1, target[:, None])[:, 0]              # (B,)
        for j, i in enumerate(rows):
            results[i] = FactCheck(
                top1_ok=bool(top[j] == target[j]),
                prob=float(target_prob[j]),
                rank=int(ranks[j]),
                top_token=tokenizer.decode([int(top[j])]),
                margin=float(margins[j]),
            )
    return results  # type: ignore[return-value]


def _last_logits(model, batch: dict[str, torch.Tensor], last: torch.Tensor) -> torch.Tensor:
    """Logits (B, V) at positions `last` (B,), computing the head only at those positions."""
    rows = torch.arange(last.shape[0], device=last.device)
    try:
        logits = model(**batch, logits_to_keep=last[:, None]).logits     # (B, 1, V)
        if logits.shape[:2] == (last.shape[0], 1):
            return logits[:, 0]
    except (TypeError, ValueError, IndexError, RuntimeError):  # no per-row logits_to_keep here
        pass
    return model(**batch).logits[rows, last]                             # (B, V)
