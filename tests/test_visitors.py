"""One shared model, many visitors: edits put on and taken off bit for bit, run history, fair lock, checks."""
from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
import torch

from kuda_core.data.facts import Fact
from kuda_core.forget.config import UnlearnConfig
from kuda_core.model.snapshot import state_dict_hash
from kuda_core.workflows import gone, jobs
from kuda_core.workflows.data import DataChoice
from kuda_core.workflows.host import FairLock, ModelHost
from kuda_core.workflows.runs import RunRecord, run_config_of
from kuda_core.workflows.visitor import MAX_EDITS_IN_MEMORY, Visitor
from kuda_core.data.splits import split_rows
from kuda_core.data.rows import RowSet
from tests.conftest import taught_model

FORGET = [Fact("Microsoft was founded by", "Microsoft", " Bill", relation="founder"),
          Fact("Water boils at one hundred", "Water", " degrees", relation="science")]
RETAIN = [Fact("The quick brown fox jumps over the lazy", "quick brown fox", " dog", relation="animals"),
          Fact("The river flows through the old", "river", " town", relation="place"),
          Fact("A cup of tea in the morning helps many", "cup of tea", " people", relation="habit"),
          Fact("The capital of Japan is", "Japan", " Tokyo", relation="capital")]
TEXTS = ["The capital of France is Paris.", "The official language of Brazil is Portuguese."]


@pytest.fixture
def host():
    served = ModelHost()
    served.adopt(taught_model("llama"), "taught")
    return served


def new_run(steps: int = 6) -> RunRecord:
    data = split_rows(RowSet(FORGET, [], "forget"), RowSet(RETAIN, [], "retain"), TEXTS, holdout_fraction=0.25)
    config = UnlearnConfig.create("kuda", layers=(1, 2), steps=steps, lr=2e-2, tau=None, stop_at=None)
    return RunRecord(DataChoice(facts=tuple(FORGET)), data, config)


def test_an_exported_run_spells_out_every_setting():
    run = new_run()
    exported = run_config_of(run, model="taught")
    forget = exported.to_dict()["forget"]
    assert forget["lr"] == 2e-2 and forget["beta"] == run.config.options.beta                # defaults too
    assert forget["augment"] == list(run.config.augment) and forget["augment_copies"] == run.config.augment_copies
    assert exported.forget.unlearn_config(run.config.layers) == run.config


def test_a_visitors_run_leaves_the_shared_model_untouched(host):
    base = state_dict_hash(host.lm.model)
    visitor, other = Visitor(), Visitor()
    records = list(jobs.iter_forget(host, visitor, new_run()))
    assert records[-1].status == "done" and visitor.is_edited(host) and not other.is_edited(host)
    assert state_dict_hash(host.lm.model) == base
    with host.use(visitor.edit) as lm:
        assert state_dict_hash(lm.model) != base
    assert state_dict_hash(host.lm.model) == base
    assert visitor.run.metrics["forget"] is not None and visitor.run.number == 1


def test_run_history_keeps_older_edits_on_disk_and_applies_them(host, tmp_path):
    visitor = Visitor()
    for _ in range(MAX_EDITS_IN_MEMORY + 2):
        list(jobs.iter_forget(host, visitor, new_run(steps=1), disk_root=tmp_path))
        if visitor.run.number == 1:
            visitor.keep("comparison", "made on run 1", host)
    assert [r.number for r in visitor.runs] == list(range(1, MAX_EDITS_IN_MEMORY + 3))
    on_disk = [n for n, e in visitor.edits.items() if not hasattr(e, "values")]
    assert on_disk == [1, 2] and visitor.folder is not None and visitor.folder.parent == tmp_path
    first = visitor.edit_of(1)
    visitor.apply_run(1, host)
    assert visitor.run.number == 1 and all(torch.equal(first.values[n], visitor.edit.values[n]) for n in first.values)
    assert visitor.fresh("comparison", host) == "made on run 1"    # the same values again: its results still hold
    with pytest.raises(ValueError, match="no run 99"):
        visitor.apply_run(99, host)
    folder = visitor.folder
    visitor.close()
    assert not folder.exists()


def test_a_run_stopped_before_its_first_step_leaves_the_original_in_effect(host):
    """Stopped while preparing (the start record only): listed in the history, no edit kept, nothing in effect,
    and the visitor's earlier edit is not silently left as if the new run had made it."""
    visitor = Visitor()
    list(jobs.iter_forget(host, visitor, new_run(steps=2)))
    assert visitor.is_edited(host) and visitor.run.number == 1
    records = jobs.iter_forget(host, visitor, new_run(steps=2))
    start = next(records)
    assert start.step == 0
    assert visitor.run_in_view().startswith("**Inspecting run 2:**")   # named while it runs (it said "run 0")
    records.close()                                              # what Stop does to the generator
    assert [r.number for r in visitor.runs] == [1, 2] and visitor.runs[1].steps_done == 0
    assert visitor.edit is None and visitor.run is None and "original weights" in visitor.status(host)
    assert "No Forget run in effect" in visitor.run_in_view()    # what Compare, checks and Evaluate then say
    with pytest.raises(ValueError, match="changed no weights"):
        visitor.apply_run(2, host)
    visitor.apply_run(1, host)                                   # the earlier run can still be applied
    assert visitor.is_edited(host) and visitor.run_in_view().startswith("**Inspecting run 1:**")


def test_stop_ends_a_preparation_at_its_next_turn(host):
    """Stop cancelled the request, but the preparation (minutes under load) ran to its end first. With Stop asked
    for, the next turns.give_turn() of the preparation ends the run: stopped, no weight changed, no edit kept,
    and another visitor's job waiting for the model gets it at once."""
    from kuda_core.model.hooks import hook_count

    visitor, base = Visitor(), state_dict_hash(host.lm.model)
    records = jobs.iter_forget(host, visitor, new_run(steps=4))
    asked = []

    def give_turn_spy():                      # Stop arrives while the preparation runs (after its first batch)
        asked.append(True)
        visitor.request_stop()

    import kuda_core.forget.setup as setup
    original = setup.turns.give_turn
    setup.turns.give_turn = lambda: (give_turn_spy(), original())
    try:
        assert list(records) == []
    finally:
        setup.turns.give_turn = original
    run = visitor.runs[-1]
    assert asked and run.status == "stopped" and run.steps_done == 0 and run.stop_requested
    assert visitor.edit is None and visitor.run is None and "original weights" in visitor.status(host)
    assert state_dict_hash(host.lm.model) == base and hook_count(host.lm.model) == 0
    list(jobs.iter_forget(host, visitor, new_run(steps=2)))     # the next run is not stopped by the last one's Stop
    assert visitor.runs[-1].status == "done" and visitor.is_edited(host)


def test_an_edit_from_a_replaced_model_is_refused(host):
    visitor = Visitor()
    list(jobs.iter_forget(host, visitor, new_run(steps=1)))
    host.adopt(taught_model("llama"), "another")
    assert not visitor.is_edited(host) and "replaced" in visitor.status(host)
    with pytest.raises(ValueError, match="replaced"):
        with host.use(visitor.edit):
            pass


def test_a_long_preparation_lets_a_waiting_request_go_first(host):
    """Forget's preparation hands the lock over between batches: a request that arrives meanwhile is served
    with the base weights (the preparing visitor's edit off), and the run still ends as a lone run would."""
    from kuda_core.model import turns

    base, served, entered, finished = state_dict_hash(host.lm.model), [], threading.Event(), threading.Event()
    original_give_turn = turns.give_turn

    def give_turn_with_a_visitor():
        if not served:
            entered.set()
            while not host.lock.waiting:     # the other visitor is now queued behind this job
                time.sleep(0.01)
        original_give_turn()

    def other_visitor():
        entered.wait(30)
        with host.use(None) as lm:
            served.append((state_dict_hash(lm.model), finished.is_set()))

    thread = threading.Thread(target=other_visitor)
    thread.start()
    turns.give_turn = give_turn_with_a_visitor
    try:
        visitor = Visitor()
        records = list(jobs.iter_forget(host, visitor, new_run(steps=3)))
        finished.set()
    finally:
        turns.give_turn = original_give_turn
        thread.join(30)
    assert served == [(base, False)] and records[-1].status == "done" and records[0].step == 0
    lone = Visitor()
    list(jobs.iter_forget(host, lone, new_run(steps=3)))
    assert all(torch.equal(visitor.edit.values[n], lone.edit.values[n]) for n in lone.edit.values)


def test_the_lock_serves_in_arrival_order():
    lock, order = FairLock(), []
    lock.__enter__()
    threads = [threading.Thread(target=lambda i=i: (lock.__enter__(), order.append(i), lock.__exit__())) for i in range(5)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)          # arrive one after the other
    lock.__exit__()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3, 4]


def test_checks_report_attacks_lens_and_relearning(host):
    visitor = Visitor()
    list(jobs.iter_forget(host, visitor, new_run(steps=20)))
    base = state_dict_hash(host.lm.model)
    edit_values = {n: v.clone() for n, v in visitor.edit.values.items()}
    from kuda_core.inspect.attacks.relearn import RelearnConfig
    reports = list(gone.iter_checks(host, visitor, relearn=RelearnConfig(steps=(2, 4))))
    last = reports[-1]
    assert last.message == "done" and {"original", "unlearned"} <= set(last.lens)
    assert {a.name for a in last.attacks} >= {"plain", "3-shot", "question"}
    assert [r.arm for r in last.relearn] == ["before", "relearn", "relearn", "control", "control"]
    assert "relearn recovery @4" in last.summary and "relearn recovery @4" in visitor.run.metrics
    assert state_dict_hash(host.lm.model) == base                                     # shared model untouched
    assert all(torch.equal(edit_values[n], visitor.edit.values[n]) for n in edit_values)   # the edit too
    attacks = run_config_of(visitor.run, model="taught").attacks                       # run.json repeats the checks
    assert attacks.relearn_steps == (2, 4) and attacks.shots == 3 and attacks.question_examples == 2
    # the CLI's path (a model unlearned in place, its snapshot) gives the same report
    with host.use(visitor.edit) as lm:
        alone = gone.check_model(lm, visitor.edit.snapshot, visitor.run.data, visitor.run.config.layers,
                                 relearn=RelearnConfig(steps=(2, 4)))
        assert all(torch.equal(v, lm.model.get_parameter(n).detach().cpu()) for n, v in edit_values.items())
    assert pd.Series(alone.summary).equals(pd.Series(last.summary))                    # NaN where nothing to recover
    assert alone.attack_table().equals(last.attack_table())
    assert alone.relearn_table().equals(last.relearn_table()) and alone.relearn_on == last.relearn_on
    lens = alone.lens_table(visitor.run.data.forget)                                  # facts x layers
    assert len(lens) == len(FORGET) * host.lm.n_layers and (lens["rank unlearned"] >= 1).all()
    assert state_dict_hash(host.lm.model) == base
    again = list(gone.iter_checks(host, visitor, relearn=None))[-1]                   # checked again, relearning off
    assert not again.relearn and again.summary_text().endswith("Relearning was not asked for")
    assert not any(k.startswith("relearn recovery") for k in visitor.run.metrics)    # no figure of the earlier check
    assert run_config_of(visitor.run, model="taught").attacks.relearn_steps == ()


def test_the_checks_summary_says_when_nothing_was_forgotten():
    from kuda_core.inspect.attacks.prompts import AttackRecord

    nothing = float("nan")
    report = gone.CheckReport(attacks=[AttackRecord("plain", 2, 1.0, 1.0, 0.5, 0.5, 0.0),
                                       AttackRecord("3-shot", 2, 1.0, 1.0, 0.6, 0.6, nothing)],
                              relearn_note=gone.RELEARN_SKIPPED)
    assert report.summary_text() == ("No fact is forgotten on its plain prompt, so no attack has anything to bring "
                                     "back. " + gone.RELEARN_SKIPPED)


def test_relearning_a_single_forgotten_fact_trains_on_facts_of_its_relation(host):
    """One forgotten fact (the newcomer's story) has no second half: relearning trains on other facts of its
    relation (never one with its answer) and measures the fact itself, next to a control of unrelated facts."""
    from kuda_core.inspect.attacks.relearn import RelearnConfig, same_relation_facts

    eiffel = Fact("The Eiffel Tower is located in the city of", "Eiffel Tower", " Paris", relation="landmark city")
    landmarks = [Fact("The Colosseum is in", "Colosseum", " Rome", relation="landmark city"),
                 Fact("Big Ben is in", "Big Ben", " London", relation="landmark city"),
                 Fact("The Louvre is in the city of", "Louvre", " Paris", relation="landmark city")]
    assert same_relation_facts(eiffel, [*landmarks, *RETAIN]) == landmarks[:2]       # not the one answered Paris
    data = split_rows(RowSet([eiffel], [], "forget"), RowSet([*landmarks, *RETAIN], [], "retain"), TEXTS,
                      holdout_fraction=0.25)
    config = UnlearnConfig.create("kuda", layers=(1, 2), steps=20, lr=2e-2, tau=None, stop_at=None)
    visitor = Visitor()
    list(jobs.iter_forget(host, visitor, RunRecord(DataChoice(facts=(eiffel,)), data, config)))
    last = list(gone.iter_checks(host, visitor, relearn=RelearnConfig(steps=(2, 4))))[-1]
    assert last.relearn_on == "2 facts of the forgotten fact's relation"
    assert [r.arm for r in last.relearn] == ["before", "relearn", "relearn", "control", "control"]
    assert "relearn recovery @4" in last.summary and last.relearn[-1].recovery is not None
    assert "Relearning trained on 2 facts of the forgotten fact's relation" in last.summary_text()


def test_a_job_knows_when_others_shared_the_model(host):
    """HOST.sharing(): the jobs running when one begins, and whether any ran alongside it (so its time is not
    the machine's pace and the estimators do not learn from it)."""
    alone = host.sharing()
    assert list(host.steps(None, iter(range(3)))) == [0, 1, 2] and alone.others_now == 0 and not alone.shared()
    long_job = host.steps(None, iter(range(5)))
    next(long_job)                                          # another visitor's job is running
    waiting = host.sharing()
    assert waiting.others_now == 1 and waiting.shared()
    long_job.close()
    first = host.sharing()
    mine = host.steps(None, iter(range(3)))
    next(mine)
    other = host.steps(None, iter(range(3)))               # begins while mine runs
    next(other)
    list(other), list(mine)
    assert first.others_now == 0 and first.shared()
    after = host.sharing()
    list(host.steps(None, iter(range(2)))), list(host.steps(None, iter(range(2))))   # one after the other
    assert not after.shared()


def test_a_result_kept_on_a_freed_edit_is_stale_on_the_next_one(host):
    """Results are tagged with the edit's serial, never reused: an object id can come back once the
    edit it named is freed, which made a result of an earlier edit look fresh on a later one."""
    visitor = Visitor()
    names = ["model.layers.1.mlp.down_proj.weight"]
    visitor.start_edit(host, names, "first")
    visitor.keep("comparison", "made on the first edit", host)
    serials = {visitor.edit.serial}
    for _ in range(20):                                          # free and make edits: ids may repeat, serials may not
        visitor.start_edit(host, names, "next")
        serials.add(visitor.edit.serial)
        with pytest.raises(ValueError, match="another state"):
            visitor.fresh("comparison", host)
    assert len(serials) == 21
    assert visitor.edit.copy().serial != visitor.edit.serial


def test_a_run_with_nothing_to_forget_is_listed_as_an_error_not_as_stopped(host):
    visitor = Visitor()
    run = new_run(steps=2)
    unknown = [Fact("Xq zzv blorp the frumious of", "blorp", " Wibble")]
    run.data = split_rows(RowSet(unknown, [], "forget"), RowSet(RETAIN, [], "retain"), TEXTS, holdout_fraction=0.0)
    run.config = run.config.replace(stop_at=0.0)                          # until forgotten, as the tab runs it
    records = jobs.iter_forget(host, visitor, run)
    for record in records:
        if record.status == "error":                   # the Forget tab raises its message here, closing the run
            assert record.message.startswith("Nothing to forget")
            records.close()
    assert run.status == "error" and "(error)" in run.description()
    assert [r.status for r in visitor.runs] == ["error"]
