"""A fact: prompt, subject, answer (and relation, topic, paraphrases).

    >>> fact = Fact("The capital of France is", "France", " Paris", relation="capital of")
    >>> fact.text                                  # 'The capital of France is Paris'
    >>> make_fact("The capital of France is ", "France", "Paris")   # user input, normalised
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kuda_core.model.tokens import find_subject


def _subject_in(subject: str, text: str, what: str) -> None:
    """ValueError unless the subject occurs in the text (exactly, or once ignoring case)."""
    try:
        find_subject(text, subject)
    except LookupError as error:
        raise ValueError(str(error).replace("in prompt", f"in {what}")) from None


@dataclass(frozen=True)
class Fact:
    """Fact(prompt, subject, answer, relation="", topic="", paraphrases=()).

    `answer` follows `prompt` (" Paris" or "Paris": a missing space is added when it is scored);
    `subject` must occur in `prompt` and in every paraphrase, exactly or once ignoring case.
    Invalid values raise ValueError.
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
        if not _visible(self.prompt):
            raise ValueError(f"The prompt is empty: {self.prompt!r}")
        if not _visible(self.subject):
            raise ValueError(f"The subject is empty: {self.subject!r} (prompt {self.prompt!r})")
        if not _visible(self.answer):
            raise ValueError(f"The answer is empty: {self.answer!r} (prompt {self.prompt!r})")
        _subject_in(self.subject, self.prompt, "prompt")
        for paraphrase in self.paraphrases:
            if not isinstance(paraphrase, str) or not paraphrase.strip():
                raise ValueError(f"Empty or non-string paraphrase {paraphrase!r} (prompt {self.prompt!r})")
            _subject_in(self.subject, paraphrase, "paraphrase")

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


def make_fact(prompt: str, subject: str, answer: str, *, paraphrases: Iterable[str] = (), relation: str = "", topic: str = "") -> Fact:
    """Fact from user input: trailing spaces leave the prompt and the answer gets its leading space."""
    prompt = str(prompt).rstrip()
    answer = str(answer).strip()
    if answer and not answer[0].isspace():
        answer = " " + answer
    return Fact(
        prompt=prompt, subject=str(subject).strip(), answer=answer, relation=str(relation or ""),
        topic=str(topic or ""), paraphrases=tuple(str(p).rstrip() for p in paraphrases),
    )


def _visible(text: str) -> bool:
    """Whether `text` has a character a reader can see (not only spaces or zero-width ones)."""
    return any(c.isprintable() and not c.isspace() for c in text)
