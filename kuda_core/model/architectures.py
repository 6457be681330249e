"""Architecture differences as data: module names per model family.

    >>> spec = spec_for(model)                 # ArchSpec for a GPT-2 or Llama-family model
    >>> spec.mlp_out.format(4)                 # 'model.layers.4.mlp.down_proj'
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ArchSpec:
    family: str                 # "gpt2" or "llama"
    layers: str                 # the ModuleList of blocks
    embed: str                  # token embedding
    block: str                  # one block, "{}" = layer index
    attn: str                   # attention sublayer of a block
    mlp: str                    # MLP sublayer of a block
    mlp_in: tuple[str, ...]     # MLP input projections (key side of the output projection)
    mlp_out: str                # MLP output projection (the edited weight)
    final_norm: str             # norm before the LM head
    lm_head: str                # output embedding
    out_transposed: bool        # True when mlp_out stores its weight as (in, out) (GPT-2 Conv1D)

    def names(self, template: str, n_layers: int) -> list[str]:
        """All module names of one template, e.g. spec.names(spec.mlp, 30)."""
        return [template.format(i) for i in range(n_layers)]


GPT2 = ArchSpec(
    family="gpt2",
    layers="transformer.h",
    embed="transformer.wte",
    block="transformer.h.{}",
    attn="transformer.h.{}.attn",
    mlp="transformer.h.{}.mlp",
    mlp_in=("transformer.h.{}.mlp.c_fc",),
    mlp_out="transformer.h.{}.mlp.c_proj",
    final_norm="transformer.ln_f",
    lm_head="lm_head",
    out_transposed=True,
)

LLAMA = ArchSpec(
    family="llama",
    layers="model.layers",
    embed="model.embed_tokens",
    block="model.layers.{}",
    attn="model.layers.{}.self_attn",
    mlp="model.layers.{}.mlp",
    mlp_in=("model.layers.{}.mlp.gate_proj", "model.layers.{}.mlp.up_proj"),
    mlp_out="model.layers.{}.mlp.down_proj",
    final_norm="model.norm",
    lm_head="lm_head",
    out_transposed=False,
)

# config.model_type -> spec. Mistral/Zephyr and Qwen2/Qwen3 share Llama's module names.
ARCHITECTURES: dict[str, ArchSpec] = {
    "gpt2": GPT2,
    "llama": LLAMA,
    "mistral": LLAMA,
    "qwen2": LLAMA,
    "qwen3": LLAMA,
}


def supported_model_types() -> str:
    return ", ".join(sorted(ARCHITECTURES))


def spec_for_type(model_type: str) -> ArchSpec:
    """ArchSpec for a config.model_type; LookupError naming the supported ones otherwise."""
    try:
        return ARCHITECTURES[model_type]
    except KeyError:
        raise LookupError(
            f"Unsupported architecture {model_type!r}; supported model types: {supported_model_types()}"
        ) from None


def spec_for(model: torch.nn.Module) -> ArchSpec:
    return spec_for_type(getattr(model.config, "model_type", type(model).__name__))


def get_module(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """model.get_submodule with a message that names the missing module."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise LookupError(f"Module {name!r} not found in {type(model).__name__}") from None


def num_layers(model: torch.nn.Module) -> int:
    return len(get_module(model, spec_for(model).layers))


def mlp_out_weight(model: torch.nn.Module, layer: int) -> torch.nn.Parameter:
    """The weight of the MLP output projection of `layer` ((out, in) Linear or (in, out) Conv1D)."""
    return get_module(model, spec_for(model).mlp_out.format(layer)).weight
