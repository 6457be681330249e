"""The messages and refusals the UI shows, without a served model: soft refusals from the page, the Forget
verdict and notes, Locate's fact picker, and Forget taking only a traced fact."""
import gradio as gr
import pytest

from kuda_core.workflows.visitor import Visitor


def test_refused_input_keeps_the_outputs_and_faults_still_raise():
    """From the app's page, bad input skips every output (no red "Error" over results on screen); through the
    API, after the first output and for a fault, gr.Error is raised; Stop closes the handler."""
    from types import SimpleNamespace

    from gradio.context import LocalContext

    from ui.errors import user_errors

    def bad(*_):
        raise ValueError("Samples must be between 1 and 100, got 1000")

    closed = []

    def steps(fail_at):
        try:
            for i in range(3):
                if i == fail_at:
                    raise LookupError("no such run")
                yield i
        finally:
            closed.append(fail_at)

    with pytest.raises(gr.Error, match="got 1000"):
        user_errors(bad)()                                # no page: a script calling the API gets the error
    for client in ("api", "mcp"):
        token = LocalContext.request.set(SimpleNamespace(headers={"x-gradio-user": client}))
        with pytest.raises(gr.Error, match="got 1000"):
            user_errors(bad)()
        LocalContext.request.reset(token)
    token = LocalContext.request.set(SimpleNamespace(headers={"x-gradio-user": "app"}))
    try:
        assert user_errors(bad)() == gr.skip()
        with pytest.raises(gr.Error, match="Something went wrong"):
            user_errors(lambda: 1 / 0)()
        assert list(user_errors(steps)(0)) == [gr.skip()]
        with pytest.raises(gr.Error, match="no such run"):
            list(user_errors(steps)(1))                   # something was shown: the outputs say Error
        running = user_errors(steps)(None)
        assert next(running) == 0
        running.close()                                   # Stop
    finally:
        LocalContext.request.reset(token)
    assert closed == [0, 1, None]


def test_a_refusal_on_the_page_stays_until_closed(monkeypatch):
    """A 10-s warning for 'Choose the layers to edit' went unseen by a visitor reading the results lower down."""
    from types import SimpleNamespace

    from gradio.context import LocalContext

    from ui import errors

    shown = []
    monkeypatch.setattr(errors.gr, "Warning", lambda message, **kwargs: shown.append((message, kwargs)))

    def bad():
        raise ValueError("Choose the layers to edit (Locate suggests them)")

    token = LocalContext.request.set(SimpleNamespace(headers={"x-gradio-user": "app"}))
    try:
        assert errors.user_errors(bad)() == gr.skip()
    finally:
        LocalContext.request.reset(token)
    assert shown == [("Choose the layers to edit (Locate suggests them)", {"duration": None})]


def test_an_lr_far_above_the_default_is_pointed_out():
    from kuda_core.forget.config import UnlearnConfig
    from ui.forget_messages import pace_warning

    assert pace_warning(UnlearnConfig.create("kuda", layers=(1,))) == ""
    assert "lr 1 is 1000 times KUDA's default (0.001)" in pace_warning(UnlearnConfig.create("kuda", layers=(1,), lr=1.0))
    assert pace_warning(UnlearnConfig.create("gd", layers=(1,), lr=5e-4)) == ""          # 5x: within reason


def test_forget_takes_the_fact_only_once_it_was_traced():
    from ui.layout import _traced_fact

    visitor = Visitor()
    prompt, subject = "The Eiffel Tower is located in the city of", "Eiffel Tower"
    assert _traced_fact(prompt, subject, "", None, visitor) == gr.skip()          # refused or not confirmed yet
    visitor.results["traces"] = {(0, prompt, subject, None, ("mlp",), None): {}}
    assert _traced_fact(prompt, subject, "", {"answer": " Paris"}, visitor) == (
        "typed rows", f"{prompt} | {subject} | Paris")


def test_typing_over_the_picked_fact_clears_it_and_its_answer():
    from ui.fact_picker import fact_label, unpicked
    from ui.locate_tab import DEFAULT_FACT_PROMPT
    from kuda_core.data.probes import load_probes

    eiffel = next(f for f in load_probes() if f.prompt == DEFAULT_FACT_PROMPT)
    label = fact_label(eiffel)
    assert unpicked(label, eiffel.prompt, eiffel.subject, eiffel.answer) == (gr.skip(), gr.skip())   # as picked
    pick, answer = unpicked(label, "The Colosseum is located in the city of", "Colosseum", eiffel.answer)
    assert pick == gr.update(value=None) and answer == ""        # "Paris" would be traced for the Colosseum
    assert unpicked(label, "The Colosseum is in", "Colosseum", " Rome")[1] == gr.skip()   # typed answer kept
    pick, answer = unpicked(label, eiffel.prompt, "Tower", eiffel.answer)   # another span of the same prompt
    assert pick == gr.update(value=None) and answer == gr.skip()            # Paris still answers that prompt


def test_the_verdict_does_not_call_a_wrecked_model_a_success():
    from types import SimpleNamespace

    from ui.forget_messages import verdict

    def run(neighbours):
        last = SimpleNamespace(remaining=(), step=10, paraphrase_acc=None, neighbour_acc=neighbours)
        start = SimpleNamespace(status="start", elapsed_s=19.2)     # the record after the preparation
        return SimpleNamespace(last=last, metrics={}, seconds=70.0, status="done", records=[start, last])

    assert verdict(run(1.0)).startswith("**Forgotten** after 10 steps (70 s, 19 s of it preparing); neighbours kept: 100%")
    assert verdict(run(0.0)).startswith("**Forgotten, but most neighbours went with it** after 10 steps")


def test_stop_names_the_step_whose_weights_are_kept():
    """Stop's message counts steps as the run does (and Runs lists it): the step the kept weights come from."""
    from types import SimpleNamespace

    from ui.forget_messages import stopped_message

    def run(status, steps_done, number=3):
        return SimpleNamespace(status=status, steps_done=steps_done, number=number, config=SimpleNamespace(steps=300))

    visitor = Visitor()
    assert stopped_message(visitor).startswith("Stopped: your weights reached so far are kept")
    visitor.run = run("running", 15, number=0)
    visitor.runs = [run("done", 40, number=1)]
    assert stopped_message(visitor) == "Stopping run 2 (step 15 so far) ..."       # before the cancel settles
    visitor.run = run("stopped", 16, number=2)
    assert stopped_message(visitor).startswith("Stopped run 2 after step 16/300: your weights reached so far are kept")
    visitor.run, visitor.runs = None, [run("stopped", 0, number=2)]                # stopped while preparing
    assert "no weight changed" in stopped_message(visitor)
