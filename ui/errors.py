"""Turn engine exceptions into messages the user sees, keeping the app serving.

    >>> @user_errors
    ... def handler(...): ...
"""
from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

USER_ERRORS = (ValueError, LookupError, OSError, RuntimeError, TypeError)
log = logging.getLogger("kuda.ui")


def _to_gradio(error: Exception) -> gr.Error:
    if isinstance(error, gr.Error):
        return error
    message = str(error) or type(error).__name__
    if "out of memory" in message.lower():
        message = "Out of memory: try fewer samples, a shorter prompt, fewer layers or a smaller model. " + message
    log.warning("user-facing error: %s", message)
    return gr.Error(message[:800])


def user_errors(handler):
    """Decorator for gradio handlers (plain functions and generators)."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except USER_ERRORS as error:
                raise _to_gradio(error) from error
        return generator_wrapper

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except USER_ERRORS as error:
            raise _to_gradio(error) from error
    return wrapper
