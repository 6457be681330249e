"""What the unlearning loop measures as it goes, replayed from the cached streams (cheap).

    >>> measure(ctx)                         # {"forget_acc", "forget_prob", "paraphrase_acc", ...}
    >>> measure(ctx, retain=False)           # the cheap check: forget, paraphrases, neighbours
    >>> measure_retain(ctx)                  # {"retain_acc", "retain_prob"} alone (after a cheap check)
    >>> still_known(ctx)                     # prompts of forget facts whose answer is still top-1
    >>> stops(ctx, evaluation, step)         # the stopping rule at a check (reads the continuations on)
    >>> ctx.still_answered                   # (F,) bool after any measure: prompt, a known paraphrase or
    ...                                      # (methods that rest forgotten facts) an augmented row answered

Paraphrases count only where the original model knew them (top-1, marked before the first step, when
the others leave the checks), so "forgotten" means the answers that were there are gone. A forget
fact or paraphrase counts as answered while its answer is among the top `config.answer_rank` tokens
(1 = the top token; 100 = forgotten only once the answer has left the top 100); neighbours and retain
facts are always top-1.
Before a run stops, the rule reads on (config.read_on greedy new tokens per forget fact): a fact whose
continuation still says its answer as a word ("Berlin, Germany. The Eiffel Tower ... is in Paris") is not
forgotten; it counts as answered and, in methods that rest forgotten facts, is pushed again.
Neighbours (other facts of the same relations) are never trained on: their accuracy shows how
precise the forgetting is.
"""
from __future__ import annotations

import torch

from kuda_core.data.checks import names_answer
from kuda_core.data.wording import counted
from kuda_core.forget.context import StepContext
from kuda_core.forget.focus import take_rows
from kuda_core.forget.replay import Cached, answer_accuracy
from kuda_core.model.generation import greedy_batch


def _hits(ctx: StepContext, batches: list[Cached], within: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(hit (F,) bool: answer among the top `within` tokens, p(first answer token) (F,), index of the
    forget fact each row was made from (F,)) over the fact rows of the batches, in order."""
    hits, probs, sources = [], [], []
    for cached in batches:
        if bool(cached.batch.is_fact.any()):
            hit, prob = answer_accuracy(ctx.replay, cached, within)
            hits.append(hit.cpu())
            probs.append(prob.float().cpu())
            sources.append(cached.batch.source[cached.batch.is_fact].cpu())
    if not hits:
        hits, probs, sources = [torch.zeros(0, dtype=torch.bool)], [torch.zeros(0)], [torch.zeros(0, dtype=torch.long)]
    return torch.cat(hits), torch.cat(probs), torch.cat(sources)


def mark_known_paraphrases(ctx: StepContext) -> None:
    """Keep in ctx.paraphrases only the paraphrases the model answers (top-1) before training (call once,
    before the first step): the others cannot be forgotten, so the checks no longer run them."""
    known = []
    for cached in ctx.paraphrases:
        rows = cached.batch.is_fact.nonzero(as_tuple=True)[0]                  # (F,)
        if rows.numel():
            hit = answer_accuracy(ctx.replay, cached, 1)[0]                    # (F,)
            if bool(hit.any()):
                known.append(take_rows(cached, rows[hit]))
    ctx.paraphrases = known


def measure(ctx: StepContext, retain: bool = True) -> dict:
    """Top-1 accuracy and mean p(answer) of the forget facts, known paraphrases, neighbours (and retain).

    Also sets ctx.still_answered: the forget facts whose prompt or a known paraphrase is still answered,
    or, when the method rests forgotten facts (KUDA's remaining_only) and the rows are augmented, one of
    the fact's augmented rows (a fact answered after a k-shot prefix is not forgotten yet)."""
    out = {}
    answered = torch.zeros(0, dtype=torch.bool)
    for label, batches in (("forget", ctx.originals), ("paraphrase", ctx.paraphrases), ("neighbour", ctx.neighbours)):
        hit, prob, source = _hits(ctx, batches, ctx.config.answer_rank if label != "neighbour" else 1)
        if label == "forget":
            answered = hit.clone()
            ctx.extras["prompt_hits"] = hit.clone()                          # (F,) bool, for stops()
        elif label == "paraphrase":
            answered[source[hit]] = True
        if hit.numel():
            out[f"{label}_acc"] = float(hit.float().mean())
            out[f"{label}_prob"] = float(prob.mean())
    if getattr(ctx.options, "remaining_only", False):
        _answered_in_context(ctx, answered)
    ctx.still_answered = answered.to(ctx.lm.device)
    return {**out, **measure_retain(ctx)} if retain else out


def measure_retain(ctx: StepContext) -> dict:
    """Top-1 accuracy and mean p(answer) of the retain facts: {"retain_acc", "retain_prob"} ({} without any)."""
    hit, prob, _ = _hits(ctx, ctx.retain_measured)
    return {"retain_acc": float(hit.float().mean()), "retain_prob": float(prob.mean())} if hit.numel() else {}


def _answered_in_context(ctx: StepContext, answered: torch.Tensor) -> None:
    """Mark in `answered` (F,) the facts one of whose augmented rows is answered; only the rows of facts
    not yet marked run (focus.take_rows), so the check costs little while most facts are answered."""
    for cached in ctx.augmented:
        source = cached.batch.source.cpu()                                 # (B,)
        rows = (~answered[source]).nonzero(as_tuple=True)[0]              # (R,)
        if rows.numel():
            hit = answer_accuracy(ctx.replay, take_rows(cached, rows), ctx.config.answer_rank)[0].cpu()
            answered[source[rows][hit]] = True


def still_known(ctx: StepContext, step: int | None = None) -> tuple[str, ...]:
    """Prompts of the forget facts whose answer is still among the top answer_rank tokens (top-1 by default),
    and those whose continuation said it further on when the rule read on at this same `step`."""
    hit = _hits(ctx, ctx.originals, ctx.config.answer_rank)[0]
    known = {prompt for prompt, first in zip(ctx.forget_prompts, hit.tolist()) if first}
    known.update(said_later_at(ctx, step))
    return tuple(prompt for prompt in ctx.forget_prompts if prompt in known)


def stops(ctx: StepContext, evaluation: dict, step: int) -> bool:
    """The stopping rule at a check: the prompts (and known paraphrases) at or under their targets (forgotten),
    then, reading on, at most stop_at's share of the facts answered or said further on. False when the step
    had no check or the run goes on to the cap (stop_at None)."""
    config = ctx.config
    if config.stop_at is None or not evaluation or not forgotten(evaluation, config.stop_at,
                                                                 config.stop_at_paraphrases):
        return False
    if not config.read_on:
        return True
    answered = read_on(ctx, step) | ctx.extras["prompt_hits"]                 # (F,) bool
    return float(answered.float().mean()) <= config.stop_at


def read_on(ctx: StepContext, step: int) -> torch.Tensor:
    """(F,) bool: the forget facts whose greedy continuation of config.read_on new tokens (current weights)
    says the answer as a word (data.checks.names_answer). They are marked in ctx.still_answered, so methods
    that rest forgotten facts push them again, and remembered for still_known at this step."""
    texts = greedy_batch(ctx.lm, ctx.forget_prompts, ctx.config.read_on)
    said = torch.tensor([names_answer(text, answer, prompt) for text, answer, prompt
                         in zip(texts, ctx.forget_answers, ctx.forget_prompts)], dtype=torch.bool)   # (F,)
    if ctx.still_answered is not None:
        ctx.still_answered = ctx.still_answered | said.to(ctx.still_answered.device)
    first = ctx.extras.get("prompt_hits", torch.zeros_like(said)).cpu()
    later = said & ~first                                                       # gone from the first token only
    ctx.extras["said_later"] = (step, tuple(p for p, s in zip(ctx.forget_prompts, later.tolist()) if s))
    return said


def said_later_at(ctx: StepContext, step: int | None) -> tuple[str, ...]:
    """Prompts no longer answered at the first token whose continuation said the answer when the rule read on
    at `step` (() if it did not read there)."""
    read = ctx.extras.get("said_later")
    return read[1] if read is not None and step is not None and read[0] == step else ()


def read_on_note(ctx: StepContext, step: int) -> str:
    """"" or the start of a step's line when reading on kept the run going: "1 fact still says its answer
    further on in the text; "."""
    said = len(said_later_at(ctx, step))
    return f"{counted(said, 'fact still says its', 'facts still say their')} answer further on in the text; " \
        if said else ""


def forgotten(evaluation: dict, prompts: float, paraphrases: float | None) -> bool:
    """True when the forget prompts (and, unless None, the known paraphrases) are at or below their targets."""
    ok = evaluation.get("forget_acc", 0.0) <= prompts
    return ok and (paraphrases is None or evaluation.get("paraphrase_acc", 0.0) <= paraphrases)
