"""Unlearn facts by deviating their MLP representations (KUDA), as a generator of step records.

    >>> snap = WeightSnapshot()                                   # keeps the originals for Reset
    >>> for record in iter_unlearn(lm, forget, retain, texts, UnlearnConfig(layers=(4, 5, 6)), snap):
    ...     print(record.step, record.loss, record.krd, record.forget_acc)
    >>> reset(lm, snap)                                           # bit-exact original weights

Only the MLP output projections of `layers` train (optionally the input projections). The
stream entering the first trained layer is cached once (the layers below are frozen and see fixed
inputs), together with the original MLP outputs v0, so each step replays only the trained layers
(all layers above the first for output losses: GA, NPO, ...). After every Adam update the step
is projected on the relaxed null space of the retained keys: W <- W_prev + proj(W - W_prev).
Closing the generator (Stop) keeps the weights reached so far; hooks never outlive a forward
pass and requires_grad / train mode are put back as found. A NaN / inf loss or running out of
memory rolls the weights back to the start of the run and ends with a record saying so.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace
from typing import Iterator, Sequence

import torch

from kuda_core.forget.config import StepRecord, UnlearnConfig
from kuda_core.forget.context import StepContext
from kuda_core.forget.methods import get_method
from kuda_core.forget.pace import StallBoost
from kuda_core.forget import watch
from kuda_core.model import turns
from kuda_core.forget.setup import build_context, trainable_names
from kuda_core.model.architectures import get_module
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.model.trainable import only_trainable
from kuda_core.data.wording import counted


def reset(lm: LoadedModel, snapshot: WeightSnapshot) -> None:
    """Put back the weights saved in `snapshot` (bit-exact)."""
    snapshot.restore(lm.model)


def unlearn(lm: LoadedModel, forget_facts, retain_facts=(), general_texts=(), config: UnlearnConfig = UnlearnConfig.create(),
            snapshot: WeightSnapshot | None = None, neighbours: Sequence = ()) -> list[StepRecord]:
    """unlearn(lm, forget, retain, texts, config, snapshot) -> every StepRecord (iter_unlearn to the end)."""
    return list(iter_unlearn(lm, forget_facts, retain_facts, general_texts, config, snapshot, neighbours))


def iter_unlearn(
    lm: LoadedModel,
    forget_facts: Sequence,
    retain_facts: Sequence = (),
    general_texts: Sequence[str] = (),
    config: UnlearnConfig = UnlearnConfig.create(),
    snapshot: WeightSnapshot | None = None,
    neighbours: Sequence = (),
) -> Iterator[StepRecord]:
    """iter_unlearn(lm, forget, retain, texts, config, snapshot, neighbours) -> StepRecord per step.

    Facts are objects with .prompt, .subject, .answer (kuda_core.data.facts.Fact); the forget facts'
    paraphrases and the neighbours are measured, never trained on. `snapshot` (if given) is extended
    with the trained weights before they change, for a later Reset. The run stops once the forget
    facts are forgotten (config.stop_at), or at config.steps; the last record lists what remains.
    Between two records the model is left as any other caller expects it (flags as found).
    """
    started = time.perf_counter()
    if not forget_facts:
        raise ValueError("No facts to forget")
    modules = trainable_names(lm, config)                  # ValueError naming the model's layers for a missing one
    params = [get_module(lm.model, n).weight for n in modules]
    names = [n + ".weight" for n in modules]
    if snapshot is not None:
        snapshot.extend(lm.model, names)
    run_start = WeightSnapshot.take(lm.model, names)
    step = 0
    try:
        with only_trainable(lm.model, ()):
            ctx = build_context(lm, forget_facts, retain_facts, general_texts, config, modules, neighbours)
            record = _start(ctx, started, f"Ready: {len(forget_facts)} forget / {len(retain_facts)} retain facts, "
                                          f"{len(general_texts)} texts; {ctx.note}")
        yield record
        if config.stop_at is not None and not bool(ctx.still_answered.any()):
            yield _record(ctx, 0, None, None, started, "error", _nothing_to_forget(ctx))
            return
        optimizer, training_started = torch.optim.Adam(params, lr=config.lr), time.perf_counter()
        pace = StallBoost(config, answered=_answered(ctx))
        for step in itertools.count(1):          # ends with the record that is not running (the cap at the latest)
            if ctx.polishing and step == ctx.extras["polish_until"] - ctx.options.polish_steps + 1:
                _set_lr(optimizer, config.lr)      # polishing goes at the configured pace, not a stall's boost
            with only_trainable(lm.model, params):
                stats = _train_step(ctx, optimizer, params, step)
                if stats is None:
                    run_start.restore(lm.model)
                    record = _record(ctx, step, None, None, started, "error",
                                     f"Loss became NaN / inf at step {step}: weights rolled back to the start of the "
                                     "run. Lower lr or beta.")
                else:
                    record = _paced(_after_step(ctx, step, stats, started, training_started), ctx, pace, optimizer)
            yield record
            if record.status != "running":
                return
    except torch.OutOfMemoryError:
        run_start.restore(lm.model)
        if lm.device.type == "cuda":
            torch.cuda.empty_cache()
        yield _error_record(config, step, started,
                            f"Out of GPU memory at step {step}: lower retain_batch ({config.retain_batch}), "
                            f"max_text_tokens ({config.max_text_tokens}) or the number of layers; weights rolled back.")


def _set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _answered(ctx: StepContext) -> int:
    """How many forget facts the last check found still answered (prompt, paraphrase or augmented row)."""
    return int(ctx.still_answered.sum()) if ctx.still_answered is not None else len(ctx.forget_prompts)


def _paced(record: StepRecord, ctx: StepContext, pace: StallBoost, optimizer) -> StepRecord:
    """The record, with a note when the check it made raised the lr (forget.pace)."""
    if record.status != "running" or record.forget_acc is None:
        return record
    note = pace.update(optimizer, _answered(ctx))
    return replace(record, message=f"{record.message}; {note}") if note else record


def _start(ctx: StepContext, started: float, message: str) -> StepRecord:
    """The record before the first step: what the model answers, paraphrases known, batches narrowed;
    the message names the forget facts the model does not answer (nothing there to remove)."""
    watch.mark_known_paraphrases(ctx)
    turns.give_turn()
    evaluation = watch.measure(ctx)
    ctx.narrow_to_answered()
    unknown = [p for p, known in zip(ctx.forget_prompts, ctx.still_answered.tolist()) if not known]
    if unknown and len(unknown) < len(ctx.forget_prompts):
        shown = "; ".join(repr(p) for p in unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        message += f"; {len(unknown)} forget facts are not answered by the model even before training ({shown})"
    ctx.extras["prepared_s"] = time.perf_counter() - started            # what "done in ... s" tells apart
    return _record(ctx, 0, None, evaluation, started, "start", message)


def _nothing_to_forget(ctx: StepContext) -> str:
    rank = "top-1" if ctx.config.answer_rank == 1 else f"top-{ctx.config.answer_rank}"
    return (f"Nothing to forget: the model does not answer any of the {len(ctx.forget_prompts)} forget facts (the "
            f"answer is not its {rank} next token, with or without a paraphrase or context), so no step was made "
            "and the weights are unchanged. Check the answers: Locate and Compare show what the model says.")


def _after_step(ctx: StepContext, step: int, stats: dict, started: float, training_started: float) -> StepRecord:
    """The step's record: the cheap check every check_every steps (stop once forgotten), full evaluation
    on evaluation steps and the last one. A running record says how long the rest takes at most, at the
    pace of the steps so far (checks included). With polish steps (KUDA), the end of the run proper starts
    them (ctx.extras["polish_until"]) and the last of them ends the run."""
    config = ctx.config
    if ctx.polishing:
        return _polish_record(ctx, step, stats, started)
    evaluation = watch.measure(ctx, retain=False) if step % config.check_every == 0 else {}
    done = watch.stops(ctx, evaluation, step)
    last = step == config.steps or done
    polish = getattr(ctx.options, "polish_steps", 0)
    if last and polish:
        evaluation = evaluation or watch.measure(ctx, retain=False)
        ctx.extras.update(polish_until=step + polish, outcome=_outcome(ctx, step, done, watch.still_known(ctx, step)))
        return _record(ctx, step, stats, evaluation, started, "running",
                       f"Step {step}/{config.steps}: {ctx.extras['outcome']}; now {polish} polishing steps towards "
                       "what the original would say instead")
    if last or (config.eval_every and step % config.eval_every == 0):
        # a check at this step already measured the forget side on the same weights
        evaluation = {**evaluation, **watch.measure_retain(ctx)} if evaluation else watch.measure(ctx)
    if not last:
        if evaluation:
            ctx.narrow_to_answered()
        per_step = (time.perf_counter() - training_started) / step
        earlier = ", less once forgotten" if config.stop_at is not None else ""
        return _record(ctx, step, stats, evaluation, started, "running",
                       f"Step {step}/{config.steps}: {watch.read_on_note(ctx, step)}at most "
                       f"~{per_step * (config.steps - step):.0f} s more{earlier}")
    remaining = watch.still_known(ctx, step)
    message = f"Step {step}/{config.steps}: {_outcome(ctx, step, done, remaining)}; {_took(ctx, started)}"
    return _record(ctx, step, stats, evaluation, started, "done", message, remaining)


def _outcome(ctx: StepContext, step: int, done: bool, remaining: tuple[str, ...]) -> str:
    """How the run proper ended: forgotten, the steps made, or what the cap left answered."""
    if done:
        return f"forgotten after {counted(step, 'step')}"
    if ctx.config.stop_at is None:
        return counted(step, "step")
    shown = "; ".join(repr(p) for p in remaining[:3]) + (" ..." if len(remaining) > 3 else "")
    later = len(watch.said_later_at(ctx, step))
    return (f"NOT all forgotten after the cap of {step} steps: {len(remaining)} of {len(ctx.forget_prompts)} "
            f"facts still answered" + (f" ({shown})" if remaining else "; some paraphrases still answered")
            + (f", {later} of them only further on in the text" if later else ""))


def _took(ctx: StepContext, started: float) -> str:
    """'done in 51.0 s (19.2 s preparing, 31.8 s training)': the whole call, and what its preparation took."""
    total, prepared = time.perf_counter() - started, ctx.extras.get("prepared_s", 0.0)
    return f"done in {total:.1f} s ({prepared:.1f} s preparing, {total - prepared:.1f} s training)"


def _polish_record(ctx: StepContext, step: int, stats: dict, started: float) -> StepRecord:
    """A polishing step's record; the last one measures everything and ends the run."""
    until, polish = ctx.extras["polish_until"], ctx.options.polish_steps
    if step < until:
        return _record(ctx, step, stats, None, started, "running",
                       f"Polishing step {polish - (until - step)}/{polish}: {ctx.extras['outcome']}")
    evaluation = watch.measure(ctx)
    remaining = watch.still_known(ctx)
    message = (f"Step {step}: {ctx.extras['outcome']}, then {polish} polishing steps "
               f"({len(remaining)} of {len(ctx.forget_prompts)} facts answered after them); {_took(ctx, started)}")
    return _record(ctx, step, stats, evaluation, started, "done", message, remaining)


def _train_step(ctx: StepContext, optimizer, params, step: int) -> dict | None:
    """One update: separate forget / retain gradients, Adam, projected step. None on NaN / inf."""
    method = get_method(ctx.config.method)
    forget_loss, krd_value = method.forget_term(ctx, ctx.forget_batch(step))
    retain_cached = ctx.next_retain()
    if retain_cached is None:
        retain_loss, drift = ctx.zero(), float("nan")
    else:
        retain_loss, drift = method.retain_term(ctx, retain_cached)
    total = forget_loss + retain_loss
    if not torch.isfinite(total):
        return None
    g_f = _grads(forget_loss, params)
    g_r = _grads(retain_loss, params)
    grad_cos = _cosine([ctx.project(n, g) for n, g in zip(ctx.modules, g_f)], g_r)
    previous = [p.detach().clone() for p in params]
    for p, a, b in zip(params, g_f, g_r):
        p.grad = a + b
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    with torch.no_grad():
        for name, p, prev in zip(ctx.modules, params, previous):
            if name in ctx.projectors:
                p.copy_(prev + ctx.project(name, p - prev))
    return {"loss": total.item(), "forget_loss": forget_loss.item(), "retain_loss": retain_loss.item(),
            "krd": krd_value, "retain_drift": drift, "grad_cos": grad_cos}


def _grads(loss: torch.Tensor, params) -> list[torch.Tensor]:
    if not loss.requires_grad:
        return [torch.zeros_like(p) for p in params]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def _cosine(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    dot = sum(float((x.float() * y.float()).sum()) for x, y in zip(a, b))
    na = math.sqrt(sum(float(x.float().pow(2).sum()) for x in a))
    nb = math.sqrt(sum(float(y.float().pow(2).sum()) for y in b))
    return dot / (na * nb) if na > 0 and nb > 0 else float("nan")


def _record(ctx, step, stats, evaluation, started, status, message, remaining=()) -> StepRecord:
    stats, evaluation, nan = stats or {}, evaluation or {}, float("nan")
    return StepRecord(
        step=step, total_steps=ctx.config.steps,
        loss=stats.get("loss", nan), forget_loss=stats.get("forget_loss", nan),
        retain_loss=stats.get("retain_loss", nan), krd=stats.get("krd", 0.0 if step == 0 else nan),
        retain_drift=stats.get("retain_drift", 0.0 if step == 0 else nan), grad_cos=stats.get("grad_cos", nan),
        forget_acc=evaluation.get("forget_acc"), retain_acc=evaluation.get("retain_acc"),
        forget_prob=evaluation.get("forget_prob"), retain_prob=evaluation.get("retain_prob"),
        paraphrase_acc=evaluation.get("paraphrase_acc"), neighbour_acc=evaluation.get("neighbour_acc"),
        neighbour_prob=evaluation.get("neighbour_prob"),
        elapsed_s=time.perf_counter() - started, status=status, message=message, remaining=tuple(remaining),
    )


def _error_record(config, step, started, message) -> StepRecord:
    nan = float("nan")
    return StepRecord(step, config.steps, nan, nan, nan, nan, nan, nan, None, None, None, None, None, None, None,
                      time.perf_counter() - started, "error", message)
