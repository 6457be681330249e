"""What a headless run can check before its first stage, so a mistake is said at once, not after the work.

    >>> preflight(cfg, "run", stages_for("run", cfg))    # FileNotFoundError / FileExistsError / ValueError

The command's sections must be there, the benchmark files of the evaluate stage are read (they were read only when that stage began, after the
trace, Forget and the checks) and the export folder must be free or overwritable.
"""
from __future__ import annotations

from collections.abc import Sequence

from kuda_core.inspect.benchmarks import make_benchmarks
from kuda_core.report.bundle import writable_target
from kuda_core.run_config import RunConfig


def preflight(cfg: RunConfig, command: str, stages: Sequence) -> None:
    """Check the inputs of `command`'s stages about to run (by their functions' names: evaluate_stage, ...)."""
    if command == "export" and cfg.export is None:
        raise ValueError("The export command needs an 'export' section with a path")
    if command in ("unlearn", "attacks") and cfg.forget is None:
        raise ValueError(f"The {command} command needs a 'forget' section with topics")
    names = {stage.__name__ for stage in stages}
    if "evaluate_stage" in names and cfg.evaluate is not None:
        make_benchmarks([m.model_dump() for m in cfg.evaluate.mc],
                        cfg.evaluate.muse.model_dump() if cfg.evaluate.muse is not None else None)
    if "export_stage" in names and cfg.export is not None:
        writable_target(cfg.export.path, cfg.export.overwrite)
