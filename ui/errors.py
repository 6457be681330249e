"""Turn engine exceptions into messages the user sees, keeping the app serving.

    >>> @user_errors
    ... def handler(...): ...

Expected errors (bad input, missing files, a model that does not fit) are logged in one line and
shown as they are; anything else is a fault: its traceback goes to the log (once) and the user is
told so. Messages are HTML-escaped: what a visitor typed is never rendered as markup.
"""
from __future__ import annotations

import functools
import html
import inspect
import logging

import gradio as gr
import torch

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
    return gr.Error(html.escape(message[:800], quote=False), print_exception=False)


def user_errors(handler):
    """Decorator for gradio handlers (plain functions and generators)."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as error:  # noqa: BLE001 - every fault becomes a message; the app keeps serving
                raise to_gradio(error) from error
        return generator_wrapper

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001
            raise to_gradio(error) from error
    return wrapper
