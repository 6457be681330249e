"""The run configuration: one JSON file that the UI saves and `kuda` (python -m kuda_core) reads.

    >>> cfg = RunConfig.load("run.json")          # validated; ValueError names the bad key / value
    >>> cfg.forget.unlearn_config(layers=(4, 5, 6))   # -> forget.config.UnlearnConfig
    >>> cfg.save("copy.json"); RunConfig.from_dict(cfg.to_dict()) == cfg   # round trip

Schema (every section optional except where a command needs it; unknown keys are errors):
{
  "model": "default",                  # hub id, local folder, .gguf file or "default"
  "device": "auto",                    # auto | cpu | cuda | mps | cuda:1
  "online": false,                     # allow hub downloads (models, WMDP / MMLU / MUSE)
  "probes": {"path": null, "general_texts": null, "holdout_fraction": 0.25, "seed": 0},
  "trace": {"kinds": ["mlp"], "limit": 8, <locate.config.TraceConfig fields except kind>},
  "locate": {"layers": null, "window": 3, "exclude_layer0": true, "token": "last"},  # layers given: no tracing
  "forget": {"topics": ["capitals"], "prompts": [...], "facts": [{prompt, subject, answer}, ...],
             "retain_facts": [...], "method": "kuda", <UnlearnConfig shared fields except layers>,
             <the method's own options, e.g. "beta" for KUDA>},
  "evaluate": {"batch_size": 32, "max_new_tokens": 20, "top_k": 5, "answer_sets": null,
               "drift": true,
               "mc": [{"source": "wmdp-bio" | "file.jsonl", "topic": null, "limit": null, "split": "test"}],
               "muse": {"source": "news" | "folder", "auc_retrained": null, <MuseConfig fields>}},
  "attacks": {"shots": 3, "question_examples": 2, "seed": 0, "relearn_steps": [10, 30], "relearn_lr": 0.001},
  "export": {"path": "runs/my-run", "overwrite": false, "figures": true}
}
A setting the chosen method does not use (e.g. "retain_kl" for NPO) is an error.
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator, model_validator

from kuda_core.data.rows import rows_from_records
from kuda_core.forget.config import UnlearnConfig
from kuda_core.inspect.attacks.prompts import AttackConfig
from kuda_core.inspect.attacks.relearn import RelearnConfig
from kuda_core.inspect.benchmarks.multiple_choice import MCConfig
from kuda_core.inspect.benchmarks.muse import MuseConfig
from kuda_core.inspect.evaluate import EvalConfig
from kuda_core.locate.config import TraceConfig


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _build(cls, name: str, values: dict):
    """cls(**values), with a TypeError for an unknown field turned into a ValueError naming it."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in {name}; allowed: {sorted(known)}")
    return cls(**values)


class ProbesSection(Section):
    path: str | None = None             # probe facts file (default: the shipped probes)
    general_texts: str | None = None    # general texts file (default: the shipped texts)
    holdout_fraction: float = Field(0.25, ge=0, lt=1)   # share of retain facts / texts kept out of training
    seed: int = 0


class TraceSection(Section):
    """kinds and limit, plus any TraceConfig field (samples, window, noise, ...)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kinds: tuple[Literal["hidden", "mlp", "attn"], ...] = Field(("mlp",), min_length=1)  # locate needs "mlp"
    limit: int | None = Field(8, ge=1)  # trace at most this many forget facts

    @model_validator(mode="after")
    def _options(self):
        if "kind" in (self.model_extra or {}):
            raise ValueError("trace.kind is not a setting: list the kinds in trace.kinds")
        self.trace_config()
        return self

    def trace_config(self) -> TraceConfig:
        return _build(TraceConfig, "trace", dict(self.model_extra or {}))


class LocateSection(Section):
    layers: tuple[int, ...] | None = None   # explicit layers; None = the best traced window
    window: int = Field(3, ge=1)            # consecutive layers in the suggested window
    exclude_layer0: bool = True             # never suggest layer 0 (METHOD.md step 2)
    token: Literal["last", "strongest"] = "strongest"   # score at the last or the strongest subject token

    @field_validator("layers")
    @classmethod
    def _non_negative(cls, layers):
        if layers is not None and (not layers or min(layers) < 0):
            raise ValueError(f"locate.layers must be non-negative layer indices, got {list(layers)}")
        return layers


class ForgetSection(Section):
    """What to forget (probe topics / prompts, or own fact rows) and how (method and settings)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    topics: tuple[str, ...] = ()                  # probe topics to forget
    prompts: tuple[str, ...] = ()                 # single probe facts to forget (by prompt)
    facts: tuple[dict, ...] = ()                  # own fact rows {prompt, subject, answer[, paraphrases]}
    retain_facts: tuple[dict, ...] | None = None  # own retain rows (facts or {text}); None = the probes not forgotten

    @field_validator("topics", mode="before")
    @classmethod
    def _one_topic(cls, value):
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self):
        if not (self.topics or self.prompts or self.facts):
            raise ValueError("forget needs topics, prompts (probe facts) or facts (rows) to forget")
        if self.facts and (self.topics or self.prompts):
            raise ValueError("forget.facts (own rows) cannot be mixed with probe topics / prompts")
        if "layers" in self.settings:
            raise ValueError("forget.layers is not a setting: give layers in locate.layers")
        self.unlearn_config((0,))  # validates method and settings (layers are checked against the model later)
        self.rowsets()
        return self

    @property
    def settings(self) -> dict:
        """The method and its settings (everything but the data keys)."""
        return dict(self.model_extra or {})

    def unlearn_config(self, layers) -> UnlearnConfig:
        settings = self.settings
        return UnlearnConfig.create(settings.pop("method", "kuda"), **settings, layers=tuple(layers))

    def rowsets(self):
        """(forget RowSet, retain RowSet or None) for own rows; (None, None) for probe selections."""
        if not self.facts:
            return None, None
        forget = rows_from_records(list(self.facts), "forget.facts")
        retain = rows_from_records(list(self.retain_facts), "forget.retain_facts") if self.retain_facts else None
        return forget, retain


class MCSpec(Section):
    source: str                         # a local file, or wmdp-bio / wmdp-cyber / mmlu[:subject] (online)
    topic: str | None = None
    limit: int | None = Field(None, ge=1)
    split: str = "test"
    batch_size: int = Field(8, ge=1)

    def mc_config(self) -> MCConfig:
        return MCConfig(self.topic, self.batch_size, self.limit)


class MuseSpec(Section):
    """source and auc_retrained, plus any MuseConfig field."""

    model_config = ConfigDict(extra="allow", frozen=True)
    source: str                         # a folder in MUSE's layout, or news / books (online)
    auc_retrained: float | None = None

    @model_validator(mode="after")
    def _options(self):
        self.muse_config()
        return self

    def muse_config(self) -> MuseConfig:
        return _build(MuseConfig, "evaluate.muse", dict(self.model_extra or {}))


class EvaluateSection(Section):
    batch_size: int = Field(32, ge=1)
    max_new_tokens: int = Field(20, ge=1, le=256)
    top_k: int = Field(5, ge=1)
    answer_sets: tuple[str, ...] | None = None
    drift: bool = True                              # per-layer drift, KRD and PCA
    mc: tuple[MCSpec, ...] = ()                     # multiple-choice benchmarks
    muse: MuseSpec | None = None                    # MUSE metrics

    @model_validator(mode="after")
    def _options(self):
        self.eval_config()
        return self

    def eval_config(self) -> EvalConfig:
        return EvalConfig(batch_size=self.batch_size, max_new_tokens=self.max_new_tokens, top_k=self.top_k,
                          answer_sets=self.answer_sets)


class AttacksSection(Section):
    """Is it really gone? The prompt attacks, the logit lens and relearning on the unlearned model."""

    shots: int = AttackConfig().shots                   # true facts of the relation before the prompt (k-shot)
    question_examples: int = AttackConfig().question_examples   # answered questions before the question
    seed: int = 0                                       # which shots and examples, which half relearns
    relearn_steps: tuple[int, ...] = RelearnConfig().steps   # measure after these fine-tuning steps; [] = none
    relearn_lr: float = RelearnConfig().lr              # (ranges: AttackConfig, RelearnConfig)

    @model_validator(mode="after")
    def _options(self):
        try:
            self.attack_config()
        except ValueError as error:
            raise ValueError(f"shots / question_examples: {error}") from None
        self.relearn_config()
        return self

    @classmethod
    def of(cls, attack: AttackConfig, relearn: RelearnConfig | None) -> "AttacksSection":
        """The section that repeats a check's settings (relearn None: relearning off); one seed for both."""
        steps, lr = (relearn.steps, relearn.lr) if relearn is not None else ((), RelearnConfig().lr)
        return cls(shots=attack.shots, question_examples=attack.question_examples, seed=attack.seed,
                   relearn_steps=steps, relearn_lr=lr)

    def attack_config(self) -> AttackConfig:
        return AttackConfig(shots=self.shots, question_examples=self.question_examples, seed=self.seed)

    def relearn_config(self) -> RelearnConfig | None:
        """None when relearn_steps is empty (relearning skipped)."""
        if not self.relearn_steps:
            return None
        try:
            return RelearnConfig(steps=self.relearn_steps, lr=self.relearn_lr, seed=self.seed)
        except ValueError as error:
            raise ValueError(f"relearn_steps / relearn_lr: {error}") from None


class ExportSection(Section):
    path: str = Field(min_length=1)     # bundle folder
    overwrite: bool = False
    figures: bool = True

    @field_validator("path")
    @classmethod
    def _not_blank(cls, path: str) -> str:
        if not path.strip():
            raise ValueError("export.path must be a folder path")
        return path


class RunConfig(Section):
    model: str = Field("default", min_length=1)
    device: str = Field("auto", min_length=1)
    online: StrictBool = False
    probes: ProbesSection = Field(default_factory=ProbesSection)
    trace: TraceSection | None = None
    locate: LocateSection | None = None
    forget: ForgetSection | None = None
    evaluate: EvaluateSection | None = None
    attacks: AttacksSection | None = None
    export: ExportSection | None = None

    @model_validator(mode="after")
    def _attacks_need_a_run(self):
        if self.attacks is not None and self.forget is None:
            raise ValueError("the attacks need a 'forget' section: they check a model after unlearning")
        return self

    @classmethod
    def from_dict(cls, data) -> "RunConfig":
        """Validate a plain dict (the JSON file's content); ValueError lists every problem by key."""
        if not isinstance(data, dict):
            raise ValueError(f"A run configuration is a JSON object, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise ValueError("Invalid run configuration: " + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'run'}: {e['msg'].removeprefix('Value error, ')}"
                for e in error.errors())) from None

    def to_dict(self) -> dict:
        """The JSON form (sections that are None are left out)."""
        return self.model_dump(mode="json", exclude_none=False, exclude={k for k in
                               ("trace", "locate", "forget", "evaluate", "attacks", "export")
                               if getattr(self, k) is None})

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        file = Path(path).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"No configuration file at {file}")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{file}: invalid JSON ({error.msg}, line {error.lineno})") from error
        return cls.from_dict(data)

    def save(self, path: str | Path) -> Path:
        file = Path(path).expanduser()
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return file
