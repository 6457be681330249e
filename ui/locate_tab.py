"""The "Locate" tab: causal tracing heatmaps that fill in live, and the suggested layers to edit."""
from __future__ import annotations

import html
import time
from functools import partial

import gradio as gr
import pandas as pd

from kuda_core.data.probes import load_probes, topics
from kuda_core.locate import suggest
from kuda_core.locate.config import KINDS, MAX_SAMPLES, TraceConfig
from kuda_core.model.tokens import find_subject, subject_match_note
from kuda_core.report.plots import layer_effect_curve, trace_heatmap
from kuda_core.workflows import jobs
from ui.confirm import CONFIRM_ABOVE_S, REFUSE_ABOVE_S, asks_first, duration
from ui.errors import user_errors
from ui.fact_picker import fact_from_label, fact_label, picked, unpicked
from ui.forms import Form
from ui.session import ESTIMATOR, HOST, OPTIONS, busy_note, calibrate, shared_note
from ui.widgets import Number, Slider

DEFAULT_FACT_PROMPT = "The Eiffel Tower is located in the city of"
MAX_CACHED_TRACES = 16
REDRAW_EVERY_S = 2.0      # live heatmaps are redrawn at most this often (a long prompt has one row per token)


def trace_config(values: dict) -> TraceConfig:
    """The TraceConfig of the form's values, with messages for out-of-range input."""
    samples = int(values["samples"] or 0)
    if not 1 <= samples <= MAX_SAMPLES:
        raise ValueError(f"Samples must be between 1 and {MAX_SAMPLES}, got {samples}")
    noise = float(values["noise"] or 0)
    if noise < 0:
        raise ValueError(f"Noise must be positive (0 = 3 x the subject embedding std), got {noise}")
    window = int(values["window"] or 0)
    if not 1 <= window <= HOST.require().n_layers:
        raise ValueError(f"The window must be between 1 and the model's {HOST.require().n_layers} layers, got {window}")
    return TraceConfig(samples=samples, noise=noise or None, window=window, exclude_layer0=bool(values["exclude0"]))


def was_traced(visitor, prompt: str, subject: str) -> bool:
    """True when this visitor's trace cache holds a trace of this prompt and subject (trace_clicked's keys)."""
    return any(key[1:3] == (prompt, subject) for key in visitor.results.get("traces", {}))


def _inputs(prompt: str, subject: str, answer: str) -> tuple[str, str, str | None]:
    if not prompt or not prompt.strip():
        raise ValueError("The prompt is empty")
    if not subject or not subject.strip():
        raise ValueError("Give the subject: the part of the prompt the fact is about (e.g. 'Eiffel Tower')")
    find_subject(prompt, subject)   # LookupError naming near candidates
    return prompt, subject, answer if answer and answer.strip() else None


def _heatmaps(results: dict) -> list:
    return [None if kind not in results else trace_heatmap(
        results[kind].scores, results[kind].tokens, results[kind].subject_range, kind,
        p_corrupt=results[kind].p_corrupt, p_clean=results[kind].p_clean) for kind in KINDS]


def _suggestion(scored: dict, token: str, size: int, exclude_layer0: bool):
    """Curve, suggestion text (with a hint when the other token scoring disagrees) and the layer selector."""
    by_token = suggest.suggestions_by_token(scored["effects"], scored["ranges"], size=int(size),
                                            exclude_layer0=bool(exclude_layer0))
    chosen = by_token[token]
    where = "last subject token" if token == "last" else "strongest subject token"
    curve = layer_effect_curve(chosen.scores, window=(chosen.layers[0], chosen.layers[-1] + 1),
                               label=f"MLP indirect effect ({where})")
    text = (f"**Suggested layers: {', '.join(map(str, chosen.layers))}** (the {len(chosen.layers)} consecutive layers "
            f"with the largest MLP effect at the {where}; total {chosen.total:.3f})")
    note = suggest.other_token_note(by_token, token)
    text += f"  \n{note}" if note else ""
    text += scored.get("note", "")
    return curve, text, gr.update(choices=list(range(HOST.require().n_layers)), value=list(chosen.layers))


def _downloads(results: dict, visitor) -> list[str]:
    """CSV grids and self-contained HTML figures (plotly inlined: they open offline) in the visitor's folder."""
    folder = visitor.scratch("traces", OPTIONS.runs_dir / "visitors")
    paths = []
    for kind, result in results.items():
        frame = pd.DataFrame(result.scores, index=[f"{i}:{t}" for i, t in enumerate(result.tokens)],
                             columns=[f"layer_{layer}" for layer in range(result.n_layers)])
        frame.to_csv(folder / f"trace_{kind}.csv", index_label="token")
        trace_heatmap(result.scores, result.tokens, result.subject_range, kind, p_corrupt=result.p_corrupt,
                      p_clean=result.p_clean).write_html(folder / f"trace_{kind}.html", include_plotlyjs=True)
        paths += [str(folder / f"trace_{kind}.csv"), str(folder / f"trace_{kind}.html")]
    return paths


def _status(result, elapsed: float, estimated: float, final: bool = False, note: str = "", matched: str = "") -> str:
    """The trace's status lines; `matched`: subject_match_note when the subject was found ignoring capitals."""
    head = (f"Done in {elapsed:.1f} s (estimated {estimated:.0f} s).{note}" if final else
            f"Tracing {result.kind}: row {result.rows_done}/{len(result.tokens)}, {elapsed:.0f} s of ~{estimated:.0f} s")
    lines = [head, f"Answer traced: {result.answer!r}; p clean {result.p_clean:.3f}, p corrupted "
                   f"{result.p_corrupt:.3f}, noise std {result.noise:.3f}."]
    if matched:
        lines.append(html.escape(matched, quote=False))
    return "  \n".join(lines + [f"Warning: {w}" for w in result.warnings])


@user_errors
def estimate_changed(form: Form, data):
    """The run-time estimate while the visitor types (tokenizer only), or what is missing before a trace."""
    values = form.values(data)
    prompt, subject, kinds = values["prompt"], values["subject"], values["kinds"]
    missing = [name for name, value in (("a prompt", (prompt or "").strip()), ("its subject", (subject or "").strip()),
                                        ("at least one kind", kinds)) if not value]
    if missing or HOST.lm is None:
        return f"To trace, give {' and '.join(missing)}." if missing else ""
    try:
        config = trace_config(values)          # out-of-range samples, noise or window: said here, not only on Trace
        seconds = ESTIMATOR.estimate(HOST.lm, prompt, subject, kinds, config.samples)
    except (LookupError, ValueError) as error:
        return f"Not traceable yet: {html.escape(str(error))}"
    matched = subject_match_note(prompt, subject)
    too_long = (f" That is over the {REFUSE_ABOVE_S // 3600} h limit: use fewer kinds, samples or tokens."
                if seconds > REFUSE_ABOVE_S else "")
    return f"Estimated run time: about {duration(seconds)}.{too_long}{busy_note(HOST.sharing())}" + (
        f"  \n{html.escape(matched, quote=False)}" if matched else "")


@user_errors
def trace_clicked(form: Form, data, progress=gr.Progress()):
    values, visitor = form.values(data), data[form["visitor"]]
    prompt, subject, answer = _inputs(values["prompt"], values["subject"], values["answer"])
    kinds = [k for k in KINDS if k in (values["kinds"] or [])]
    if not kinds:
        raise ValueError("Choose at least one kind: hidden, mlp or attn")
    config = trace_config(values)
    key = (visitor.state(HOST), prompt, subject, answer, tuple(kinds), config)
    cache = visitor.results.setdefault("traces", {})
    keep = gr.update()
    if key in cache:
        results = cache[key]
        scored = _scored(results, visitor)
        yield (*_heatmaps(results), "Same inputs as before: shown from your cache.",
               *_outputs(scored, values), scored, _downloads(results, visitor))
        return
    estimated = ESTIMATOR.estimate(HOST.require(), prompt, subject, kinds, config.samples)
    if estimated > CONFIRM_ABOVE_S:       # before asking, time the model again: a busy moment may have misled
        calibrate()                       # the last timing (a few forward passes)
        estimated = ESTIMATOR.estimate(HOST.require(), prompt, subject, kinds, config.samples)
    question = asks_first(visitor, "trace", key, estimated, "This trace", "fewer kinds, samples or tokens")
    if question:
        yield (*[keep] * len(KINDS), question, keep, keep, keep, keep, keep)     # the last trace stays on screen
        return
    started, results, watch = time.perf_counter(), {}, HOST.sharing()
    matched = subject_match_note(prompt, subject)
    yield (*_heatmaps(results), f"Tracing... estimated {estimated:.0f} s.{busy_note(watch)}", keep, keep, keep, keep,
           None)
    drawn = 0.0
    for kind, partial in jobs.iter_trace_kinds(HOST, visitor, prompt, subject, answer, kinds, config):
        results[kind] = partial
        done = (kinds.index(kind) + partial.rows_done / len(partial.tokens)) / len(kinds)
        progress(done, desc=f"{kind}: row {partial.rows_done}/{len(partial.tokens)}")
        now = time.perf_counter()
        redraw = now - drawn >= REDRAW_EVERY_S or partial.rows_done == len(partial.tokens)
        drawn = now if redraw else drawn
        yield (*(_heatmaps(results) if redraw else [keep] * len(KINDS)),
               _status(partial, now - started, estimated, matched=matched), keep, keep, keep, keep, None)
    elapsed = time.perf_counter() - started
    if not watch.shared():                # a trace that took turns with other jobs says nothing of this machine
        ESTIMATOR.record(estimated, elapsed)
    cache[key] = results
    while len(cache) > MAX_CACHED_TRACES:
        cache.pop(next(iter(cache)))
    scored = _scored(results, visitor)
    yield (*_heatmaps(results), _status(results[kinds[-1]], elapsed, estimated, final=True, note=shared_note(watch),
                                        matched=matched),
           *_outputs(scored, values), scored, _downloads(results, visitor))

def _scored(results: dict, visitor) -> dict | None:
    mlp = results.get("mlp")
    if mlp is None:
        return None
    weak = suggest.weak_trace_note(mlp.p_clean, mlp.p_corrupt)
    return {"effects": [mlp.indirect_effect], "ranges": [mlp.subject_range], "note": f"  \n{weak}" if weak else "",
            "state": visitor.state(HOST), "answer": mlp.answer}


def _outputs(scored, values):
    if scored is None:
        return None, "Trace the **mlp** kind to get a layer suggestion.", gr.update()
    return _suggestion(scored, values["token"], values["size"], values["exclude0"])

@user_errors
def rescore(form: Form, data):
    """The suggestion again from the last MLP trace (or topic average) for another token scoring or window."""
    values, scored, visitor = form.values(data), data[form["scored"]], data[form["visitor"]]
    if not scored or scored["state"] != visitor.state(HOST):   # nothing traced, or your model changed since
        return gr.update(), gr.update(), gr.update()
    return _suggestion(scored, values["token"], values["size"], values["exclude0"])

@user_errors
def average_clicked(form: Form, data, progress=gr.Progress()):
    values, visitor = form.values(data), data[form["visitor"]]
    facts = topics(load_probes()).get(values["topic"])
    if not facts:
        raise LookupError(f"Unknown topic {values['topic']!r}")
    facts = facts[: int(values["max_facts"])]
    record = None
    for record in jobs.iter_topic_trace(HOST, visitor, facts, trace_config(values)):
        progress((record.fact + record.rows_done / max(record.rows_total, 1)) / record.n_facts, desc=record.message)
    traced = record.average.results["mlp"]
    if not traced:
        raise ValueError(f"The model predicts none of the {len(facts)} facts of {values['topic']!r}")
    scored = {"effects": [r.indirect_effect for r in traced], "ranges": [r.subject_range for r in traced],
              "note": f"  \n{record.message}", "state": visitor.state(HOST)}
    figure = trace_heatmap(record.average.effects["mlp"], list(record.average.row_labels), None, "mlp",
                           title=f"Average indirect effect of the MLP over {len(traced)} facts of {values['topic']}")
    return figure, *_suggestion(scored, values["token"], values["size"], values["exclude0"]), scored


def make_handlers(form: Form):
    """(estimate_changed, trace_clicked, rescore, average_clicked) reading `form` by name."""
    return tuple(partial(handler, form) for handler in (estimate_changed, trace_clicked, rescore, average_clicked))


def build(visitor: gr.State) -> dict:
    """Lay out the tab; returns the layer selector that the Forget tab follows and the estimate wiring."""
    probes = load_probes()
    labels = [fact_label(f) for f in probes]
    default = next((label for label in labels if DEFAULT_FACT_PROMPT in label), labels[0])
    fact0 = fact_from_label(default)
    n_layers = HOST.lm.n_layers if HOST.lm else 0
    with gr.Tab("Locate", id="locate"):
        gr.Markdown("Causal tracing (ROME): noise corrupts the subject's embeddings; restoring one state "
                    "at a time shows which layers and tokens carry the fact.")
        fact = gr.Dropdown(labels, value=default, label="Pick a fact from the probe set", elem_id="locate-fact")
        with gr.Row():
            prompt = gr.Textbox(label="Prompt", value=fact0.prompt, scale=3, elem_id="locate-prompt")
            subject = gr.Textbox(label="Subject (part of the prompt)", value=fact0.subject, elem_id="locate-subject")
            answer = gr.Textbox(label="Answer (optional: default is the model's prediction)", value=fact0.answer,
                                elem_id="locate-answer")
        with gr.Row():
            kinds = gr.CheckboxGroup(list(KINDS), value=list(KINDS), label="Kinds", elem_id="locate-kinds")
            samples = Slider(1, MAX_SAMPLES, value=10, step=1, label="Noise samples", elem_id="locate-samples")
            noise = Number(value=0, label="Noise std (0 = 3 x subject embedding std)", minimum=0)
            window = Slider(1, max(n_layers, 1), value=min(10, max(n_layers, 1)), step=1, label="Window (mlp / attn)")
            exclude0 = gr.Checkbox(value=True, label="Leave layer 0 out (windows and suggestion)")
        with gr.Row():
            token = gr.Radio([("last subject token", "last"), ("strongest subject token", "strongest")],
                             value=suggest.DEFAULT_TOKEN, label="Score layers at the",
                             info="some models identify the entity before its last token", elem_id="locate-token")
            size = Slider(1, 10, value=3, step=1, label="Suggested window (layers)")
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
                layers = gr.CheckboxGroup(choices=list(range(n_layers)), value=[],
                                          label="Layers to edit (carried over to Forget)", elem_id="locate-layers")
                files = gr.File(label="Downloads (CSV grids, HTML figures; PNG: the camera button above each figure)",
                                file_count="multiple")
        with gr.Accordion("Average over a topic (ROME's average indirect effect)", open=False):
            with gr.Row():
                names = sorted(topics(probes))
                topic = gr.Dropdown(names, value="landmarks" if "landmarks" in names else names[0], label="Topic")
                max_facts = Slider(1, 40, value=8, step=1, label="Facts")
                run_average = gr.Button("Trace the topic (MLP)")
            average_heat = gr.Plot(label="Average MLP effect")
        scored = gr.State(None)  # the grids behind the current suggestion: rescored when token / window change
    form = Form(prompt=prompt, subject=subject, answer=answer, kinds=kinds, samples=samples, noise=noise,
                window=window, exclude0=exclude0, token=token, size=size, topic=topic, max_facts=max_facts,
                scored=scored, visitor=visitor)
    estimate_changed, trace_clicked, rescore, average_clicked = make_handlers(form)
    fact.change(picked, [fact], [prompt, subject, answer], api_visibility="private")
    for typed in (prompt.change, subject.change):     # typed over (change: input missed filled values)
        typed(unpicked, [fact, prompt, subject, answer], [fact, answer], show_progress="hidden", api_visibility="private")
    estimate_inputs = {prompt, subject, kinds, samples, noise, window, exclude0}
    for trigger in (prompt.change, subject.change, kinds.change, samples.change, noise.change, window.change):
        # change: typed or dragged
        trigger(estimate_changed, estimate_inputs, [estimate], show_progress="hidden", api_visibility="private")
    trace_event = run.click(trace_clicked, form.inputs,
                            [heat_hidden, heat_mlp, heat_attn, status, curve, suggestion, layers, scored, files],
                            api_visibility="private")
    trace_event.then(estimate_changed, estimate_inputs, [estimate], show_progress="hidden",  # it learnt from this one
                     api_visibility="private")
    average_event = run_average.click(average_clicked, form.inputs, [average_heat, curve, suggestion, layers, scored],
                                      api_visibility="private")
    for trigger in (token.change, size.release, exclude0.change):
        trigger(rescore, form.inputs, [curve, suggestion, layers], show_progress="hidden", api_visibility="private")
    stop.click(lambda: "Stopped.", None, [status], cancels=[trace_event, average_event], api_visibility="private").then(
        lambda: "Stopped.", None, [status], api_visibility="private")   # again once the cancel has settled
    return {"layers": layers, "estimate": (estimate_changed, estimate_inputs, estimate), "form": form,
            "trace_event": trace_event, "fact_inputs": [prompt, subject, answer, scored],
            "fact": (fact0.prompt, fact0.subject, fact0.answer)}
