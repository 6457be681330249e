"""Logit lens: is the answer still readable from the residual stream after each layer?

    >>> lens = logit_lens(lm, prompts, answers)          # LensResult: ranks / probs (F, L)
    >>> lens.ranks[:, layer]                             # 1 = the answer is the top token there

Each layer's output at the last position goes through the final norm and the unembedding; the
rank of the answer's first token and its probability are read there. After unlearning, a rank that
stays low in the layers above the edited ones means the answer is hidden, not removed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kuda_core.model.architectures import get_module
from kuda_core.model.hooks import Hooks
from kuda_core.model.loading import LoadedModel
from kuda_core.model.logprobs import left_padded
from kuda_core.model.tokens import answer_token_id, encode


@dataclass(frozen=True)
class LensResult:
    ranks: np.ndarray       # (F, L) 1-based rank of the answer's first token decoded after layer l
    probs: np.ndarray       # (F, L) its probability there


@torch.no_grad()
def logit_lens(lm: LoadedModel, prompts: Sequence[str], answers: Sequence[str], batch_size: int = 16) -> LensResult:
    """Rank and probability of each answer decoded after every layer (see the module docstring)."""
    if len(prompts) != len(answers) or not prompts:
        raise ValueError(f"Need as many answers as prompts (and at least one), got {len(prompts)} and {len(answers)}")
    names = [lm.spec.block.format(i) for i in range(lm.n_layers)]
    norm, head = get_module(lm.model, lm.spec.final_norm), get_module(lm.model, lm.spec.lm_head)
    ranks = np.zeros((len(prompts), lm.n_layers), dtype=int)
    probs = np.zeros((len(prompts), lm.n_layers))
    for start in range(0, len(prompts), batch_size):
        part = list(range(start, min(start + batch_size, len(prompts))))
        batch = left_padded(lm, [encode(lm.tokenizer, prompts[i])[-lm.context_length:] for i in part])
        target = torch.tensor([answer_token_id(lm.tokenizer, prompts[i], answers[i]) for i in part])   # (B,)
        with Hooks(lm.model, capture_outputs=names) as rec:
            lm.model(**batch)
        for layer, name in enumerate(names):
            logits = head(norm(rec.outputs[name][:, -1])).float().cpu()              # (B, V)
            chosen = logits.gather(1, target[:, None])                                # (B, 1)
            ranks[part, layer] = ((logits > chosen).sum(1) + 1).numpy()
            probs[part, layer] = logits.softmax(-1).gather(1, target[:, None])[:, 0].numpy()
    return LensResult(ranks, probs)
