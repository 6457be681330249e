"""Attacks on the forgetting: prompt attacks, relearning with a control, logit lens (tiny taught models)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kuda_core.data.checks import check_facts
from kuda_core.data.facts import Fact
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.loop import unlearn
from kuda_core.inspect.attacks.lens import logit_lens
from kuda_core.inspect.attacks.prompts import AttackConfig, attack_prompts, iter_prompt_attacks
from kuda_core.inspect.attacks.relearn import RelearnConfig, iter_relearn, split_halves
from kuda_core.model.snapshot import WeightSnapshot, state_dict_hash
from tests.conftest import taught_model

FORGET = [Fact("Microsoft was founded by", "Microsoft", " Bill", relation="founder"),
          Fact("Water boils at one hundred", "Water", " degrees", relation="science",
               paraphrases=("Water boils at one hundred",))]
CONTEXT = [Fact("The capital of Japan is", "Japan", " Tokyo", relation="capital"),
           Fact("The quick brown fox jumps over the lazy", "quick brown fox", " dog", relation="science"),
           Fact("The river flows through the old", "river", " town", relation="place"),
           Fact("A cup of tea in the morning helps many", "cup of tea", " people", relation="habit")]
TEXTS = ["The capital of France is Paris.", "The official language of Brazil is Portuguese."]


@pytest.fixture(params=["gpt2", "llama"])
def forgotten(request):
    """A taught tiny model that forgot FORGET, and the snapshot of its original weights."""
    lm = taught_model(request.param)
    snapshot = WeightSnapshot()
    # the tiny model needs the last token too; no augmentation: the attacks need a model that forgot, and the
    # tiny models' forgetting should not hinge on how many context rows a lone fact gets (forget.augment)
    config = UnlearnConfig.create("kuda", layers=(1, 2), steps=40, lr=2e-2, tau=None, stop_at=None,
                                  forget_tokens="subject+last", beta=10.0, augment=())
    unlearn(lm, FORGET, CONTEXT, TEXTS, config, snapshot)
    return lm, snapshot


def test_attack_prompts_never_show_the_answer():
    attacks = attack_prompts(FORGET, CONTEXT, AttackConfig(shots=3, question_examples=2))
    assert set(attacks) == {"plain", "paraphrases", "3-shot", "question", "question, 2 examples"}
    for name, rows in attacks.items():
        for prompt, answer, owner in rows:
            context = prompt[: prompt.rfind(FORGET[owner].subject)]
            assert answer.strip() not in context, (name, prompt)
            assert FORGET[owner].subject in prompt
    shot_prompt = attacks["3-shot"][1][0]
    assert shot_prompt.startswith("The quick brown fox")      # the same relation comes first


def test_attack_shots_leave_out_the_answer_whatever_its_accents():
    """A typed 'Dali' must not meet a shot saying 'Salvador Dalí' (the filter compared raw strings)."""
    forget = [Fact("The Persistence of Memory is a famous painting by", "The Persistence of Memory", " Dali",
                   relation="painter")]
    dali = Fact("The Elephants is a famous painting by", "The Elephants", " Salvador Dalí", relation="painter")
    others = [Fact(f"Painting number {i} is a famous painting by", f"Painting number {i}", f" Painter {i}",
                   relation="painter") for i in range(3)]
    for seed in range(20):
        attacks = attack_prompts(forget, [dali, *others], AttackConfig(shots=3, question_examples=2, seed=seed))
        assert not any("Dalí" in prompt for rows in attacks.values() for prompt, _, _ in rows), seed


def test_prompt_attacks_compare_original_and_unlearned(forgotten):
    lm, snapshot = forgotten
    records = {r.name: r for r in iter_prompt_attacks(lm, snapshot, FORGET, CONTEXT)}
    plain = records["plain"]
    assert plain.original_acc == 1.0 and plain.unlearned_acc < 1.0
    assert plain.unlearned_acc == np.mean([c.top1_ok for c in check_facts(lm, [f.prompt for f in FORGET],
                                                                           [f.answer for f in FORGET])])
    for record in records.values():
        assert record.n >= 1 and 0 <= record.unlearned_p <= 1
        assert np.isnan(record.recovered) or 0 <= record.recovered <= 1
    assert records["plain"].recovered == 0.0 or np.isnan(records["plain"].recovered)


def test_relearning_restores_the_weights_and_reports_recovery(forgotten):
    lm, _ = forgotten
    names = ["model.layers.1.mlp.down_proj.weight" if lm.spec.family == "llama" else "transformer.h.1.mlp.c_proj.weight"]
    before = state_dict_hash(lm.model)
    flags = {n: p.requires_grad for n, p in lm.model.named_parameters()}
    records = list(iter_relearn(lm, FORGET, CONTEXT, names, RelearnConfig(steps=(2, 5), lr=1e-2)))
    assert [(r.arm, r.step) for r in records] == [("before", 0), ("relearn", 2), ("relearn", 5), ("control", 2),
                                                  ("control", 5)]
    last = records[-1]
    relearned = next(r for r in records if r.arm == "relearn" and r.step == 5)
    assert last.recovery == pytest.approx(relearned.held_acc - last.held_acc)
    assert state_dict_hash(lm.model) == before
    assert {n: p.requires_grad for n, p in lm.model.named_parameters()} == flags
    stopped = iter_relearn(lm, FORGET, CONTEXT, names, RelearnConfig(steps=(3,)))
    next(stopped), next(stopped)
    stopped.close()
    assert state_dict_hash(lm.model) == before
    with pytest.raises(ValueError, match="unrelated facts"):
        next(iter_relearn(lm, FORGET, [], names))
    assert split_halves(FORGET, 0) == split_halves(FORGET, 0)


def test_relearning_trains_whatever_another_job_did_to_the_flags_between_its_turns(forgotten):
    """In the app, other visitors' jobs run between a relearning attack's yields and leave every parameter with
    requires_grad as they found it; the attack had set its flags once, and its next backward raised
    "element 0 of tensors does not require grad" (three visitors running the checks at once)."""
    lm, _ = forgotten
    names = ["model.layers.1.mlp.down_proj.weight" if lm.spec.family == "llama" else "transformer.h.1.mlp.c_proj.weight"]
    flags = {n: p.requires_grad for n, p in lm.model.named_parameters()}
    records = []
    for record in iter_relearn(lm, FORGET, CONTEXT, names, RelearnConfig(steps=(2, 5), lr=1e-2)):
        records.append(record)
        for p in lm.model.parameters():           # another job's turn, which froze the model for its own work
            p.requires_grad_(False)
    assert [(r.arm, r.step) for r in records][-1] == ("control", 5)
    assert all(p.grad is None for p in lm.model.parameters())
    for name, p in lm.model.named_parameters():
        p.requires_grad_(flags[name])


def test_logit_lens_last_layer_is_the_model_output(forgotten):
    lm, _ = forgotten
    prompts, answers = [f.prompt for f in FORGET + CONTEXT], [f.answer for f in FORGET + CONTEXT]
    lens = logit_lens(lm, prompts, answers, batch_size=3)
    assert lens.ranks.shape == (len(prompts), lm.n_layers) and (lens.ranks >= 1).all()
    checks = check_facts(lm, prompts, answers)
    assert list(lens.ranks[:, -1]) == [c.rank for c in checks]
    assert np.allclose(lens.probs[:, -1], [c.prob for c in checks], atol=1e-4)
