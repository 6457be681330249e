"""Turn engine exceptions into messages the user sees, keeping the app serving.

    >>> @user_errors
    ... def handler(...): ...

Expected errors (bad input, missing files, a model that does not fit) are logged in one line and
shown as they are; anything else is a fault: its traceback goes to the log (once) and the user is
told so. Messages are HTML-escaped: what a visitor typed is never rendered as markup.

In the browser an expected error raised before the handler's first output is a pop-up warning (it
stays until closed),
and every output stays as it was (gr.skip): a mistyped number does not wipe the results on screen
behind gradio's red "Error" badges. Faults, errors once a handler has shown something, and every
error of a call through the API (gradio_client, curl: not the app's own page, which says
"x-gradio-user: app") raise gr.Error, so a script gets the message as an error.
"""
from __future__ import annotations

import functools
import html
import inspect
import logging

import gradio as gr
import torch
from gradio.context import LocalContext

USER_ERRORS = (ValueError, LookupError, OSError, ConnectionError)
log = logging.getLogger("kuda.ui")


def to_gradio(error: Exception) -> gr.Error:
    """The gr.Error a visitor sees for `error` (logged here: one line, or a traceback for a fault)."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower():
        message = "Out of memory: try fewer samples, a shorter prompt, fewer layers or a smaller model."
        log.warning("out of memory: %s", str(error)[:200])
    elif isinstance(error, USER_ERRORS):
        message = str(error) or type(error).__name__
        log.info("user error: %s", message[:300])
    else:
        log.exception("unexpected error in a handler")
        message = f"Something went wrong on the server ({type(error).__name__}); the app keeps running."
    # logged above in one line (or with its traceback for a fault): gradio need not print it again
    # duration None: the message stays until the visitor closes it (the outputs under it only say "Error")
    return gr.Error(html.escape(message[:800], quote=False), duration=None, print_exception=False)


def refused(error: Exception) -> bool:
    """True for an expected error shown as a warning with the outputs kept (bad input, not a fault) when the
    request comes from the app's page in a browser."""
    return isinstance(error, USER_ERRORS) and _from_the_page()


def _from_the_page() -> bool:
    """True inside an event the app's own page sent (its client marks requests "x-gradio-user: app")."""
    request = LocalContext.request.get(None)
    headers = getattr(request, "headers", None) or {}
    return headers.get("x-gradio-user") == "app"


def _warn(error: Exception):
    """Pop up the error's message as a warning that stays until closed (a 10-s one went unseen by a visitor
    scrolled down to the results); the gr.skip() that keeps every output as it was."""
    message = to_gradio(error).message
    gr.Warning(message, duration=None)
    return gr.skip()


def user_errors(handler):
    """Decorator for gradio handlers (plain functions and generators)."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def generator_wrapper(*args, **kwargs):
            shown, outputs = False, handler(*args, **kwargs)
            try:
                for output in outputs:
                    shown = True
                    yield output
            except gr.Error:
                raise
            except Exception as error:  # noqa: BLE001 - every fault becomes a message; the app keeps serving
                if not shown and refused(error):
                    yield _warn(error)
                    return
                raise to_gradio(error) from error
            finally:
                outputs.close()              # Stop (GeneratorExit here) closes the handler too: its cleanup runs
        return generator_wrapper

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001
            if refused(error):
                return _warn(error)
            raise to_gradio(error) from error
    return wrapper
