"""What a step trains on and what a check counts as answered: resting forgotten facts (KUDA's
remaining_only), narrowed forget batches, rows taken from a cached batch, the seeded start."""
from __future__ import annotations

import torch

from kuda_core.data.facts import Fact
from kuda_core.forget import watch
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.focus import take_rows
from kuda_core.forget.methods.kuda import forget_term
from kuda_core.forget.replay import Replay, answer_accuracy, fact_rows, make_batches
from kuda_core.forget.setup import build_context, measured_rows, trainable_names
from kuda_core.model.snapshot import WeightSnapshot, state_dict_hash
from tests.forget_setup import FAST, FORGET, RETAIN, TEXTS, TINY_KUDA, one_thread, taught  # noqa: F401


def test_remaining_only_pushes_the_facts_still_answered(taught):
    facts = [FORGET[0], Fact(FORGET[1].prompt, FORGET[1].subject, FORGET[1].answer,
                             paraphrases=("In Paris, the Eiffel Tower is located in the",))]
    config = UnlearnConfig.create("kuda", **FAST, augment=("prefix",), augment_copies=2, **TINY_KUDA)
    ctx = build_context(taught, facts, RETAIN, TEXTS, config, trainable_names(taught, config))
    (batch,) = [c.batch for c in ctx.forget]
    assert batch.source.tolist() == [0, 1, 0, 0, 1, 1]                     # the facts, then 2 prefixed rows each
    assert [c.batch.source.tolist() for c in ctx.paraphrases] == [[1]]
    cached = ctx.forget[0]
    assert torch.equal(ctx.forget_mask(cached, remaining_only=True), batch.focus)   # before any check: every row
    watch.mark_known_paraphrases(ctx)
    watch.measure(ctx, retain=False)
    assert ctx.still_answered.tolist() == [True, True]
    ctx.still_answered = torch.tensor([False, True])
    mask = ctx.forget_mask(cached, remaining_only=True)
    assert not mask[batch.source == 0].any() and torch.equal(mask[batch.source == 1], batch.focus[batch.source == 1])
    assert torch.equal(ctx.forget_mask(cached), batch.focus)               # the option off: every row
    ctx.still_answered = torch.tensor([False, False])                      # nothing left: every row again
    assert torch.equal(ctx.forget_mask(cached, remaining_only=True), batch.focus)


def test_remaining_only_keeps_pushing_a_fact_its_augmented_rows_still_answer(taught):
    """A fact whose prompt is no longer answered but whose augmented rows are stays active."""
    config = UnlearnConfig.create("kuda", **FAST, augment=(), **TINY_KUDA)   # augmentation is a default
    modules = trainable_names(taught, config)
    wrong = [Fact(f.prompt, f.subject, " banana", f.relation, f.topic) for f in FORGET]   # prompts "forgotten"
    ctx = build_context(taught, wrong, RETAIN, TEXTS, config, modules)
    answered = build_context(taught, FORGET, RETAIN, TEXTS, config, modules).originals   # rows of facts 0, 1
    assert ctx.augmented == []                             # no augmentation here: nothing else to measure
    ctx.augmented = answered                               # as if the prompts' augmented rows still answered
    assert [c.batch.source.tolist() for c in ctx.augmented] == [[0, 1]]
    assert watch.measure(ctx, retain=False)["forget_acc"] == 0.0
    assert ctx.still_answered.tolist() == [True, True]                     # so both facts are still pushed
    ctx.augmented = []                                                     # augmented rows forgotten too
    watch.measure(ctx, retain=False)
    assert ctx.still_answered.tolist() == [False, False]
    ctx.augmented = answered
    ctx.config = config.replace(remaining_only=False)
    watch.measure(ctx, retain=False)
    assert ctx.still_answered.tolist() == [False, False]                   # without the option: prompts only


def test_taking_rows_of_a_cached_batch_replays_as_those_rows(taught):
    """focus.take_rows cuts a cached batch (stream, masks, positions, v0) without a new pass; replaying the
    cut batch gives the rows' outputs of the whole batch."""
    rows = fact_rows(taught, FORGET + RETAIN)
    batch = make_batches(rows, 8, taught.tokenizer.pad_token_id, taught.device)[0]
    replay = Replay(taught, 1, (1, 2))
    cached = replay.cache(batch)
    keep = torch.tensor([4, 1, 5])
    cut = take_rows(cached, keep)
    assert cut.batch.source.tolist() == [4, 1, 5] and torch.equal(cut.v0[2], cached.v0[2][keep])
    with torch.no_grad():
        h_all, _ = replay.run(cached)
        h_cut, v = replay.run(cut)
    real = cut.batch.real
    assert torch.allclose(h_cut[real], h_all[keep][real], atol=1e-5)
    assert torch.allclose(v[2][real], cut.v0[2][real], atol=1e-5)


def test_narrowed_forget_batches_give_the_masked_loss_of_every_row(taught):
    """Training only on the rows of facts still answered, cut after their focus tokens, costs less and changes
    nothing: same loss, same gradients as the masked loss on every row, with the original v0 although the
    weights have moved."""
    config = UnlearnConfig.create("kuda", **FAST, augment=("prefix", "question"), augment_copies=1, **TINY_KUDA)
    modules = trainable_names(taught, config)
    ctx = build_context(taught, FORGET, RETAIN, TEXTS, config, modules)
    (full,) = ctx.forget
    weight = dict(taught.model.named_parameters())[modules[0] + ".weight"]
    with torch.no_grad():
        weight.add_(0.05 * torch.randn(weight.shape, generator=torch.Generator().manual_seed(0)))
    ctx.still_answered = torch.tensor([False, True])
    ctx.narrow_to_answered()
    (narrowed,) = ctx.narrowed
    assert narrowed.batch.source.tolist() == [1, 1, 1] and ctx.forget_batch(7) is narrowed
    ctx.narrow_to_answered()                                              # the same facts: not made again
    assert ctx.narrowed[0] is narrowed
    rows = (full.batch.source == 1).nonzero()[:, 0]
    last_focus = full.batch.focus[rows].nonzero()[:, 1].max()
    assert narrowed.batch.input_ids.shape[1] == last_focus + 1                      # cut after the focus tokens
    assert narrowed.batch.input_ids.shape[1] < int(full.batch.attention_mask[rows].sum(-1).max())
    assert torch.equal(narrowed.batch.focus, full.batch.focus[rows][:, :last_focus + 1])
    for layer, v0 in narrowed.v0.items():
        real = narrowed.batch.real
        assert torch.equal(v0[real], full.v0[layer][rows][:, :real.shape[1]][real])
    losses, grads = [], []
    for cached in (full, narrowed):
        weight.grad = None
        with torch.enable_grad():
            weight.requires_grad_(True)
            loss, _ = forget_term(ctx, cached)
            loss.backward()
        losses.append(loss.detach())
        grads.append(weight.grad.clone())
    weight.requires_grad_(False)
    assert losses[0] > 0 and torch.allclose(losses[0], losses[1], atol=1e-6)
    assert grads[0].abs().sum() > 0 and torch.allclose(grads[0], grads[1], atol=1e-6)
    ctx.still_answered = torch.tensor([True, True])                       # every fact again: every row (cut)
    ctx.narrow_to_answered()
    assert ctx.narrowed[0].batch.source.tolist() == full.batch.source.tolist()
    ctx.still_answered = torch.tensor([False, False])                     # none: the rows as they were
    ctx.narrow_to_answered()
    assert ctx.narrowed is None and ctx.forget_batch(1) is full


def test_kuda_start_jitter_gives_the_first_step_a_seeded_direction(taught):
    """Where a run starts the forget term is flat (its gradient is rounding); start_jitter nudges the trained
    weights by a seeded, null-space-projected change, so the first gradient is real and the same for a seed,
    and Reset still puts back the original bits."""
    def first_gradient(lm, jitter):
        config = UnlearnConfig.create("kuda", **FAST, start_jitter=jitter, **TINY_KUDA)
        modules = trainable_names(lm, config)
        ctx = build_context(lm, FORGET, RETAIN, TEXTS, config, modules)
        weights = [dict(lm.model.named_parameters())[m + ".weight"] for m in modules]
        with torch.enable_grad():
            for w in weights:
                w.requires_grad_(True)
            grads = torch.autograd.grad(forget_term(ctx, ctx.forget[0])[0], weights)
            for w in weights:
                w.requires_grad_(False)
        return torch.cat([g.flatten() for g in grads]), torch.cat([w.detach().flatten() for w in weights])

    original = state_dict_hash(taught.model)
    flat, start = first_gradient(taught, 0.0)
    assert state_dict_hash(taught.model) == original                       # no jitter: nothing changed
    snapshot = WeightSnapshot.take(taught.model, [n for n, _ in taught.model.named_parameters()])
    seeded, nudged = first_gradient(taught, 1e-4)
    assert seeded.norm() > 100 * flat.norm() and 0 < (nudged - start).abs().max() < 1e-2
    snapshot.restore(taught.model)
    again, _ = first_gradient(taught, 1e-4)
    assert torch.equal(again, seeded)                                      # the same direction for a seed
    snapshot.restore(taught.model)
    assert state_dict_hash(taught.model) == original


def test_measured_rows_end_at_the_first_answer_token_and_measure_the_same(taught):
    """Retain facts (and paraphrases, neighbours) are measured on rows cut after the first answer token and
    sorted by length: the same top-1 verdicts and p(answer) as on the whole rows, padded in order."""
    retain = [Fact(f.prompt, f.subject, f.answer + " and much more besides") for f in RETAIN]   # long answers
    config = UnlearnConfig.create("kuda", **FAST, augment=(), **TINY_KUDA)
    ctx = build_context(taught, FORGET, retain, TEXTS, config, trainable_names(taught, config))
    rows = fact_rows(taught, retain, "prompt")
    assert [len(r.ids) for r in measured_rows(rows)] == [r.answer_pos + 2 for r in rows]
    assert all(len(r.ids) > r.answer_pos + 2 for r in rows)
    lengths = [n for c in ctx.retain_measured for n in c.batch.attention_mask.sum(-1).tolist()]
    assert lengths == sorted(lengths) and len(lengths) == len(retain)

    def by_fact(batches):
        out = {}
        for cached in batches:
            hit, prob = answer_accuracy(ctx.replay, cached)
            out.update({int(s): (bool(h), float(p)) for s, h, p in zip(cached.batch.source, hit, prob)})
        return out

    whole = by_fact(ctx.replay.cache(b) for b in make_batches(rows, 2, ctx.pad_id, taught.device))
    cut = by_fact(ctx.retain_measured)
    assert whole.keys() == cut.keys() == set(range(len(retain)))
    for fact, (hit, prob) in whole.items():
        assert cut[fact][0] == hit and abs(cut[fact][1] - prob) < 1e-5
