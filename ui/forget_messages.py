"""What the Forget tab writes about a run: the preparing line, the last step, the verdict a room reads.

    >>> preparing_message(run, estimated=40.0, at_cap=90.0)   # before the first record
    >>> while_running(record)                    # a step record's line (the last one: answers being read)
    >>> verdict(run) + "  \n" + closing_line(run)  # the final two lines
"""
from __future__ import annotations

from kuda_core.data.wording import counted
from kuda_core.forget.methods import REGISTRY
from kuda_core.workflows.runs import RunRecord


def preparing_message(run: RunRecord, estimated: float | None, at_cap: float | None = None) -> str:
    """What the visitor reads while a run prepares (before its first record): `estimated` the seconds it is
    expected to take, `at_cap` the seconds if it runs every step up to the cap."""
    layers = ", ".join(map(str, run.config.layers))
    if estimated is None:
        when = " No time estimate yet: no Forget run has been timed on this machine."
    elif at_cap is not None and at_cap > estimated + 1:
        when = (f" Estimated at about {estimated:.0f} s, as runs here stopped once forgotten; {at_cap:.0f} s at "
                f"most (the {run.config.steps}-step cap).")
    else:
        when = f" Up to the step cap the run is estimated at about {estimated:.0f} s."
    keys = (f" and collecting the retained keys of the edited layers ({layers}) for the null-space projection"
            if run.config.tau is not None else f" on the edited layers ({layers})")
    return (f"Preparing: checking which forget facts the model answers ({counted(len(run.data.forget), 'fact')})"
            f"{keys}; the first step follows.{when}{pace_warning(run.config)}")


def pace_warning(config) -> str:
    """A sentence when the lr is ten times this method's default or more (the run may wreck other answers), else ""."""
    default = REGISTRY[config.method].shared_defaults.get("lr")
    if not default or config.lr < 10 * default:
        return ""
    return (f" Note: lr {config.lr:g} is {config.lr / default:.0f} times {REGISTRY[config.method].title}'s default "
            f"({default:g}): "
            "expect the model's other answers to suffer (watch neighbours kept and fluency; Reset undoes the run).")


def verdict(run: RunRecord) -> str:
    """One line a room can read: forgotten or not, what remains, how precise, how fluent."""
    last, m = run.last, run.metrics
    if last is None:
        return "Nothing ran."
    left = counted(len(last.remaining), "fact still answered", "facts still answered")
    headline = "Forgotten" if not last.remaining else left
    if last.neighbour_acc is not None and last.neighbour_acc < 0.5:       # a wrecked model is no success
        headline += ", but most neighbours went with it"
    parts = [f"**{headline}** after {counted(last.step, 'step')} ({_seconds(run)})"]
    if last.paraphrase_acc is not None:
        parts.append(f"paraphrases still answered: {last.paraphrase_acc:.0%}")
    if last.neighbour_acc is not None:
        parts.append(f"neighbours kept: {last.neighbour_acc:.0%}")
    if m.get("fluent") is not None:
        parts.append(f"fluent new answers (20 tokens; Compare's verdict depends on its length): {m['fluent']:.0%}")
    if m.get("still_said"):
        verb = "says" if m["still_said"] == 1 else "say"
        lead = ("the forgotten fact still says" if m["forgotten"] == 1
                else f"{m['still_said']} of the {m['forgotten']} forgotten facts still {verb}")
        example = " ".join(str(m["still_said_example"]).split())
        parts.append(f"**but {lead} the answer further on**, e.g. \"{example}\" (see Compare and Is it really gone?)")
    if run.status == "stopped":
        parts.append("stopped by you: the weights reached so far are kept")
    return "; ".join(parts) + "."


def _seconds(run: RunRecord) -> str:
    """'51 s, 19 s of it preparing' (the start record comes once the preparation is over)."""
    first = run.records[0] if run.records else None
    if first is None or first.status != "start":
        return f"{run.seconds:.0f} s"
    return f"{run.seconds:.0f} s, {first.elapsed_s:.0f} s of it preparing"


def stopped_message(visitor) -> str:
    """What Stop says: the step the kept weights come from (the run's own count, as Runs lists it)."""
    run = visitor.run
    if run is None and visitor.edit is None and visitor.runs:     # a run stopped before changing a weight
        run = visitor.runs[-1]
    if run is not None and run.status == "running":
        return f"Stopping run {run.number or len(visitor.runs) + 1} (step {run.steps_done} so far) ..."
    kept = "your weights reached so far are kept; Reset restores the original."
    if run is not None and run.status == "stopped":
        if run.steps_done == 0:
            return f"Stopped run {run.number} while preparing: no weight changed, the original model is in effect."
        return f"Stopped run {run.number} after step {run.steps_done}/{run.config.steps}: {kept}"
    return f"Stopped: {kept}"


def while_running(record) -> str:
    """A step record's message; the last one says the new answers are being read (the run is not over yet)."""
    if record.status != "done":
        return record.message
    return record.message + "; now reading the new answers (fluent? still saying the answer further on?)"


def closing_line(run: RunRecord) -> str:
    """What the verdict does not say: the facts still answered (up to 3), how to undo the run, a pace warning.

    >>> closing_line(run)   # "Still answered: 'The Eiffel Tower is located in the city of'. Done. 'Reset to ..."
    """
    last = run.last
    if last is None:
        return ""
    shown = "; ".join(repr(p) for p in last.remaining[:3]) + (" ..." if len(last.remaining) > 3 else "")
    still = f"Still answered: {shown}. " if last.remaining else ""
    polished = " The steps include the polishing steps." if getattr(run.config.options, "polish_steps", 0) else ""
    return f"{still}Done.{polished} 'Reset to the original model' puts back the original weights.{pace_warning(run.config)}"
