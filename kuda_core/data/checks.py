"""Does the model know a fact? Greedy top-1, probability, rank and margin of the answer's first token.

    >>> check_fact(lm, fact)                                   # FactCheck(top1_ok, prob, rank, ...)
    >>> check_facts(lm, [f.prompt for f in facts], [f.answer for f in facts])
    >>> known = known_facts(lm, facts)                         # the facts whose answer is top-1
    >>> names_answer(" Berlin. The tower is in Paris", " Paris")  # the answer said further on: True
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kuda_core.data.facts import Fact
from kuda_core.model.logprobs import iter_last_logprobs
from kuda_core.model.tokens import answer_token_id, token_text


@dataclass(frozen=True)
class FactCheck:
    """Result of check_fact / check_facts for one prompt."""

    top1_ok: bool       # the answer's first token is the greedy next token
    prob: float         # P(first answer token | prompt)
    rank: int           # 1-based rank of that token among the vocabulary (1 = top)
    top_token: str      # the model's greedy next token, decoded
    margin: float = 0.0  # log P(answer) - log P(best other token); > 0 when top1_ok


def check_fact(lm, fact: Fact) -> FactCheck:
    """check_fact(lm, fact) -> FactCheck for fact.prompt and the first token of fact.answer."""
    return check_facts(lm, [fact.prompt], [fact.answer])[0]


def check_facts(lm, prompts: Sequence[str], answers: Sequence[str], batch_size: int = 32) -> list[FactCheck]:
    """check_facts(lm, prompts, answers, batch_size=32) -> [FactCheck] in input order.

    Prompts run in length-sorted, left-padded batches; only the last position's logits are computed.
    """
    if len(prompts) != len(answers):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"Empty prompt {prompt!r}")
    answer_ids = [answer_token_id(lm.tokenizer, p, a) for p, a in zip(prompts, answers)]
    results: list[FactCheck | None] = [None] * len(prompts)
    for rows, logp in iter_last_logprobs(lm, prompts, batch_size):                 # logp (B, V)
        target = torch.tensor([answer_ids[i] for i in rows], device=logp.device)  # (B,)
        target_lp = logp.gather(1, target[:, None])                               # (B, 1)
        ranks = (logp > target_lp).sum(dim=1) + 1                                 # (B,)
        top = logp.argmax(dim=-1)                                                 # (B,)
        others = logp.scatter(1, target[:, None], float("-inf")).max(dim=-1).values  # (B,)
        for j, i in enumerate(rows):
            results[i] = FactCheck(
                top1_ok=bool(top[j] == target[j]),
                prob=float(target_lp[j, 0].exp()),
                rank=int(ranks[j]),
                top_token=token_text(lm.tokenizer, int(top[j])),
                margin=float(target_lp[j, 0] - others[j]),
            )
    return results  # type: ignore[return-value]


def known_facts(lm, facts: Sequence[Fact]) -> list[Fact]:
    """The facts whose answer's first token is the model's greedy top-1 after the prompt."""
    checks = check_facts(lm, [f.prompt for f in facts], [f.answer for f in facts])
    return [fact for fact, check in zip(facts, checks) if check.top1_ok]


def names_answer(text: str, answer: str, prompt: str = "") -> bool:
    """Whether `text` says `answer` as a word anywhere (case and accents ignored), e.g. a forgotten fact that comes
    back later in the continuation: names_answer("Berlin. The tower is in Paris", " Paris") -> True, and
    names_answer(" Salvador Dali.", " Salvador Dalí") -> True. Where the prompt holds the answer inside a name
    ("The Sydney Harbour Bridge ..."), that name repeated is not the answer:
    names_answer(" Parramatta. The Sydney Harbour Bridge is", " Sydney", "The Sydney Harbour Bridge is in") -> False.
    """
    text, answer, prompt = unaccented(text), unaccented(answer), unaccented(prompt)
    word = answer.strip()
    if not word:
        return False
    found = rf"(?<!\w){re.escape(word)}(?!\w)"
    in_names = {m.group(1).lower() for m in re.finditer(found + r"\s+(\w+)", prompt, re.IGNORECASE)}
    for match in re.finditer(found + r"(?:\s+(\w+))?", text, re.IGNORECASE):
        if (match.group(1) or "").lower() not in in_names:
            return True
    return False


def unaccented(text: str) -> str:
    """'Brasília' -> 'Brasilia': letters without their combining accents (NFKD)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
