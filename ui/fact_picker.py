"""Locate's probe-fact picker: labels, the fact behind a label, and keeping the pick true to the fields.

    >>> fact_label(fact)                                  # "[landmarks] The Eiffel Tower ... -> Paris"
    >>> picked(label)                                     # (prompt, subject, answer) for the fields
    >>> unpicked(label, prompt, subject, answer)          # (pick, answer) updates once the fields are typed over
"""
from __future__ import annotations

import gradio as gr

from kuda_core.data.probes import load_probes


def fact_label(fact) -> str:
    return f"[{fact.topic}] {fact.prompt} ->{fact.answer}"


def fact_from_label(label: str):
    for fact in load_probes():
        if fact_label(fact) == label:
            return fact
    raise LookupError(f"Unknown probe fact {label!r}")


def picked(label: str | None):
    """The prompt, subject and answer of the probe fact picked (nothing when the pick was cleared)."""
    if not label:
        return gr.skip()
    fact = fact_from_label(label)
    return fact.prompt, fact.subject, fact.answer


def unpicked(label: str | None, prompt: str, subject: str, answer: str):
    """Clear the pick once the typed prompt or subject differ from the picked fact's, and its answer with it when
    the prompt changed (left there, the Eiffel Tower's "Paris" would be traced for any new prompt; a narrower
    subject in the same prompt, "Tower", keeps it)."""
    fact = fact_from_label(label) if label else None
    if fact is None or (fact.prompt, fact.subject) == (prompt, subject):
        return gr.skip(), gr.skip()
    return gr.update(value=None), ("" if answer == fact.answer and prompt != fact.prompt else gr.skip())
