"""Headless runs from the configuration file the UI saves (schema in run_config.py).

    kuda trace    --config run.json [--out DIR]   # average causal trace of the forget facts
    kuda locate   --config run.json               # + the suggested layer window
    kuda unlearn  --config run.json               # + unlearning (step records)
    kuda evaluate --config run.json               # unlearning + original vs unlearned table
    kuda attacks  --config run.json               # unlearning + is it really gone? (attacks, lens, relearning)
    kuda export   --config run.json               # evaluate (+ attacks with an "attacks" section) + the bundle
    kuda run      --config run.json               # every stage the file configures
(`python -m kuda_core ...` is the same.) Each command runs the stages it needs before it (locate
skips tracing when locate.layers is given). Progress goes to stderr as tqdm bars, results to
stdout, files to --out when given. Exit status: 0 done, 2 bad configuration or input, 1 anything else.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from kuda_core.data.probes import load_general_texts, load_probes
from kuda_core.inspect.benchmarks import make_benchmarks
from kuda_core.inspect.evaluate import iter_evaluate
from kuda_core.locate.average import iter_average_trace
from kuda_core.locate.suggest import other_token_note, suggestions_by_token, weak_trace_note
from kuda_core.model import network
from kuda_core.model.loading import load_model
from kuda_core.model.snapshot import WeightSnapshot
from kuda_core.workflows.preflight import preflight
from kuda_core.report import plots
from kuda_core.report.bundle import export_bundle, jsonable
from kuda_core.run_config import AttacksSection, EvaluateSection, LocateSection, RunConfig, TraceSection
from kuda_core.workflows.gone import check_model
from kuda_core.workflows.data import DataChoice, build_split
from kuda_core.workflows.runs import RunRecord, iter_run
from kuda_core.workflows.summaries import answers_table, drift_summary

COMMANDS = ("trace", "locate", "unlearn", "evaluate", "attacks", "export", "run")
CURVE_KEYS = ("loss", "krd", "retain_drift", "forget_acc", "retain_acc")
ANSWER_SETS = ("forget", "forget paraphrases", "neighbours (held out)", "retain (held out)")


@dataclass
class Pipeline:
    """State passed between stages (one model in memory, edited in place)."""

    cfg: RunConfig
    out: Path | None = None
    quiet: bool = False
    lm: object = None
    choice: DataChoice | None = None
    data: object = None                          # data.splits.DataSplit
    average: object = None                       # locate.average.AverageTrace
    layers: tuple[int, ...] | None = None
    snapshot: WeightSnapshot | None = None       # set once unlearning ran
    run: RunRecord | None = None
    evaluation: object = None                    # inspect.evaluate.EvalResult
    tables: dict = field(default_factory=dict)   # name -> DataFrame for the bundle
    figures: dict = field(default_factory=dict)  # name -> plotly Figure

    def bar(self, total: int | None, desc: str):
        return tqdm(total=total, desc=desc, disable=self.quiet, file=sys.stderr, leave=True)

    def write(self, name: str, payload) -> None:
        if self.out is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / name
        if hasattr(payload, "to_csv"):
            payload.to_csv(path, index=False)
        else:
            path.write_text(json.dumps(jsonable(payload), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")


def choice_of(cfg: RunConfig) -> DataChoice:
    """The data choice of a configuration (every probe fact when nothing is to be forgotten)."""
    fraction, seed = cfg.probes.holdout_fraction, cfg.probes.seed
    forget = cfg.forget
    if forget is None:
        return DataChoice(prompts=tuple(f.prompt for f in load_probes(cfg.probes.path)),
                          holdout_fraction=fraction, seed=seed)
    if forget.facts:
        rows, retain = forget.rowsets()
        return DataChoice.from_rows(rows, retain, fraction, seed)
    return DataChoice(topics=forget.topics, prompts=forget.prompts, holdout_fraction=fraction, seed=seed)


# ----------------------------------------------------------------------------- stages


def load_stage(p: Pipeline) -> None:
    p.lm = load_model(p.cfg.model, device=p.cfg.device)
    print(f"model: {p.lm.name} ({p.lm.n_layers} layers) on {p.lm.device}")
    p.choice = choice_of(p.cfg)
    p.data = build_split(p.choice, load_probes(p.cfg.probes.path), load_general_texts(p.cfg.probes.general_texts))
    d = p.data
    print(f"facts: {len(d.forget)} forget, {len(d.retain_used)} retain used, {len(d.retain_held)} retain held out; "
          f"texts: {len(d.texts_used)} used, {len(d.texts_held)} held out")


def trace_stage(p: Pipeline, kinds: tuple[str, ...] | None = None) -> None:
    section = p.cfg.trace or TraceSection()
    kinds = kinds or section.kinds
    facts = list(p.data.forget[: section.limit] if section.limit else p.data.forget)
    with p.bar(len(facts) * len(kinds), "trace") as bar:
        seen = set()
        for progress in iter_average_trace(p.lm, facts, section.trace_config(), kinds):
            key = (progress.fact, progress.kind)
            if progress.rows_done == progress.rows_total and key not in seen and not progress.done:
                seen.add(key)
                bar.update(1)
            bar.set_postfix_str(progress.message[:60])
            average = progress.average
        bar.update(bar.total - bar.n)
    p.average = average
    for skipped in average.skipped:
        print(f"skipped: {skipped.prompt!r}: {skipped.reason}")
    p.write("trace.json", {"kinds": list(average.kinds), "row_labels": list(average.row_labels),
                           "effects": average.effects, "counts": average.counts,
                           "skipped": [asdict(s) for s in average.skipped]})
    for kind in average.kinds:
        effect = average.effects[kind]
        p.figures[f"trace_{kind}"] = plots.trace_heatmap(effect, list(average.row_labels), (0, 3), kind,
                                                         title=f"Average indirect effect ({kind})", value_label="AIE")
        if np.all(np.isnan(effect)):
            print(f"{kind}: no fact traced")
        else:
            layer = int(np.nanargmax(np.nanmax(np.where(np.isnan(effect), -np.inf, effect), axis=0)))
            print(f"{kind}: peak AIE {np.nanmax(effect):.4f} at layer {layer}")
    if "mlp" in average.kinds:
        p.figures["layer_scores"] = plots.layer_effect_curve(average.effects["mlp"][2], None)


def locate_stage(p: Pipeline) -> None:
    section = p.cfg.locate or LocateSection()
    if section.layers is not None:
        p.layers = section.layers
        print(f"layers (given): {list(p.layers)}")
    else:
        if p.average is None or "mlp" not in p.average.kinds:
            trace_stage(p, kinds=("mlp",))
        traced = p.average.results["mlp"]
        if not traced:
            raise ValueError("No forget fact could be traced (the model predicts none of them): give locate.layers")
        by_token = suggestions_by_token([r.indirect_effect for r in traced], [r.subject_range for r in traced],
                                        section.window, section.exclude_layer0)
        suggestion = by_token[section.token]
        p.layers = suggestion.layers
        p.figures["layer_scores"] = plots.layer_effect_curve(suggestion.scores, (p.layers[0], p.layers[-1] + 1))
        print(f"layers (suggested from MLP AIE at the {section.token} subject token, total "
              f"{suggestion.total:.4f}): {list(p.layers)}")
        mean_p = [sum(getattr(r, k) for r in traced) / len(traced) for k in ("p_clean", "p_corrupt")]
        for note in (other_token_note(by_token, section.token), weak_trace_note(*mean_p)):
            if note:
                print(note)
    bad = [x for x in p.layers if x >= p.lm.n_layers]
    if bad:
        raise ValueError(f"Layers {bad} do not exist: the model has {p.lm.n_layers} layers")
    p.write("locate.json", {"layers": list(p.layers)})


def unlearn_stage(p: Pipeline) -> None:
    if p.cfg.forget is None:
        raise ValueError("Unlearning needs a 'forget' section with topics")
    config = p.cfg.forget.unlearn_config(p.layers)
    p.snapshot = WeightSnapshot()
    p.run = RunRecord(p.choice, p.data, config)
    with p.bar(config.steps, f"unlearn ({config.method})") as bar:
        for record in iter_run(p.lm, p.run, p.snapshot):
            bar.set_postfix(loss=f"{record.loss:.4f}", krd=f"{record.krd:.3f}", refresh=False)
            if record.step:
                bar.update(1)
            if record.status == "error":
                raise RuntimeError(record.message)
    last = p.run.last
    print(f"unlearned: KRD {last.krd:.3f}, forget acc {last.forget_acc}, retain acc {last.retain_acc}, "
          f"{last.elapsed_s:.1f} s")
    steps = pd.DataFrame(p.run.step_rows())
    p.tables["steps"] = steps
    p.write("steps.csv", steps)
    p.figures["training"] = plots.training_curves(p.run.step_rows(), [k for k in CURVE_KEYS if steps[k].notna().any()])


def evaluate_stage(p: Pipeline) -> None:
    section = p.cfg.evaluate or EvaluateSection()
    texts, sets = p.data.text_sets(), p.data.probe_sets()
    benchmarks = make_benchmarks([m.model_dump() for m in section.mc],
                                 section.muse.model_dump() if section.muse is not None else None)
    config = section.eval_config()
    if config.answer_sets is None:
        config = replace(config, answer_sets=tuple(n for n in ANSWER_SETS if n in sets))
    with p.bar(100, "evaluate") as bar:
        for progress in iter_evaluate(p.lm, p.snapshot, sets, texts, config, benchmarks):
            bar.n = int(progress.fraction * 100)
            bar.set_postfix_str(progress.message[:60])
            bar.refresh()
            result = progress.result
    table = result.table
    if section.drift and p.snapshot is not None and p.layers:
        table = pd.concat([table, drift_stage(p)], ignore_index=True)
    p.tables["answers"] = answers_table(result.answers)
    p.write("metrics.csv", table)
    p.write("answers.csv", p.tables["answers"])
    p.evaluation = replace(result, table=table)
    p.figures["evaluation"] = plots.evaluation_bars(table[table["metric"] == "top-1 accuracy"], "top-1 accuracy")
    with pd.option_context("display.width", 160, "display.max_columns", 10):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def attacks_stage(p: Pipeline) -> None:
    """Is it really gone? on the unlearned model: attacks.csv, lens.csv, relearn.csv and attacks.json."""
    section = p.cfg.attacks or AttacksSection()
    with p.bar(None, "is it really gone? (prompt attacks, logit lens, relearning)"):
        report = check_model(p.lm, p.snapshot, p.data, p.layers, section.attack_config(), section.relearn_config())
    for name, table in report.tables(p.data.forget).items():
        p.tables[name] = table
        p.write(f"{name}.csv", table)
    p.write("attacks.json", {"summary": report.summary, "relearn_on": report.relearn_on, "text": report.summary_text()})
    p.figures.update(report.figures(p.data.forget))
    print(report.attack_table().to_string(index=False))
    print(f"is it really gone? {report.summary_text()}")


def drift_stage(p: Pipeline) -> pd.DataFrame:
    drift = drift_summary(p.lm, p.snapshot, p.data, p.layers)
    p.tables["drift"] = drift.frame()
    p.figures["drift"] = plots.drift_chart(drift.layers, drift.cosine, selected=p.layers)
    if drift.pca is not None:
        p.figures["pca"] = plots.pca_scatter(drift.pca.points, drift.pca.explained, drift.pca.prompts)
    return pd.DataFrame([{"set": "forget", "metric": "KRD (selected layers)", "original": 0.0,
                          "unlearned": drift.krd, "change": drift.krd}])


def export_stage(p: Pipeline) -> None:
    section = p.cfg.export
    if section is None:
        raise ValueError("Export needs an 'export' section with a path")
    table = p.evaluation.table if p.evaluation is not None else None
    path = export_bundle(section.path, p.lm, p.cfg.to_dict(), metrics=table, tables=p.tables,
                         figures=p.figures if section.figures else {}, overwrite=section.overwrite)
    print(f"bundle: {path}")


def stages_for(command: str, cfg: RunConfig) -> list:
    """The stage functions a command runs, in order."""
    edit = [locate_stage, unlearn_stage] if cfg.forget is not None else []
    plan = {
        "trace": [trace_stage],
        "locate": [locate_stage],
        "unlearn": [locate_stage, unlearn_stage],
        "evaluate": [*edit, evaluate_stage],
        "attacks": [*edit, attacks_stage],
        "export": [*edit, *([attacks_stage] if cfg.attacks is not None else []), evaluate_stage, export_stage],
        "run": [*([trace_stage] if cfg.trace is not None else []), *edit,
                *([attacks_stage] if cfg.attacks is not None else []),       # attacks need forget
                *([evaluate_stage] if cfg.evaluate is not None or cfg.export is not None else []),
                *([export_stage] if cfg.export is not None else [])],
    }
    return plan[command]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kuda", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--config", required=True, help="run configuration JSON (as saved by the UI)")
    parser.add_argument("--out", default=None, help="folder for trace.json, locate.json, steps.csv, metrics.csv")
    parser.add_argument("--device", default=None, help="override the configuration's device")
    parser.add_argument("--online", action="store_true", help="allow hub downloads (models, datasets)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg = RunConfig.load(args.config)
        if args.device:
            cfg = cfg.model_copy(update={"device": args.device})
        if args.online or cfg.online:
            network.set_online(True)
        pipeline = Pipeline(cfg, Path(args.out) if args.out else None, args.quiet)
        stages = stages_for(args.command, cfg)
        preflight(cfg, args.command, stages)   # sections, benchmark files, export folder: said before the work
        for stage in [load_stage, *stages]:
            stage(pipeline)
    except (ValueError, LookupError, OSError, ConnectionError) as error:    # OSError: files, a model not found
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    return 0
