"""What one visitor of the app has made: their edit, their runs, and results tagged with what they were made on.

    >>> visitor = Visitor()
    >>> visitor.start_edit(host, names, "KUDA on layers 4, 5, 6")  # every Forget run starts from the original
    >>> with host.use(visitor.edit) as lm: ...                        # the visitor's model
    >>> visitor.keep("comparison", table, host)                       # a result, tagged with the model state
    >>> visitor.fresh("comparison", host)                             # the result, or ValueError when stale
    >>> visitor.status(host)                                          # "your edit: ..." for the status line
    >>> visitor.reset()                                               # back to the original model
    >>> visitor.keep_run(run, edit); visitor.apply_run(2, host)       # the history; any run's edit again

Edits of the last MAX_EDITS_IN_MEMORY runs stay in memory; older ones go to the visitor's folder
on disk (safetensors) and come back when applied. `close()` removes that folder.

Nothing here touches another visitor: the base model is shared read-only (workflows.host).
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kuda_core.model.edit import Edit
from kuda_core.workflows.host import ModelHost
from kuda_core.workflows.runs import RunRecord


@dataclass
class Tagged:
    value: object
    state: tuple                 # Visitor.state(host) when the value was computed


MAX_EDITS_IN_MEMORY = 4


@dataclass
class Visitor:
    edit: Edit | None = None                          # the edit in effect; None = the original model
    run: RunRecord | None = None                      # the run that made the edit in effect
    runs: list[RunRecord] = field(default_factory=list)   # every Forget run of this visitor, oldest first
    results: dict[str, Tagged] = field(default_factory=dict)   # "comparison", "evaluation", "trace", ...
    busy: str = ""                                    # the long job running for this visitor, if any
    folder: Path | None = None                        # where older runs' edits are kept (made on first need)
    edits: dict[int, Edit | Path] = field(default_factory=dict)   # run number -> its edit, or the folder it is in
    bundles: set[Path] = field(default_factory=set)   # bundle folders this visitor wrote (the only ones it may replace)

    def state(self, host: ModelHost) -> tuple:
        """What results depend on: the base model's version and the edit (with its progress).

        The edit is named by its serial, never reused for other values (an object id can be, once freed);
        an edit kept on disk and applied again keeps its serial, so results made on it stay fresh."""
        edit = self.edit
        return host.version, edit.serial if edit is not None else None, edit.generation if edit is not None else 0

    def start_edit(self, host: ModelHost, names: list[str], description: str) -> Edit:
        """A new edit from the original model over `names`; it replaces the edit in effect."""
        self.edit = host.new_edit(names)
        self.edit.description = description
        self.run = None
        return self.edit

    def next_run_number(self) -> int:
        """The number the next run gets (1, 2, ...), given while it runs: the tabs name it before it is kept."""
        return max((r.number for r in self.runs), default=0) + 1

    def keep_run(self, run: RunRecord, edit: Edit, disk_root: Path | None = None) -> None:
        """Add a finished (or stopped) run and its edit to the history. A run that changed no weight
        (stopped while preparing, or nothing to forget) keeps no edit: the original model is in effect."""
        run.number = run.number or self.next_run_number()
        self.runs.append(run)
        if not edit.is_modified():
            if self.edit is edit:
                self.reset()
            return
        self.edits[run.number] = edit
        in_memory = [n for n, e in self.edits.items() if isinstance(e, Edit)]
        for number in in_memory[:-MAX_EDITS_IN_MEMORY]:
            self.edits[number] = self.edits[number].save(self.own_folder(disk_root) / f"run-{number}")

    def own_folder(self, root: Path | None = None) -> Path:
        """This visitor's folder on disk (made under `root` on first use; removed by close())."""
        if self.folder is None:
            if root is not None:
                Path(root).mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix="visitor-", dir=root))
        return self.folder

    def scratch(self, name: str, root: Path | None = None) -> Path:
        """A fresh, empty sub-folder `name` of the visitor's folder (the previous one is removed)."""
        folder = self.own_folder(root) / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def run_by_number(self, number: int) -> RunRecord:
        for run in self.runs:
            if run.number == number:
                return run
        raise ValueError(f"There is no run {number}; your runs: {', '.join(str(r.number) for r in self.runs) or 'none yet'}")

    def edit_of(self, number: int) -> Edit:
        edit = self.edits.get(number)
        if edit is None:
            raise ValueError(f"Run {number} changed no weights (stopped before its first step, or nothing to forget): "
                             "the original model is what it left")
        return edit if isinstance(edit, Edit) else Edit.load(edit)

    def apply_run(self, number: int, host: ModelHost) -> RunRecord:
        """Make run `number`'s edit the one in effect."""
        run, edit = self.run_by_number(number), self.edit_of(number)
        host.check(edit)
        self.edit, self.run = edit, run
        return run

    def close(self) -> None:
        """Forget everything kept on disk (called when the browser session ends)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def request_stop(self) -> None:
        """Stop's side in the engine: a run still preparing ends at its next turn (the UI also cancels the
        request; a run already stepping ends after its step)."""
        if self.run is not None and self.run.status == "running":
            self.run.stop_requested = True

    def reset(self) -> None:
        """Back to the original model (the runs stay in the history)."""
        self.edit, self.run = None, None

    def run_in_view(self) -> str:
        """One markdown line for the tabs that inspect a run (Compare, checks, Evaluate): which run they use."""
        if self.run is None:
            return ("**No Forget run in effect: your model is the original.** These results compare the original "
                    "with your unlearned model, so run Forget first (or apply a run on the Runs tab).")
        return f"**Inspecting run {self.run.number}:** {self.run.description()}."

    def is_edited(self, host: ModelHost) -> bool:
        return self.edit is not None and self.edit.base_version == host.version and self.edit.is_modified()

    def keep(self, name: str, value, host: ModelHost) -> None:
        self.results[name] = Tagged(value, self.state(host))

    def fresh(self, name: str, host: ModelHost, what: str = "result"):
        """The kept result `name` if it was made on the model as it is now; ValueError otherwise."""
        tagged = self.results.get(name)
        if tagged is None:
            raise ValueError(f"No {what} yet")
        if tagged.state != self.state(host):
            raise ValueError(f"The {what} was made on another state of your model (it changed since): run it again")
        return tagged.value

    def status(self, host: ModelHost) -> str:
        """One markdown line: which model, and whether (and how) this visitor's copy is edited."""
        if host.lm is None:
            return "No model loaded."
        name = host.lm.name
        if self.edit is not None and self.edit.base_version != host.version:
            return f"**{name}: original weights.** Your earlier edit was made on a model that has since been replaced."
        if self.is_edited(host):
            return (f"**{name}: your edit** ({self.edit.description or 'weights changed'}). Other visitors still see "
                    "the original. Reset (on the Forget tab) restores it for you.")
        return f"**{name}: original weights.**"
