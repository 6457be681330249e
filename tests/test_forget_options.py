"""KUDA's options and the loop's shared settings (stall boost, answer rank) on tiny taught models."""
from __future__ import annotations

import pytest
import torch

from kuda_core.forget import objectives as obj
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.loop import reset, unlearn as run_unlearn
from kuda_core.forget.replay import fact_rows, make_batches
from kuda_core.model.snapshot import WeightSnapshot
from tests.forget_setup import FAST, FORGET, RETAIN, TEXTS, TINY_KUDA, one_thread, taught  # noqa: F401


@pytest.mark.parametrize("options", [
    {"retain_kl": 1.0}, {"rho": 0.5}, {"forget_form": "cos2", "norm_weight": 0.5},
    {"tau_mode": "absolute", "tau": 1e-6, "gamma": 0.5}, {"tau": None, "lam": 0.0}, {"train_inputs": True},
    {"remaining_only": True, "check_every": 1}, {"alternative_kl": 1.0},
])
def test_kuda_options_run(taught, options):
    records = run_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig.create("kuda", steps=3, **{**FAST, **options}))
    assert records[-1].status == "done" and records[-1].krd > 0
    assert torch.isfinite(torch.tensor([r.loss for r in records[1:]])).all()


def _alternative_kl_now(lm, snapshot):
    """KL(original without the answer || now) at each FORGET prompt's answer position, summed."""
    rows = fact_rows(lm, FORGET)
    batch = make_batches(rows, 8, lm.tokenizer.pad_token_id, lm.device)[0]
    index = torch.arange(len(rows))
    with torch.no_grad():
        now = lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[index, batch.answer_pos]
        with snapshot.original(lm.model):
            ref = lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[index, batch.answer_pos]
    return float(obj.alternative_kl(now, ref, batch.answer_id))


def test_alternative_kl_leads_towards_what_the_original_would_say_instead(taught):
    """The same run with the term ends nearer the original's alternatives, and still forgets."""
    distances = {}
    for weight in (0.0, 3.0):
        snap = WeightSnapshot()
        settings = {**FAST, **TINY_KUDA, "alternative_kl": weight, "lr": 3e-3}
        records = run_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig.create("kuda", steps=10, **settings), snap)
        assert records[-1].forget_prob < records[0].forget_prob
        distances[weight] = _alternative_kl_now(taught, snap)
        reset(taught, snap)
    assert distances[3.0] < distances[0.0]


def test_polish_steps_follow_the_run_and_lead_towards_the_alternatives(taught):
    """The run proper ends as without polishing (same records), then exactly polish_steps more steps at the
    configured lr bring the answers nearer what the original would say instead; Reset is bit-exact."""
    settings = {**FAST, **TINY_KUDA, "lr": 3e-3, "steps": 6, "check_every": 3, "stall_boost": 1.0}
    runs = {}
    for polish in (0, 4):
        snap = WeightSnapshot()
        records = run_unlearn(taught, FORGET, RETAIN, TEXTS,
                              UnlearnConfig.create("kuda", polish_steps=polish, **settings), snap)
        runs[polish] = (records, _alternative_kl_now(taught, snap))
        reset(taught, snap)
        assert not snap.is_modified(taught.model)
    plain, polished = runs[0][0], runs[4][0]
    proper = len(plain) - 1                               # the run proper's last step
    assert [r.loss for r in polished[1:proper + 1]] == pytest.approx([r.loss for r in plain[1:]])
    assert polished[proper].status == "running" and "now 4 polishing steps" in polished[proper].message
    assert [r.step for r in polished[proper + 1:]] == [plain[-1].step + i for i in range(1, 5)]
    assert polished[-1].status == "done" and "then 4 polishing steps" in polished[-1].message
    assert polished[-1].forget_acc is not None and polished[-1].retain_acc is not None
    assert runs[4][1] < runs[0][1]


def test_stall_boost_raises_the_lr_only_after_checks_without_progress():
    from kuda_core.forget.pace import MAX_BOOST, STALL_CHECKS, StallBoost

    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    pace = StallBoost(UnlearnConfig(lr=1e-3, stall_boost=2.0), answered=10)
    assert pace.update(optimizer, 7) == "" and optimizer.param_groups[0]["lr"] == 1e-3     # progress
    assert [pace.update(optimizer, 7) for _ in range(STALL_CHECKS - 1)] == [""] * (STALL_CHECKS - 1)
    assert pace.update(optimizer, 7) == "lr 1e-03 -> 2e-03 after 2 checks without fewer facts answered"
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-3)
    assert pace.update(optimizer, 6) == ""                                                    # progress resets
    for _ in range(20 * STALL_CHECKS):
        pace.update(optimizer, 6)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * MAX_BOOST)                # capped
    off = StallBoost(UnlearnConfig(lr=1e-3), answered=3)                                     # 1 = off
    assert all(off.update(optimizer, 3) == "" for _ in range(5))
    with pytest.raises(ValueError, match="stall_boost"):
        UnlearnConfig(stall_boost=0.5)


def test_a_stalled_run_says_when_it_raised_the_lr(taught):
    config = UnlearnConfig(steps=6, check_every=1, stall_boost=3.0, **{**FAST, "stop_at": 0.0, "lr": 1e-9})
    messages = [r.message for r in run_unlearn(taught, FORGET, RETAIN, TEXTS, config) if r.status == "running"]
    raised = [m for m in messages if "; lr " in m]
    assert raised and raised[0].endswith("; lr 1e-09 -> 3e-09 after 2 checks without fewer facts answered")
    assert "lr 3e-09 -> 8e-09 after" in " ".join(messages)         # 9e-09 is over the cap of 8x


def test_answer_rank_counts_a_fact_answered_while_its_answer_is_in_the_top_k(taught):
    vocab = taught.model.get_output_embeddings().weight.shape[0]
    config = UnlearnConfig(steps=60, **{**FAST, "stop_at": 0.0}, check_every=2, options=TINY_KUDA)
    top1 = run_unlearn(taught, FORGET, RETAIN, TEXTS, config)
    everywhere = run_unlearn(taught, FORGET, RETAIN, TEXTS, config.replace(answer_rank=vocab))
    assert all(r.forget_acc == 1.0 for r in everywhere if r.forget_acc is not None)   # every token is in the top V
    assert "NOT all forgotten" in everywhere[-1].message and len(everywhere[-1].remaining) == len(FORGET)
    assert top1[0].forget_acc == 1.0 and "forgotten after" in top1[-1].message        # top-1: the run forgets
    assert everywhere[0].neighbour_acc == top1[0].neighbour_acc                           # neighbours stay top-1
    with pytest.raises(ValueError, match="answer_rank"):
        UnlearnConfig(answer_rank=0)
