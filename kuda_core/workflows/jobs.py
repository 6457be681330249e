"""A visitor's jobs on the shared model: each step runs under the host's lock with the visitor's edit on.

    >>> text, top = generate(host, visitor, "The capital of France is", 20)
    >>> for kind, partial in iter_trace_kinds(host, visitor, prompt, subject, None, ("mlp",), TraceConfig()): ...
    >>> for step in iter_forget(host, visitor, run): ...        # the run's edit becomes the visitor's edit
    >>> for done, total, table in iter_compare(host, visitor, rows, CompareConfig()): ...

The UI and the tests call these; the CLI drives the engine directly on its own model.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

from kuda_core.forget.setup import trainable_names
from kuda_core.forget.tuning import TuneConfig, TuneProgress, iter_tune
from kuda_core.inspect.compare import CompareConfig
from kuda_core.inspect.evaluate import EvalConfig, EvalProgress, iter_evaluate
from kuda_core.inspect.nullspace_report import LayerNullSpace, nullspace_report
from kuda_core.locate.average import AverageProgress, iter_average_trace
from kuda_core.locate.config import TraceConfig, TraceResult
from kuda_core.locate.tracing import iter_trace
from kuda_core.model.generation import greedy_continuation, top_next_tokens
from kuda_core.workflows.host import ModelHost
from kuda_core.workflows.runs import RunRecord, final_measures, iter_run
from kuda_core.workflows.summaries import DriftSummary, PromptRow, drift_summary, iter_answers_table
from kuda_core.workflows.visitor import Visitor


def generate(host: ModelHost, visitor: Visitor, prompt: str, max_new_tokens: int) -> tuple[str, list]:
    """(greedy continuation, top-10 next tokens) of the visitor's model."""
    with host.use(visitor.edit) as lm:
        return greedy_continuation(lm, prompt, max_new_tokens), top_next_tokens(lm, prompt, k=10)


def iter_trace_kinds(host: ModelHost, visitor: Visitor, prompt: str, subject: str, answer: str | None,
                     kinds: Sequence[str], config: TraceConfig) -> Iterator[tuple[str, TraceResult]]:
    """(kind, partial trace) after every token row of every kind, on the visitor's model."""
    for kind in kinds:
        rows = iter_trace(host.require(), prompt, subject, answer, replace(config, kind=kind))
        for partial in host.steps(visitor.edit, rows):
            yield kind, partial


def iter_topic_trace(host: ModelHost, visitor: Visitor, facts: Sequence, config: TraceConfig) -> Iterator[AverageProgress]:
    """ROME's average MLP trace over facts, on the visitor's model."""
    yield from host.steps(visitor.edit, iter_average_trace(host.require(), facts, config, kinds=("mlp",)))


def iter_forget(host: ModelHost, visitor: Visitor, run: RunRecord, disk_root=None):
    """Run Forget from the original model; the run's edit becomes the visitor's edit (kept in their history).

    After the last step the run's final measures go to run.metrics (with the fluency of the answers
    to the facts it made the model forget).
    """
    names = [n + ".weight" for n in trainable_names(host.require(), run.config)]
    edit = visitor.start_edit(host, names, run.description())
    visitor.run, run.number = run, visitor.next_run_number()
    records = host.steps(edit, iter_run(host.require(), run), capture=True, stop=lambda: run.stop_requested)
    try:
        for record in records:
            edit.description = run.description()
            yield record
            if run.stop_requested:        # Stop (and /stop, whose cancel alone did not reach an API client's run)
                break
        records.close()                   # after a break: the run ends "stopped", its weights kept, under the lock
        if run.status == "stopped":       # no final measures, as for a run whose request was cancelled
            return
        with host.use(edit) as lm:
            run.metrics = final_measures(lm, run, edit.snapshot)
    finally:
        records.close()
        edit.description = run.description()
        visitor.keep_run(run, edit, disk_root)


def iter_tuning(host: ModelHost, visitor: Visitor, run: RunRecord, tune_config: TuneConfig) -> Iterator[TuneProgress]:
    """Two-stage tuning from the original model; the chosen weights become the visitor's edit."""
    data = run.data
    names = [n + ".weight" for n in trainable_names(host.require(), run.config)]
    edit = visitor.start_edit(host, names, "tuning KUDA")
    steps = iter_tune(host.require(), data.forget, data.retain_used, data.texts_used, run.config, tune_config,
                      eval_retain=data.retain_held or None)
    last = None
    for last in host.steps(edit, steps, capture=True):
        yield last
    if last is not None and last.done and last.config is not None:
        run.config, run.status, run.note = last.config, "done", f"tuned: tau {last.config.tau:g}, beta {last.config.options.beta:g}"
        run.records = []
        edit.description = f"KUDA tuned (tau {last.config.tau:g}, beta {last.config.options.beta:g}) on layers " \
                           f"{', '.join(map(str, last.config.layers))}, {data.description}"
        visitor.run = run
        visitor.keep_run(run, edit)
    else:
        visitor.reset()


def iter_compare(host: ModelHost, visitor: Visitor, rows: Sequence[PromptRow], config: CompareConfig):
    """(done, total, answers table) per batch: original (base weights) vs the visitor's model."""
    snapshot = visitor.edit.snapshot if visitor.edit is not None else None
    yield from host.steps(visitor.edit, iter_answers_table(host.require(), snapshot, rows, config, host.originals))


def drift(host: ModelHost, visitor: Visitor, pca_layer: int | None = None) -> DriftSummary:
    run = _edited_run(visitor)
    with host.use(visitor.edit) as lm:
        return drift_summary(lm, visitor.edit.snapshot, run.data, run.config.layers, pca_layer)


def iter_retrace(host: ModelHost, visitor: Visitor, fact, config: TraceConfig):
    """(which, partial trace) for "original" (base weights) then "unlearned" (the visitor's model)."""
    _edited_run(visitor)
    for which, edit in (("original", None), ("unlearned", visitor.edit)):
        for partial in host.steps(edit, iter_trace(host.require(), fact.prompt, fact.subject, fact.answer, config)):
            yield which, partial


def null_space(host: ModelHost, visitor: Visitor) -> list[LayerNullSpace]:
    run = _edited_run(visitor)
    config, data = run.config, run.data
    if config.tau is None:
        raise ValueError("This run used no null-space projection (tau off)")
    used = [f.text for f in data.retain_used] + list(data.texts_used)
    held = [f.text for f in data.retain_held] + list(data.texts_held)
    with host.use(visitor.edit) as lm:
        return nullspace_report(lm, visitor.edit.snapshot, list(config.layers), used, held, config.tau, config.tau_mode)


def iter_evaluation(host: ModelHost, visitor: Visitor, config: EvalConfig,
                    benchmarks: Mapping | None = None) -> Iterator[EvalProgress]:
    """Original vs the visitor's model on the data of their run."""
    run = _edited_run(visitor)
    data = run.data
    yield from host.steps(visitor.edit, iter_evaluate(host.require(), visitor.edit.snapshot, data.probe_sets(),
                                                      data.text_sets(), config, benchmarks, host.originals))


def _edited_run(visitor: Visitor) -> RunRecord:
    if visitor.edit is None or visitor.run is None:
        raise ValueError("Nothing to inspect yet: run Forget first")
    return visitor.run
