"""Run a model's blocks by hand, half a block at a time, on chosen positions (the fast tracing path).

    >>> runner = Runner(lm)                       # NotImplementedError for blocks it does not know
    >>> geometry = runner.geometry(offset, n, hidden)
    >>> middle = runner.attention(layer, hidden, KV(prefix), geometry)     # (B, n, d) after attention
    >>> out = runner.feed_forward(layer, middle)                          # (B, n, d) block output
"""
from __future__ import annotations

import inspect

import torch

from kuda_core.locate.inputs import answer_probability
from kuda_core.model.architectures import get_module
from kuda_core.model.hooks import first_tensor
from kuda_core.model.loading import LoadedModel

# Pre-norm blocks: out = mid + mlp(norm2(mid)), mid = x + attn(norm1(x)). Attribute names inside one
# block (spec.block), per family; Runner checks the decomposition against the block itself.
_BLOCK_PARTS = {
    "gpt2": ("ln_1", "attn", "ln_2", "mlp"),
    "llama": ("input_layernorm", "self_attn", "post_attention_layernorm", "mlp"),
}


class KV:
    """Duck-typed K/V cache for hand-run attention: prepends a per-layer prefix, optionally records.

    prefix[j] = (keys, values), each (S, H_kv, t, hd), shared by every track; a batch of k tracks
    x S samples (track-major rows) sees it tiled k times.
    """

    def __init__(self, prefix: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None, record: bool = False):
        self.prefix = prefix or {}
        self.recorded: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.record = record

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        if self.record:
            self.recorded[layer_idx] = (key_states, value_states)
        past = self.prefix.get(layer_idx)
        if past is None:
            return key_states, value_states
        keys, values = past
        repeat = key_states.shape[0] // keys.shape[0]
        keys = keys.repeat(repeat, 1, 1, 1)  # (B, H_kv, t, hd)
        values = values.repeat(repeat, 1, 1, 1)
        return torch.cat([keys, key_states], dim=-2), torch.cat([values, value_states], dim=-2)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        past = self.prefix.get(layer_idx)
        return 0 if past is None else past[0].shape[-2]


def _cache_kwarg(module: torch.nn.Module) -> str:
    """Name of the K/V cache argument of an attention module (`cache` in transformers 5)."""
    parameters = inspect.signature(module.forward).parameters
    for name in ("cache", "past_key_values", "past_key_value", "layer_past"):
        if name in parameters:
            return name
    raise NotImplementedError(f"Cannot find the cache argument of {type(module).__name__}.forward")


Patch = tuple[torch.Tensor, torch.Tensor] | None  # (row indices, (d,) value written at position 0)


class Runner:
    """Runs the two halves of each block by hand on (B, n, d) states at positions [offset, offset + n).

    Keys / values of positions < offset come from a KV prefix. Masks are float and additive (eager
    and sdpa attention accept them). NotImplementedError when the model does not fit.
    """

    def __init__(self, lm: LoadedModel):
        model, spec = lm.model, lm.spec
        implementation = getattr(model.config, "_attn_implementation", "eager")
        if implementation not in ("eager", "sdpa"):
            raise NotImplementedError(f"fast tracing supports eager / sdpa attention, not {implementation!r}")
        if spec.family not in _BLOCK_PARTS:
            raise NotImplementedError(f"fast tracing does not know the blocks of the {spec.family!r} family")
        self.lm = lm
        blocks = get_module(model, spec.layers)
        try:
            self.parts = [tuple(getattr(block, name) for name in _BLOCK_PARTS[spec.family]) for block in blocks]
        except AttributeError as error:
            raise NotImplementedError(f"unexpected block layout: {error}") from None
        base = get_module(model, spec.layers.rsplit(".", 1)[0])
        self.rotary = getattr(base, "rotary_emb", None)  # Llama family: one rotary embedding for all layers
        self.final_norm = get_module(model, spec.final_norm)
        self.lm_head = get_module(model, spec.lm_head)
        self.cache_name = _cache_kwarg(self.parts[0][1])
        self._check(blocks[0])

    def _check(self, block: torch.nn.Module) -> None:
        """The hand-run halves must reproduce block 0 on a random input."""
        weight = self.lm.model.get_input_embeddings().weight
        generator = torch.Generator().manual_seed(0)
        hidden = torch.randn((1, 3, weight.shape[1]), generator=generator).to(weight.device, weight.dtype)  # (1, 3, d)
        with torch.inference_mode():
            geometry = self.geometry(0, 3, hidden)
            expected = first_tensor(block(hidden, **{self.cache_name: KV()}, **geometry, use_cache=True))
            got = self.feed_forward(0, self.attention(0, hidden, KV(), geometry))
        if not torch.allclose(expected, got, rtol=1e-4, atol=1e-5):
            raise NotImplementedError("the hand-run block does not match the model's block")

    def geometry(self, offset: int, n: int, like: torch.Tensor) -> dict:
        """Keyword arguments of every attention call for positions [offset, offset + n)."""
        positions = torch.arange(offset, offset + n, device=like.device).unsqueeze(0)  # (1, n)
        keys = torch.arange(offset + n, device=like.device)
        blocked = keys.unsqueeze(0) > positions.squeeze(0).unsqueeze(1)  # (n, offset + n): key after query
        mask = torch.zeros(blocked.shape, dtype=like.dtype, device=like.device)
        mask = mask.masked_fill(blocked, torch.finfo(like.dtype).min)[None, None]  # (1, 1, n, offset + n)
        geometry = {"attention_mask": mask, "position_ids": positions}
        if self.rotary is not None:
            geometry["position_embeddings"] = self.rotary(like, positions)
        return geometry

    def attention(self, layer: int, hidden: torch.Tensor, cache: KV, geometry: dict, patch: Patch = None) -> torch.Tensor:
        """(B, n, d) block input -> (B, n, d) residual after attention; patch sets the attention output."""
        norm, attention, _, _ = self.parts[layer]
        output = first_tensor(attention(norm(hidden), **{self.cache_name: cache}, **geometry))  # (B, n, d)
        if patch is not None:
            output[patch[0], 0] = patch[1]
        return hidden + output

    def feed_forward(self, layer: int, middle: torch.Tensor, patch: Patch = None) -> torch.Tensor:
        """(B, n, d) residual after attention -> (B, n, d) block output; patch sets the MLP output."""
        _, _, norm, mlp = self.parts[layer]
        if patch is None:
            return middle + first_tensor(mlp(norm(middle)))
        # the patched states are overwritten anyway: run the MLP on the other (row, position) pairs only
        keep = torch.ones(middle.shape[:2], dtype=torch.bool, device=middle.device)  # (B, n)
        keep[patch[0], 0] = False
        index = keep.view(-1).nonzero().squeeze(1)  # (N,)
        flat = middle.reshape(-1, middle.shape[-1])  # (B * n, d)
        output = torch.empty_like(flat)
        if len(index):
            output[index] = first_tensor(mlp(norm(flat[index].unsqueeze(0))))[0]  # (N, d)
        output = output.view(middle.shape)
        output[patch[0], 0] = patch[1]
        return middle + output

    def answer_prob(self, last: torch.Tensor, answer_id: int) -> torch.Tensor:
        """(B, d) final residual states -> (B,) p(answer) = exp(z_answer - logsumexp(z)), in float32."""
        return answer_probability(self.lm_head(self.final_norm(last)), answer_id)  # logits (B, V)
