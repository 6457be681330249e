"""The "Locate" tab: causal tracing heatmaps that fill in live, and the suggested layers to edit."""
from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import gradio as gr
import pandas as pd

from kuda_core import locate
from kuda_core.estimate import TraceTimeEstimator
from kuda_core.plots import layer_effect_curve, trace_heatmap
from kuda_core.probes import load_probes, topics
from kuda_core.average_trace import iter_average_trace
from kuda_core.tracing import KINDS, MAX_SAMPLES, TraceConfig, iter_trace
from ui.errors import user_errors
from ui.session import HOLDER

ESTIMATOR = TraceTimeEstimator()
TRACE_CACHE: dict[tuple, dict] = {}          # inputs + model version -> {kind: TraceResult}
MAX_CACHE = 32
DEFAULT_FACT_PROMPT = "The Eiffel Tower is located in the city of"


def fact_choices() -> list[str]:
    return [f"[{f.topic}] {f.prompt} ->{f.answer}" for f in load_probes()]


def fact_from_label(label: str):
    for fact in load_probes():
        if f"[{fact.topic}] {fact.prompt} ->{fact.answer}" == label:
            return fact
    raise LookupError(f"Unknown probe fact {label!r}")


def _config(samples, noise, window, exclude_layer0) -> TraceConfig:
    samples = int(samples)
    if not 1 <= samples <= MAX_SAMPLES:
        raise ValueError(f"Samples must be between 1 and {MAX_SAMPLES}, got {samples}")
    noise = float(noise or 0)
    if noise < 0:
        raise ValueError(f"Noise must be positive (0 = 3 x the subject embedding std), got {noise}")
    window = int(window)
    lm = HOLDER.require()
    if window > lm.n_layers:
        raise ValueError(f"Window {window} is larger than the model's {lm.n_layers} layers")
    return TraceConfig(samples=samples, noise=noise or None, window=window, exclude_layer0=bool(exclude_layer0))


def _inputs(prompt: str, subject: str, answer: str) -> tuple[str, str, str | None]:
    if not prompt or not prompt.strip():
        raise ValueError("The prompt is empty")
    if not subject or not subject.strip():
        raise ValueError("Give the subject: the part of the prompt the fact is about (e.g. 'Eiffel Tower')")
    if subject not in prompt:
        raise LookupError(f"The subject {subject!r} does not occur in the prompt")
    answer = answer if answer and answer.strip() else None
    if answer is not None and not answer.startswith(" ") and not prompt.endswith(" "):
        answer = " " + answer.lstrip()  # the answer follows the prompt after a space
    return prompt, subject, answer


def _heatmaps(results: dict) -> list:
    figures = []
    for kind in KINDS:
        result = results.get(kind)
        figures.append(None if result is None else trace_heatmap(
            result.scores, result.tokens, result.subject_range, kind,
            p_corrupt=result.p_corrupt, p_clean=result.p_clean))
    return figures


def _layer_outputs(effects: list, ranges: list, n_layers: int, token: str, size: int, exclude_layer0: bool):
    """Curve, suggestion text (with a hint when the other token scoring disagrees) and selector."""
    by_token = locate.suggestions_by_token(effects, ranges, size=int(size), exclude_layer0=bool(exclude_layer0))
    suggestion = by_token[token]
    where = "last subject token" if token == "last" else "strongest subject token"
    curve = layer_effect_curve(suggestion.scores, window=(suggestion.layers[0], suggestion.layers[-1] + 1),
                               label=f"MLP indirect effect ({where})")
    text = (f"**Suggested layers: {', '.join(map(str, suggestion.layers))}** "
            f"(the {len(suggestion.layers)} consecutive layers with the largest MLP effect at the {where}; "
            f"total {suggestion.total:.3f})")
    note = locate.other_token_note(by_token, token)
    if note:
        text += f"  \n{note}"
    return curve, text, gr.update(choices=list(range(n_layers)), value=list(suggestion.layers))


def _downloads(results: dict) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="kuda-trace-"))
    paths = []
    for kind, result in results.items():
        frame = pd.DataFrame(result.scores, index=[f"{i}:{t}" for i, t in enumerate(result.tokens)],
                             columns=[f"layer_{l}" for l in range(result.n_layers)])
        frame.to_csv(folder / f"trace_{kind}.csv", index_label="token")
        trace_heatmap(result.scores, result.tokens, result.subject_range, kind, p_corrupt=result.p_corrupt,
                      p_clean=result.p_clean).write_html(folder / f"trace_{kind}.html", include_plotlyjs="cdn")
        paths += [str(folder / f"trace_{kind}.csv"), str(folder / f"trace_{kind}.html")]
    return paths


@user_errors
def estimate_changed(prompt, subject, kinds, samples):
    lm = HOLDER.require()
    if not prompt or not subject or subject not in prompt or not kinds:
        return ""
    seconds = ESTIMATOR.estimate(lm, prompt, subject, kinds, int(samples))
    return f"Estimated run time: about {seconds:.0f} s"


@user_errors
def trace_clicked(prompt, subject, answer, kinds, samples, noise, window, exclude_layer0, token, size,
                  progress=gr.Progress()):
    lm = HOLDER.require()
    prompt, subject, answer = _inputs(prompt, subject, answer)
    if not kinds:
        raise ValueError("Choose at least one kind: hidden, mlp or attn")
    base = _config(samples, noise, window, exclude_layer0)
    key = (HOLDER.version, prompt, subject, answer, tuple(kinds), base)
    no_change = (gr.update(), gr.update(), gr.update(), gr.update())
    if key in TRACE_CACHE:
        results = TRACE_CACHE[key]
        yield (*_heatmaps(results), "Same inputs as before: shown from the cache.", *_finish(results, lm, token, size, exclude_layer0),
               _downloads(results))
        return
    estimated = ESTIMATOR.estimate(lm, prompt, subject, kinds, base.samples)
    started, results = time.perf_counter(), {}
    yield (*_heatmaps(results), f"Tracing... estimated {estimated:.0f} s", *no_change, None)
    for number, kind in enumerate(kinds):
        for partial in iter_trace(lm, prompt, subject, answer, replace(base, kind=kind)):
            results[kind] = partial
            done = (number + partial.rows_done / len(partial.tokens)) / len(kinds)
            progress(done, desc=f"{kind}: row {partial.rows_done}/{len(partial.tokens)}")
            elapsed = time.perf_counter() - started
            yield (*_heatmaps(results), _status(partial, elapsed, estimated), *no_change, None)
    elapsed = time.perf_counter() - started
    ESTIMATOR.record(estimated, elapsed)
    TRACE_CACHE[key] = results
    if len(TRACE_CACHE) > MAX_CACHE:
        TRACE_CACHE.pop(next(iter(TRACE_CACHE)))
    yield (*_heatmaps(results), _status(results[kinds[-1]], elapsed, estimated, final=True),
           *_finish(results, lm, token, size, exclude_layer0), _downloads(results))


def _status(result, elapsed: float, estimated: float, final: bool = False) -> str:
    head = f"Done in {elapsed:.1f} s (estimated {estimated:.0f} s)." if final else \
        f"Tracing {result.kind}: row {result.rows_done}/{len(result.tokens)}, {elapsed:.0f} s of ~{estimated:.0f} s"
    lines = [head, f"Answer traced: {result.answer!r}; p clean {result.p_clean:.3f}, p corrupted "
                   f"{result.p_corrupt:.3f}, noise std {result.noise:.3f}."]
    lines += [f"Warning: {w}" for w in result.warnings]
    return "  \n".join(lines)


def _finish(results: dict, lm, token: str, size: int, exclude_layer0: bool):
    """Layer curve, suggestion text, selector and the scored grids from the MLP trace (or nothing without one)."""
    mlp = results.get("mlp")
    if mlp is None:
        return (None, "Trace the **mlp** kind to get a layer suggestion.",
                gr.update(choices=list(range(lm.n_layers))), None)
    scored = {"effects": [mlp.indirect_effect], "ranges": [mlp.subject_range], "note": "", "version": HOLDER.version}
    return (*_layer_outputs(scored["effects"], scored["ranges"], lm.n_layers, token, size, exclude_layer0), scored)


@user_errors
def rescore(scored, token, size, exclude_layer0):
    """Suggestion again from the last MLP trace (or topic average) for another token scoring or window.

    Nothing changes before a trace, or when the model was replaced or edited since (trace again).
    """
    if not scored or scored.get("version") != HOLDER.version:
        return gr.update(), gr.update(), gr.update()
    n_layers = scored["effects"][0].shape[1]
    curve, text, selector = _layer_outputs(scored["effects"], scored["ranges"], n_layers, token, size, exclude_layer0)
    return curve, text + scored["note"], selector


@user_errors
def average_clicked(topic, max_facts, samples, noise, window, exclude_layer0, token, size, progress=gr.Progress()):
    lm = HOLDER.require()
    facts = topics(load_probes()).get(topic)
    if not facts:
        raise LookupError(f"Unknown topic {topic!r}")
    facts = facts[: int(max_facts)]
    config = _config(samples, noise, window, exclude_layer0)
    record = None
    for record in iter_average_trace(lm, facts, config, kinds=("mlp",)):
        progress((record.fact + record.rows_done / max(record.rows_total, 1)) / record.n_facts, desc=record.message)
    average = record.average
    traced = average.results["mlp"]
    if not traced:
        raise ValueError(f"The model predicts none of the {len(facts)} facts of {topic!r}")
    scored = {"effects": [r.indirect_effect for r in traced], "ranges": [r.subject_range for r in traced],
              "note": f"  \n{record.message}", "version": HOLDER.version}
    curve, text, selector = _layer_outputs(scored["effects"], scored["ranges"], lm.n_layers, token, size, exclude_layer0)
    figure = trace_heatmap(average.effects["mlp"], list(average.row_labels), None, "mlp",
                           title=f"Average indirect effect of the MLP over {len(traced)} facts of {topic}")
    return figure, curve, text + scored["note"], selector, scored


def build() -> dict:
    """Lay out the tab; returns the layer selector that the Forget tab follows."""
    probes = load_probes()
    labels = fact_choices()
    default = next((l for l in labels if DEFAULT_FACT_PROMPT in l), labels[0] if labels else None)
    fact0 = fact_from_label(default) if default else None
    with gr.Tab("Locate", id="locate"):
        gr.Markdown("Causal tracing (ROME): noise corrupts the subject's embeddings; restoring one state "
                    "at a time shows which layers and tokens carry the fact.")
        fact = gr.Dropdown(labels, value=default, label="Pick a fact from the probe set", elem_id="locate-fact")
        with gr.Row():
            prompt = gr.Textbox(label="Prompt", value=fact0.prompt if fact0 else "", scale=3, elem_id="locate-prompt")
            subject = gr.Textbox(label="Subject (part of the prompt)", value=fact0.subject if fact0 else "",
                                 elem_id="locate-subject")
            answer = gr.Textbox(label="Answer (optional: default is the model's prediction)",
                                value=fact0.answer if fact0 else "", elem_id="locate-answer")
        with gr.Row():
            kinds = gr.CheckboxGroup(list(KINDS), value=list(KINDS), label="Kinds", elem_id="locate-kinds")
            samples = gr.Slider(1, MAX_SAMPLES, value=10, step=1, label="Noise samples", elem_id="locate-samples")
            noise = gr.Number(value=0, label="Noise std (0 = 3 x subject embedding std)", minimum=0)
            window = gr.Slider(1, 30, value=10, step=1, label="Window (mlp / attn)")
            exclude0 = gr.Checkbox(value=True, label="Leave layer 0 out (windows and suggestion)")
        with gr.Row():
            token = gr.Radio([("last subject token", "last"), ("strongest subject token", "strongest")],
                             value="last", label="Score layers at the",
                             info="some models identify the entity before its last token", elem_id="locate-token")
            size = gr.Slider(1, 10, value=3, step=1, label="Suggested window (layers)")
        estimate = gr.Markdown("", elem_id="locate-estimate")
        with gr.Row():
            run = gr.Button("Trace", variant="primary", elem_id="locate-run")
            stop = gr.Button("Stop", elem_id="locate-stop")
        status = gr.Markdown("", elem_id="locate-status")
        with gr.Row():
            heat_hidden = gr.Plot(label="hidden", elem_id="heat-hidden")
            heat_mlp = gr.Plot(label="mlp", elem_id="heat-mlp")
            heat_attn = gr.Plot(label="attn", elem_id="heat-attn")
        with gr.Row():
            curve = gr.Plot(label="Effect per layer", elem_id="locate-curve")
            with gr.Column():
                suggestion = gr.Markdown("", elem_id="locate-suggestion")
                layers = gr.CheckboxGroup(choices=list(range(HOLDER.lm.n_layers if HOLDER.lm else 0)), value=[],
                                          label="Layers to edit (carried over to Forget)", elem_id="locate-layers")
                files = gr.File(label="Downloads (CSV grids, HTML figures; PNG: the camera button above each figure)", file_count="multiple")
        with gr.Accordion("Average over a topic (ROME's average indirect effect)", open=False):
            with gr.Row():
                topic = gr.Dropdown(sorted(topics(probes)), value="landmarks" if "landmarks" in topics(probes) else None,
                                    label="Topic")
                max_facts = gr.Slider(1, 40, value=8, step=1, label="Facts")
                run_average = gr.Button("Trace the topic (MLP)")
            average_heat = gr.Plot(label="Average MLP effect")
        scored = gr.State(None)  # the grids behind the current suggestion: rescored when token / window change
    fact.change(lambda label: (lambda f: (f.prompt, f.subject, f.answer))(fact_from_label(label)),
                [fact], [prompt, subject, answer])
    for trigger in (prompt.change, subject.change, kinds.change, samples.release):
        trigger(estimate_changed, [prompt, subject, kinds, samples], [estimate], show_progress="hidden",
                concurrency_id="model")
    trace_event = run.click(
        trace_clicked, [prompt, subject, answer, kinds, samples, noise, window, exclude0, token, size],
        [heat_hidden, heat_mlp, heat_attn, status, curve, suggestion, layers, scored, files], concurrency_id="model")
    average_event = run_average.click(
        average_clicked, [topic, max_facts, samples, noise, window, exclude0, token, size],
        [average_heat, curve, suggestion, layers, scored], concurrency_id="model")
    for trigger in (token.change, size.release):
        trigger(rescore, [scored, token, size, exclude0], [curve, suggestion, layers], show_progress="hidden")
    stop.click(lambda: "Stopped.", None, [status], cancels=[trace_event, average_event])
    return {"layers": layers, "estimate": estimate, "estimate_inputs": [prompt, subject, kinds, samples]}
