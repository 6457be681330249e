"""What every unlearning run guarantees, on tiny taught models: the projection keeps retained outputs,
a closed run leaves no hooks, a NaN or out-of-memory step rolls back, reset is bit-exact."""
from __future__ import annotations

import torch

from kuda_core.forget import objectives
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.loop import iter_unlearn, reset, unlearn as run_unlearn
from kuda_core.forget.replay import fact_rows, make_batches, text_rows
from kuda_core.model.hooks import Hooks, hook_count
from kuda_core.model.snapshot import WeightSnapshot, state_dict_hash
from tests.forget_setup import FAST, FORGET, RETAIN, TEXTS, one_thread, taught  # noqa: F401


def _mlp_out_outputs(lm, layers):
    """MLP output-projection outputs on the retain sequences the run protects, real tokens only."""
    rows = fact_rows(lm, RETAIN, "prompt") + text_rows(lm, TEXTS)
    batch = make_batches(rows, 64, lm.tokenizer.pad_token_id, lm.device)[0]
    names = [lm.spec.mlp_out.format(i) for i in layers]
    with torch.no_grad(), Hooks(lm.model, capture_outputs=names) as rec:
        lm.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    return [rec.outputs[n][batch.real] for n in names]


def test_projected_adam_steps_keep_retained_outputs(taught):
    """γ = 0 and a strict τ: ΔW·k_r = 0 for every retained key, through Adam's steps."""
    before = _mlp_out_outputs(taught, (1, 2))
    snap = WeightSnapshot()
    config = UnlearnConfig(steps=8, tau=1e-10, gamma=0.0, **FAST)
    run_unlearn(taught, FORGET, RETAIN, TEXTS, config, snap)
    assert snap.is_modified(taught.model)
    for old, new in zip(before, _mlp_out_outputs(taught, (1, 2))):
        assert (new - old).norm() / old.norm() <= 1e-4


def test_close_leaves_no_hooks_and_restores_requires_grad(taught):
    model = taught.model
    model.get_input_embeddings().weight.requires_grad_(False)   # "as found", not "all True"
    found = {n: p.requires_grad for n, p in model.named_parameters()}
    run = iter_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=50, **FAST))
    next(run)
    next(run)
    run.close()
    assert hook_count(model) == 0
    assert {n: p.requires_grad for n, p in model.named_parameters()} == found
    assert all(p.grad is None for p in model.parameters())
    assert not model.training


def test_nan_loss_rolls_back(taught, monkeypatch):
    calls = []
    original = objectives.kuda_forget_loss

    def poisoned(*args, **kwargs):
        calls.append(1)
        loss = original(*args, **kwargs)
        return loss * float("nan") if len(calls) > 4 else loss   # two layers a step: step 3 fails

    monkeypatch.setattr(objectives, "kuda_forget_loss", poisoned)
    start = state_dict_hash(taught.model)
    records = run_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=10, **FAST))
    assert records[-1].status == "error" and "NaN" in records[-1].message and records[-1].step == 3
    assert state_dict_hash(taught.model) == start


def test_out_of_memory_gives_a_clear_message_and_rolls_back(taught, monkeypatch):
    calls = []
    original = objectives.retain_repr_loss

    def exhausted(*args, **kwargs):
        calls.append(1)
        if len(calls) >= 3:   # two layers a step: step 2 runs out
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(*args, **kwargs)

    monkeypatch.setattr(objectives, "retain_repr_loss", exhausted)
    start = state_dict_hash(taught.model)
    records = run_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=10, **FAST))
    assert records[-1].status == "error" and "Out of GPU memory at step 2" in records[-1].message
    assert "retain_batch" in records[-1].message
    assert state_dict_hash(taught.model) == start and hook_count(taught.model) == 0


def test_reset_is_bit_exact_after_two_runs(taught):
    original = state_dict_hash(taught.model)
    snap = WeightSnapshot()
    run_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=3, **FAST), snap)
    run_unlearn(taught, FORGET, RETAIN, TEXTS, UnlearnConfig(steps=3, train_inputs=True, **FAST), snap)
    assert state_dict_hash(taught.model) != original
    reset(taught, snap)
    assert state_dict_hash(taught.model) == original
