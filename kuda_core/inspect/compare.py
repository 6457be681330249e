"""Original vs unlearned answers, prompt by prompt: greedy text, p and rank of the answer, top-k, fluency.

    >>> rows = compare_answers(lm, snap, prompts, answers)     # [AnswerComparison], original vs now
    >>> for index, row in iter_compare_answers(lm, snap, prompts): ...   # stoppable, in batches

"Original" comes from the same model with the snapshot's original weights swapped in
(`snapshot.original`), so no second copy of the model is needed; with snapshot=None the model
is taken as unedited and both sides agree.
"""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

from kuda_core.data.checks import names_answer  # noqa: F401  (also read from here)
from kuda_core.inspect.fluency import check_fluency
from kuda_core.model.generation import greedy_batch_with_stats
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot


@dataclass(frozen=True)
class CompareConfig:
    batch_size: int = 32              # prompts per forward pass
    max_new_tokens: int = 20          # length of the greedy answers that are compared
    top_k: int = 5                    # next tokens shown per answer

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if not 1 <= self.max_new_tokens <= 256:
            raise ValueError(f"max_new_tokens must be in [1, 256], got {self.max_new_tokens!r}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k!r}")


@dataclass(frozen=True)
class AnswerComparison:
    prompt: str
    answer: str                  # the scored answer (default: the original greedy next token)
    original_text: str           # greedy continuation before / after
    current_text: str
    original_p: float            # P(first answer token) before / after
    current_p: float
    original_rank: int
    current_rank: int
    original_top: tuple[tuple[str, float], ...]   # top-k next tokens before / after
    current_top: tuple[tuple[str, float], ...]
    names_answer: bool           # the current continuation still says the answer somewhere (names_answer)
    changed: bool                # the answer changed: its first token is top-1 before and not after (or the reverse)
    text_changed: bool           # the greedy continuation differs at all
    fluent: bool                 # the current continuation passes the fluency verdict (inspect.fluency)
    original_fluent: bool        # the original continuation does (the baseline)
    perplexity: float            # of the current continuation under the original model
    fluency_score: float         # P(fluent) of the verdict


def original_weights(lm: LoadedModel, snapshot: WeightSnapshot | None):
    """Context with the original weights swapped in (a no-op without a snapshot)."""
    return snapshot.original(lm.model) if snapshot is not None else nullcontext()


def _current_fluency(lm, snapshot, prompts, texts, original_texts, original_checks, size) -> list:
    """The verdict on the current continuations; one equal to the original's reuses its check (the verdict reads
    the original weights only, so the same prompt and text give the same check)."""
    redo = [j for j, (text, before) in enumerate(zip(texts, original_texts)) if text != before]
    checks = list(original_checks)
    if redo:
        for j, check in zip(redo, check_fluency(lm, [prompts[j] for j in redo], [texts[j] for j in redo], snapshot, size)):
            checks[j] = check
    return checks


def iter_compare_answers(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    prompts: Sequence[str],
    answers: Sequence[str] | None = None,
    config: CompareConfig = CompareConfig(),
    originals: MutableMapping | None = None,
) -> Iterator[tuple[int, AnswerComparison]]:
    """Yield (index, AnswerComparison) per prompt, computed config.batch_size prompts at a time.

    Greedy answers are generated in left-padded batches; stop early by closing the generator.
    `originals` (a dict the caller keeps per base model) caches the original side: the original
    weights' answer, next-token statistics and fluency per (prompt, answer, config), so they are
    computed once for every visitor and run.
    """
    if answers is not None and len(answers) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    size = config.batch_size
    originals = {} if originals is None else originals
    for start in range(0, len(prompts), size):
        part = list(prompts[start:start + size])
        wanted = list(answers[start:start + size]) if answers is not None else [None] * len(part)
        keys = [(p, a, config.max_new_tokens, config.top_k) for p, a in zip(part, wanted)]
        missing = [j for j, key in enumerate(keys) if key not in originals]
        if missing:
            with original_weights(lm, snapshot):
                texts, stats = greedy_batch_with_stats(lm, [part[j] for j in missing], config.max_new_tokens, size,
                                                       [wanted[j] for j in missing], config.top_k)
            fluency = check_fluency(lm, [part[j] for j in missing], texts, snapshot, size)
            for j, text, stat, check in zip(missing, texts, stats, fluency):
                originals[keys[j]] = (text, stat, check)
        before_text, before, then = zip(*(originals[key] for key in keys))
        after_text, after = greedy_batch_with_stats(lm, part, config.max_new_tokens, size,
                                                    [b.answer_id for b in before], config.top_k)
        checks = _current_fluency(lm, snapshot, part, after_text, before_text, then, size)
        for j, prompt in enumerate(part):
            now = checks[j]
            yield start + j, AnswerComparison(
                prompt=prompt, answer=before[j].answer,
                original_text=before_text[j], current_text=after_text[j],
                original_p=before[j].answer_p, current_p=after[j].answer_p,
                original_rank=before[j].answer_rank, current_rank=after[j].answer_rank,
                original_top=before[j].top, current_top=after[j].top,
                names_answer=names_answer(after_text[j], before[j].answer, prompt),
                changed=(before[j].answer_rank == 1) != (after[j].answer_rank == 1),
                text_changed=after_text[j] != before_text[j],
                fluent=now.fluent, original_fluent=then[j].fluent,
                perplexity=now.perplexity, fluency_score=now.score,
            )


def compare_answers(
    lm: LoadedModel,
    snapshot: WeightSnapshot | None,
    prompts: Sequence[str],
    answers: Sequence[str] | None = None,
    config: CompareConfig = CompareConfig(),
) -> list[AnswerComparison]:
    """compare_answers(lm, snap, prompts, answers=None) -> [AnswerComparison] in input order."""
    return [row for _, row in iter_compare_answers(lm, snapshot, prompts, answers, config)]
