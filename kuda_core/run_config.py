"""The run configuration: one JSON file that the UI saves and `python -m kuda_core` reads.

    >>> cfg = RunConfig.load("run.json")          # validated; ValueError names the bad key / value
    >>> cfg.forget.unlearn_config(layers=(4, 5, 6))   # -> unlearn.UnlearnConfig
    >>> cfg.save("copy.json"); RunConfig.from_dict(cfg.to_dict()) == cfg   # round trip

Schema (every section optional except where a command needs it; unknown keys are errors):
{
  "model": "default",                  # hub id, local folder, .gguf file or "default"
  "device": "auto",                    # auto | cpu | cuda | mps | cuda:1
  "online": false,                     # allow hub downloads (models, WMDP / MMLU / MUSE)
  "probes": {"path": null, "general_texts": null, "holdout_fraction": 0.25, "seed": 0},
  "trace": {"kinds": ["mlp"], "limit": 8, <tracing.TraceConfig fields except kind>},
  "locate": {"layers": null, "window": 3, "exclude_layer0": true, "token": "last"},  # layers given: no tracing
  "forget": {"topics": ["capitals"], <unlearn.UnlearnConfig fields except layers>},
  "evaluate": {"batch_size": 32, "max_new_tokens": 20, "top_k": 5, "answer_sets": null,
               "coherence": {<coherence.CoherenceConfig fields>}, "drift": true,
               "mc": [{"source": "wmdp-bio" | "file.jsonl", "topic": null, "limit": null, "split": "test"}],
               "muse": {"source": "news" | "folder", "auc_retrained": null, <muse.MuseConfig fields>}},
  "export": {"path": "runs/my-run", "overwrite": false, "figures": true}
}
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

TOP_KEYS = ("model", "device", "online", "probes", "trace", "locate", "forget", "evaluate", "export")


def _check_keys(section: str, given: Mapping, allowed) -> None:
    if not isinstance(given, Mapping):
        raise ValueError(f"'{section}' must be a JSON object, got {type(given).__name__}: {given!r:.60}")
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"Unknown key(s) {unknown} in '{section}'; allowed: {sorted(allowed)}")


def _field_names(cls) -> set[str]:
    return {f.name for f in fields(cls)}


@dataclass(frozen=True)
class ProbesSection:
    path: str | None = None             # probe facts JSONL (default assets/probes.jsonl)
    general_texts: str | None = None    # general texts JSONL (default assets/general_texts.jsonl)
    holdout_fraction: float = 0.25      # share of retain facts / texts kept out of training
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"probes.holdout_fraction must be in [0, 1), got {self.holdout_fraction!r}")


@dataclass(frozen=True)
class TraceSection:
    kinds: tuple[str, ...] = ("mlp",)   # any of hidden / mlp / attn; locate needs "mlp"
    limit: int | None = 8               # trace at most this many forget facts
    options: dict = field(default_factory=dict)   # tracing.TraceConfig fields (not "kind")

    def trace_config(self):
        from kuda_core.tracing import TraceConfig

        return TraceConfig(**self.options)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(self.kinds))
        if not self.kinds or any(k not in ("hidden", "mlp", "attn") for k in self.kinds):
            raise ValueError(f"trace.kinds must be a non-empty list of hidden / mlp / attn, got {list(self.kinds)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"trace.limit must be >= 1 or null, got {self.limit!r}")
        if "kind" in self.options:
            raise ValueError("trace.kind is not a setting: list the kinds in trace.kinds")
        self.trace_config()  # validates the options


@dataclass(frozen=True)
class LocateSection:
    layers: tuple[int, ...] | None = None   # explicit layers; None = the best traced window
    window: int = 3                         # consecutive layers in the suggested window
    exclude_layer0: bool = True             # never suggest layer 0 (METHOD.md step 2)
    token: str = "last"                     # score at the "last" or the "strongest" subject token

    def __post_init__(self) -> None:
        if self.token not in ("last", "strongest"):
            raise ValueError(f"locate.token must be 'last' or 'strongest', got {self.token!r}")
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(int(x) for x in self.layers))
            if not self.layers or min(self.layers) < 0:
                raise ValueError(f"locate.layers must be non-negative layer indices, got {list(self.layers)}")
        if self.window < 1:
            raise ValueError(f"locate.window must be >= 1, got {self.window!r}")


@dataclass(frozen=True)
class ForgetSection:
    topics: tuple[str, ...] = ()                 # probe topics to forget
    prompts: tuple[str, ...] = ()                # single probe facts to forget (by prompt)
    facts: tuple[dict, ...] = ()                 # fact rows {prompt, subject, answer[, paraphrases]} to forget
    retain_facts: tuple[dict, ...] | None = None  # retain rows for `facts`; None = the probes not forgotten
    options: dict = field(default_factory=dict)  # unlearn.UnlearnConfig fields (not "layers")

    def unlearn_config(self, layers):
        from kuda_core.unlearn import UnlearnConfig

        return UnlearnConfig(**self.options, layers=tuple(layers))

    def __post_init__(self) -> None:
        topics = [self.topics] if isinstance(self.topics, str) else list(self.topics)
        object.__setattr__(self, "topics", tuple(topics))
        object.__setattr__(self, "prompts", tuple(self.prompts))
        object.__setattr__(self, "facts", tuple(dict(f) for f in self.facts))
        if self.retain_facts is not None:
            object.__setattr__(self, "retain_facts", tuple(dict(f) for f in self.retain_facts))
        if not (self.topics or self.prompts or self.facts):
            raise ValueError("forget needs topics, prompts (probe facts) or facts (rows) to forget")
        if self.facts and (self.topics or self.prompts):
            raise ValueError("forget.facts (own rows) cannot be mixed with probe topics / prompts")
        if "layers" in self.options:
            raise ValueError("forget.layers is not a setting: give layers in locate.layers")
        self.unlearn_config((0,))  # validates the options (layers are checked against the model later)
        self.rowsets()  # validates the rows

    def rowsets(self):
        """(forget RowSet, retain RowSet or None) for `facts`; (None, None) for probe selections."""
        from kuda_core.datasets_io import rows_from_records

        if not self.facts:
            return None, None
        forget = rows_from_records(list(self.facts), "forget.facts")
        retain = rows_from_records(list(self.retain_facts), "forget.retain_facts") if self.retain_facts else None
        return forget, retain


@dataclass(frozen=True)
class EvaluateSection:
    batch_size: int = 32
    max_new_tokens: int = 20
    top_k: int = 5
    answer_sets: tuple[str, ...] | None = None
    coherence: dict = field(default_factory=dict)   # coherence.CoherenceConfig fields
    drift: bool = True                              # per-layer drift, KRD and PCA
    mc: tuple[dict, ...] = ()                       # multiple-choice benchmarks
    muse: dict | None = None                        # MUSE metrics

    def eval_config(self):
        from kuda_core.coherence import CoherenceConfig
        from kuda_core.evaluate import EvalConfig

        return EvalConfig(self.batch_size, self.max_new_tokens, self.top_k, self.answer_sets,
                          CoherenceConfig(**self.coherence))

    def __post_init__(self) -> None:
        object.__setattr__(self, "mc", tuple(dict(m) for m in self.mc))
        if self.answer_sets is not None:
            object.__setattr__(self, "answer_sets", tuple(self.answer_sets))
        from kuda_core.coherence import CoherenceConfig

        _check_keys("evaluate.coherence", self.coherence, _field_names(CoherenceConfig))
        self.eval_config()
        from kuda_core.multiple_choice import MCConfig
        from kuda_core.muse import MuseConfig

        for index, bench in enumerate(self.mc):
            _check_keys(f"evaluate.mc[{index}]", bench, {"source", "topic", "limit", "split", "batch_size"})
            if "source" not in bench:
                raise ValueError(f"evaluate.mc[{index}] needs a 'source' (file or wmdp-bio / mmlu ...)")
            MCConfig(bench.get("topic"), bench.get("batch_size", 8), bench.get("limit"))
        if self.muse is not None:
            _check_keys("evaluate.muse", self.muse, {"source", "auc_retrained"} | _field_names(MuseConfig))
            if "source" not in self.muse:
                raise ValueError("evaluate.muse needs a 'source' (a folder in MUSE's layout, 'news' or 'books')")
            MuseConfig(**{k: v for k, v in self.muse.items() if k not in ("source", "auc_retrained")})


@dataclass(frozen=True)
class ExportSection:
    path: str
    overwrite: bool = False
    figures: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.strip():
            raise ValueError(f"export.path must be a folder path, got {self.path!r}")


@dataclass(frozen=True)
class RunConfig:
    model: str = "default"
    device: str = "auto"
    online: bool = False
    probes: ProbesSection = field(default_factory=ProbesSection)
    trace: TraceSection | None = None
    locate: LocateSection | None = None
    forget: ForgetSection | None = None
    evaluate: EvaluateSection | None = None
    export: ExportSection | None = None

    @classmethod
    def from_dict(cls, data: Mapping) -> "RunConfig":
        """Validate a plain dict (the JSON file's content) into a RunConfig."""
        _check_keys("run configuration", data, TOP_KEYS)
        from kuda_core.tracing import TraceConfig
        from kuda_core.unlearn import UnlearnConfig

        sections = {}
        if "probes" in data:
            _check_keys("probes", data["probes"], _field_names(ProbesSection))
            sections["probes"] = ProbesSection(**data["probes"])
        if data.get("trace") is not None:
            given = dict(data["trace"])
            _check_keys("trace", given, {"kinds", "limit"} | _field_names(TraceConfig))
            sections["trace"] = TraceSection(
                kinds=given.pop("kinds", ("mlp",)), limit=given.pop("limit", 8), options=given)
        if data.get("locate") is not None:
            _check_keys("locate", data["locate"], _field_names(LocateSection))
            sections["locate"] = LocateSection(**data["locate"])
        if data.get("forget") is not None:
            given = dict(data["forget"])
            rows = {"topics", "prompts", "facts", "retain_facts"}
            _check_keys("forget", given, rows | _field_names(UnlearnConfig))
            sections["forget"] = ForgetSection(
                topics=given.pop("topics", ()), prompts=given.pop("prompts", ()), facts=given.pop("facts", ()),
                retain_facts=given.pop("retain_facts", None), options=given)
        if data.get("evaluate") is not None:
            _check_keys("evaluate", data["evaluate"], _field_names(EvaluateSection))
            sections["evaluate"] = EvaluateSection(**data["evaluate"])
        if data.get("export") is not None:
            _check_keys("export", data["export"], _field_names(ExportSection))
            sections["export"] = ExportSection(**data["export"])
        for key in ("model", "device"):
            if key in data and (not isinstance(data[key], str) or not data[key].strip()):
                raise ValueError(f"'{key}' must be a non-empty string, got {data[key]!r}")
        if "online" in data and not isinstance(data["online"], bool):
            raise ValueError(f"'online' must be true or false, got {data['online']!r}")
        top = {k: data[k] for k in ("model", "device", "online") if k in data}
        return cls(**top, **sections)

    def to_dict(self) -> dict:
        """The JSON form (sections that are None are left out; options flattened back)."""
        out: dict = {"model": self.model, "device": self.device, "online": self.online,
                     "probes": asdict(self.probes)}
        if self.trace is not None:
            out["trace"] = {"kinds": list(self.trace.kinds), "limit": self.trace.limit, **self.trace.options}
        if self.locate is not None:
            out["locate"] = {**asdict(self.locate),
                             "layers": list(self.locate.layers) if self.locate.layers is not None else None}
        if self.forget is not None:
            forget = self.forget
            rows = {"topics": list(forget.topics), "prompts": list(forget.prompts), "facts": list(forget.facts)}
            if forget.retain_facts is not None:
                rows["retain_facts"] = list(forget.retain_facts)
            out["forget"] = {**{k: v for k, v in rows.items() if v}, **forget.options}
        if self.evaluate is not None:
            section = asdict(self.evaluate)
            section["mc"] = [dict(m) for m in self.evaluate.mc]
            if self.evaluate.answer_sets is not None:
                section["answer_sets"] = list(self.evaluate.answer_sets)
            out["evaluate"] = section
        if self.export is not None:
            out["export"] = asdict(self.export)
        return out

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
