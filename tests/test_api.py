"""The app's named API on the real default model: 40 bad inputs each get a clear message, the app
keeps serving, no hook is left and the shared model stays bit for bit the same; nothing is written
outside the runs folder, whatever a client types."""
from __future__ import annotations

import html
from pathlib import Path

import pytest

from tests.browser import AppProcess

pytestmark = pytest.mark.slow
FACT = "The Eiffel Tower is located in the city of | Eiffel Tower | Paris"
BEFORE_FORGET = [
    ("/generate", {"prompt": ""}, "empty"),
    ("/generate", {"prompt": "   "}, "empty"),
    ("/generate", {"max_new_tokens": 0}, "New tokens: value 0 is less than the minimum 1"),
    ("/generate", {"max_new_tokens": 10000}, "New tokens: value 10000 is greater than the maximum"),
    ("/generate", {"prompt": "word " * 9000}, "context"),
    ("/trace", {"subject": "Colosseum"}, "does not occur"),
    ("/trace", {"subject": ""}, "subject is empty"),
    ("/trace", {"samples": 0}, "samples must be"),
    ("/trace", {"samples": 1000}, "samples must be"),
    ("/trace", {"window": 0}, "window must be"),
    ("/trace", {"kinds": ["embedding"]}, "kinds must name"),
    ("/trace", {"prompt": ""}, "prompt is empty"),
    ("/forget", {"facts": "no pipes here"}, "no fact rows"),
    ("/forget", {"facts": "a | b"}, "expected 'prompt | subject | answer'"),
    ("/forget", {"facts": "The capital of France is | Germany | Paris"}, "does not occur"),
    ("/forget", {"facts": FACT, "method": "forgetful"}, "Unknown method"),
    ("/forget", {"facts": FACT, "settings": "{not json"}, "settings must be a JSON"),
    ("/forget", {"facts": FACT, "settings": '{"lr": 1e9}'}, "lr must be in (0, 1]"),
    ("/forget", {"facts": FACT, "settings": '{"tau": -1}'}, "tau must be >= 0"),
    ("/forget", {"facts": FACT, "method": "npo", "settings": '{"retain_kl": 1}'}, "does not use 'retain_kl'"),
    ("/forget", {"facts": FACT, "layers": [99]}, "do not exist"),
    ("/forget", {"facts": FACT, "layers": [-1]}, "non-negative"),
    ("/forget", {"topics": ["planets"]}, "Unknown topic"),
    ("/forget", {"topics": []}, "Pick at least one topic"),
    ("/forget", {"facts": FACT, "settings": '{"steps": 0}'}, "steps must be >= 1"),
    ("/forget", {"facts": FACT, "holdout": 1.5}, "held-out fraction"),
    ("/compare", {"chosen": [], "free_text": ""}, "Choose at least one prompt set"),
    ("/drift", {}, "run Forget first"),
    ("/evaluate", {}, "Run Forget first"),
    ("/checks", {}, "run Forget first"),
    ("/apply_run", {"number": 99}, "no run 99"),
]
AFTER_FORGET = [
    ("/compare", {"limit": 0}, "At most per set: value 0 is less than the minimum 1"),
    ("/retrace", {"fact_index": -5}, "does not exist"),
    ("/drift", {"pca_layer": 99}, "does not exist"),
    ("/evaluate", {"mc_source": "/etc/passwd"}, "not among the files this app serves"),
    ("/evaluate", {"mc_limit": -1}, "0 (all) or more"),
    ("/checks", {"steps": "abc"}, "whole numbers"),
    ("/export", {"path": "/etc/kuda_probe_x"}, "outside"),
    ("/export", {"path": "../outside"}, "outside"),
    ("/export", {"path": "a\x00b"}, "NUL"),
    ("/export", {"path": ""}, "Give a folder"),
    ("/export", {"path": "not-a-bundle", "overwrite": True}, "not written in this session"),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from gradio_client import Client

    runs = tmp_path_factory.mktemp("runs")
    (runs / "not-a-bundle").mkdir()
    (runs / "not-a-bundle" / "keep.txt").write_text("not yours")
    app = AppProcess(["--runs-dir", str(runs)])
    yield Client(app.url, verbose=False), runs
    app.stop()


def refused(client, endpoint: str, kwargs: dict) -> str:
    from gradio_client.exceptions import AppError

    try:
        result = client.predict(**kwargs, api_name=endpoint)
    except AppError as error:
        return html.unescape(str(error))    # messages are HTML-escaped for the browser's pop-up
    raise AssertionError(f"{endpoint} {kwargs} was accepted: {str(result)[:200]}")


def test_bad_inputs_get_clear_messages_and_change_nothing(api, tmp_path):
    client, runs = api
    start = client.predict(True, api_name="/health")
    for endpoint, kwargs, expected in BEFORE_FORGET:
        message = refused(client, endpoint, kwargs)
        assert expected in message and "Traceback" not in message, (endpoint, kwargs, message)
        assert client.predict(False, api_name="/health")["hooks"] == 0
    verdict, status, _ = client.predict(facts=FACT, settings='{"steps": 3}', api_name="/forget")
    assert "your edit" in status
    for endpoint, kwargs, expected in AFTER_FORGET:
        message = refused(client, endpoint, kwargs)
        assert expected in message and "Traceback" not in message, (endpoint, kwargs, message)
    assert len(BEFORE_FORGET) + len(AFTER_FORGET) >= 40
    end = client.predict(True, api_name="/health")
    assert end["hash"] == start["hash"] and end["hooks"] == 0        # the shared model is bit for bit the same
    assert client.predict(prompt="The capital of France is", api_name="/generate")[0].startswith(" Paris")
    assert (runs / "not-a-bundle" / "keep.txt").read_text() == "not yours"
    assert not (runs.parent / "outside").exists()


def test_a_client_exports_only_inside_the_runs_folder(api):
    client, runs = api
    message = client.predict(path="mine", api_name="/export")
    assert "Bundle written" in message and (runs / "mine" / "model" / "model.safetensors").is_file()
    assert "Bundle written" in client.predict(path="mine", overwrite=True, api_name="/export")   # its own bundle
    from gradio_client import Client

    other = Client(client.src, verbose=False)                       # another visitor may not replace it
    assert "not written in this session" in refused(other, "/export", {"path": "mine", "overwrite": True})


def test_clients_leaving_the_folder_out_get_a_bundle_each(api):
    """The schema offers every client the same default folder name; a second one used to be refused ("exists"),
    and clients exporting at the same moment raced for it."""
    client, runs = api
    from gradio_client import Client

    clients = [Client(client.src, verbose=False) for _ in range(3)]
    jobs = [c.submit(api_name="/export") for c in clients]            # at the same time: each checked before any wrote
    written = [job.result() for job in jobs]
    folders = [message.split("`")[1] for message in written]
    assert all("Bundle written" in message for message in written) and len(set(folders)) == 3, written
    assert all((Path(folder) / "model" / "model.safetensors").is_file() for folder in folders)


def test_a_trace_whose_subject_barely_matters_is_said_to_be_weak(api):
    """Hiding "Google" moves p(" Android") only from 0.48 to 0.40: the suggested layers come with a warning."""
    client, _ = api
    status, layers, _ = client.predict(prompt="Google's operating system for phones is called", subject="Google",
                                       answer="", kinds=["mlp"], samples=3, api_name="/trace")
    assert "Weak trace: this suggestion is unreliable" in status and layers, status


def settled_run(client) -> tuple[dict, list, str]:
    """The client's first run once it no longer runs (it ends at its next batch or step), all rows, the message."""
    import time

    for _ in range(60):
        table, _, message = client.predict(api_name="/runs")
        rows, headers = table["data"], table["headers"]
        if rows and dict(zip(headers, rows[0]))["status"] != "running":
            break
        time.sleep(1)
    return dict(zip(headers, rows[0])), rows, message


def test_stop_ends_a_forget_run_while_it_prepares(api):
    """/stop cancelled the request, but the run prepared to its end (minutes under load) before it stopped.
    Now it ends within a batch of its preparation: stopped, no record made, no weight changed."""
    import time

    from gradio_client import Client

    client, _ = api
    visitor = Client(client.src, verbose=False)
    job = visitor.submit(facts=FACT, api_name="/forget")
    time.sleep(5)                                      # inside the preparation (about 15 s on the default model)
    visitor.predict(api_name="/stop")
    run, rows, message = settled_run(visitor)
    assert len(rows) == 1 and run["status"] == "stopped" and run["steps"] == 0, rows
    assert run["seconds"] == 0 and run["in effect"] == "", run          # ended before its first record
    assert "original weights" in message
    assert job.done() or job.status().code.name in ("CANCELLED", "FINISHED")


def test_stop_ends_a_forget_run_between_its_steps(api):
    """/stop after the preparation: the run used to go on to 'done'; it now stops after its step in progress,
    keeping the weights reached so far (in effect, as Stop in the browser does)."""
    import time

    from gradio_client import Client

    client, _ = api
    visitor = Client(client.src, verbose=False)
    job = visitor.submit(facts=FACT, settings='{"steps": 200, "stop_at": null}', api_name="/forget")
    time.sleep(35)                                     # past the preparation, a few steps in (no stop before 200)
    visitor.predict(api_name="/stop")
    run, rows, message = settled_run(visitor)
    assert run["status"] == "stopped" and 0 < run["steps"] < 200 and run["in effect"] == "yes", rows
    assert "your edit" in message and job is not None
