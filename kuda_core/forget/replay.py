"""Run only the trained layers, from a cached residual stream (the frozen layers below see fixed inputs).

    >>> rows = fact_rows(lm, facts, forget_tokens="subject+last")      # [SeqRow]
    >>> batches = make_batches(rows, batch_size=32, pad_id=0, device=lm.device)
    >>> replay = Replay(lm, first=4, mlp_layers=(4, 5, 6))
    >>> cached = replay.cache(batches[0], key_modules={name: KeyCovariance(d_in)})  # one no-grad pass
    >>> h, v = replay.run(cached, stop=7)            # output of block 6 (B, T, d), {layer: MLP out (B, T, d)}
    >>> h_top, _ = replay.run(cached)                # through the last block
    >>> logits = replay.head(h_top, rows, cols)      # (N, V), only at the positions asked for

The cache holds, per batch, the hidden state entering block `first` and the exact positional /
keyword arguments every block from `first` up received (masks, rotary embeddings), so
replaying blocks gives the same outputs as a full forward pass at a fraction of the cost.
Blocks must return the hidden state (a tensor, or a tuple starting with it), as in transformers 5.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from kuda_core.model.architectures import get_module
from kuda_core.model.hooks import Hooks, first_tensor
from kuda_core.model.loading import LoadedModel
from kuda_core.model.tokens import answer_ids, encode, pad_ids, subject_range

FORGET_TOKEN_MODES = ("subject+last", "subject", "subject_end", "last", "prompt", "all")
ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


@dataclass
class SeqRow:
    ids: list[int]            # prompt ids + answer ids (texts: the text ids)
    answer_pos: int = -1      # index whose logits predict the first answer token (-1: a text)
    answer_len: int = 0       # number of answer tokens scored by NLL losses
    focus: list[int] = field(default_factory=list)  # token indices of the forget loss
    source: int = -1          # index of the fact this row was made from (-1: a text)


@dataclass
class Batch:
    input_ids: torch.Tensor       # (B, T) right-padded
    attention_mask: torch.Tensor  # (B, T) 1 on real tokens
    focus: torch.Tensor           # (B, T) bool, tokens of the forget loss
    label_mask: torch.Tensor      # (B, T) bool, positions whose next token is scored by NLL
    labels: torch.Tensor          # (B, T) next token ids (0 where not scored)
    answer_pos: torch.Tensor      # (B,) -1 for texts
    answer_id: torch.Tensor       # (B,) first answer token (0 for texts)
    source: torch.Tensor          # (B,) index of the fact each row was made from (-1 for texts)

    @property
    def real(self) -> torch.Tensor:
        return self.attention_mask.bool()

    @property
    def is_fact(self) -> torch.Tensor:
        return self.answer_pos >= 0


@dataclass
class Cached:
    batch: Batch
    hidden_in: torch.Tensor                         # (B, T, d) entering block `first`
    block_inputs: dict[int, tuple[tuple, dict]]     # layer -> (extra args, kwargs) of the block call
    v0: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> (B, T, d) original MLP output
    h0: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> (B, T, d) original block output


def strip_article(subject: str) -> str:
    """'the Eiffel Tower' -> 'Eiffel Tower' (a leading article has the same representation everywhere)."""
    stripped = ARTICLE.sub("", subject.strip())
    return stripped or subject


def fact_rows(lm: LoadedModel, facts, forget_tokens: str = "subject+last", max_answer_tokens: int = 8) -> list[SeqRow]:
    """One SeqRow per fact (objects with .prompt, .subject, .answer); focus per `forget_tokens`; source = index."""
    if forget_tokens not in FORGET_TOKEN_MODES:
        raise ValueError(f"Unknown forget_tokens {forget_tokens!r}; choose one of {FORGET_TOKEN_MODES}")
    rows = []
    for index, fact in enumerate(facts):
        prompt_ids = encode(lm.tokenizer, fact.prompt)
        answer = answer_ids(lm.tokenizer, fact.prompt, fact.answer)[:max_answer_tokens]
        if not prompt_ids:
            raise ValueError(f"Empty prompt or answer after tokenization: {fact.prompt!r} -> {fact.answer!r}")
        last = len(prompt_ids) - 1
        if forget_tokens == "all":
            focus = list(range(len(prompt_ids) + len(answer)))
        elif forget_tokens == "prompt":
            focus = list(range(len(prompt_ids)))
        elif forget_tokens == "last":
            focus = [last]
        else:
            start, end = subject_range(lm.tokenizer, fact.prompt, strip_article(fact.subject))
            focus = [end - 1] if forget_tokens == "subject_end" else list(range(start, end))
            focus += [last] if forget_tokens == "subject+last" else []
        rows.append(SeqRow(prompt_ids + answer, last, len(answer), sorted(set(focus)), index))
    return rows


def text_rows(lm: LoadedModel, texts, max_tokens: int = 64) -> list[SeqRow]:
    """One SeqRow per non-empty text, truncated to max_tokens; every token is in focus."""
    rows = []
    for text in texts:
        ids = encode(lm.tokenizer, text)[:max_tokens]
        if len(ids) >= 2:
            rows.append(SeqRow(ids, -1, 0, list(range(len(ids)))))
    return rows


def make_batches(rows: list[SeqRow], batch_size: int, pad_id: int, device: torch.device) -> list[Batch]:
    """Right-padded batches of up to batch_size rows, in the given order."""
    batches = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        ids, attention = pad_ids([r.ids for r in chunk], pad_id)      # (B, T) each
        focus = torch.zeros(ids.shape, dtype=torch.bool)              # (B, T)
        label_mask = torch.zeros(ids.shape, dtype=torch.bool)         # (B, T)
        labels = torch.zeros(ids.shape, dtype=torch.long)             # (B, T) next token at each position
        labels[:, :-1] = ids[:, 1:]
        for j, row in enumerate(chunk):
            n = len(row.ids)
            focus[j, row.focus] = True
            labels[j, n - 1:] = 0
            if row.answer_pos >= 0:
                label_mask[j, row.answer_pos: row.answer_pos + row.answer_len] = True
            else:
                label_mask[j, : n - 1] = True
        answer_pos = torch.tensor([r.answer_pos for r in chunk])      # (B,)
        answer_id = torch.tensor([r.ids[r.answer_pos + 1] if r.answer_pos >= 0 else 0 for r in chunk])  # (B,)
        source = torch.tensor([r.source for r in chunk])                # (B,)
        batches.append(Batch(*(t.to(device) for t in (ids, attention, focus, label_mask, labels, answer_pos, answer_id,
                                                       source))))
    return batches


class _PassThrough(torch.nn.Module):
    """Stands in for a block above the last needed layer during caching: records its call, returns
    the hidden state unchanged (so the cache pass costs only the layers it needs)."""

    def __init__(self, block: torch.nn.Module, record):
        super().__init__()
        self.record = record
        for name in ("attention_type", "layer_idx"):   # read by some models' layer loops
            if hasattr(block, name):
                setattr(self, name, getattr(block, name))

    def forward(self, hidden, *args, **kwargs):
        self.record(args, kwargs)
        return hidden


class Replay:
    """Cache the stream entering block `first`; replay blocks first.. with the recorded arguments."""

    def __init__(self, lm: LoadedModel, first: int, mlp_layers: tuple[int, ...], block_out_layers: tuple[int, ...] = ()):
        self.lm = lm
        self.spec = lm.spec
        self.first = first
        self.mlp_layers = tuple(mlp_layers)
        self.block_out_layers = tuple(block_out_layers)
        self.n_layers = lm.n_layers
        self.layer_list = get_module(lm.model, self.spec.layers)
        self.blocks = [self.layer_list[i] for i in range(self.n_layers)]
        self.final_norm = get_module(lm.model, self.spec.final_norm)
        self.lm_head = get_module(lm.model, self.spec.lm_head)
        self.last_needed = max((*self.mlp_layers, *self.block_out_layers, first))

    @torch.no_grad()
    def cache(self, batch: Batch, key_modules: dict | None = None, key_keep: float = 1.0,
              generator: torch.Generator | None = None) -> Cached:
        """One no-grad pass: stream entering `first`, every block's call arguments, v0 / h0, keys.

        Blocks above the last needed layer are swapped for pass-through stubs during the pass.
        key_modules: module name -> KeyCovariance fed with that module's input on real tokens
        (a random share key_keep of them).
        """
        recorded: dict[int, tuple[tuple, dict]] = {}
        hidden_in: list[torch.Tensor] = []
        real = batch.real
        keep = real
        if key_keep < 1.0:
            draw = torch.rand(real.shape, generator=generator).to(real.device)
            keep = real & (draw < key_keep)

        def recorder(layer):
            def record(args, kwargs):
                recorded[layer] = (tuple(args), dict(kwargs))
            return record

        def pre_hook(layer):
            def hook(module, args, kwargs):
                recorded[layer] = (tuple(args[1:]), dict(kwargs))
                if layer == self.first:
                    hidden_in.append(args[0].detach())
            return hook

        mlp_names = [self.spec.mlp.format(i) for i in self.mlp_layers]
        block_names = [self.spec.block.format(i) for i in self.block_out_layers]
        handles = []
        try:
            for layer in range(self.first, self.last_needed + 1):
                handles.append(self.blocks[layer].register_forward_pre_hook(pre_hook(layer), with_kwargs=True))
            for layer in range(self.last_needed + 1, self.n_layers):
                self.layer_list[layer] = _PassThrough(self.blocks[layer], recorder(layer))
            with Hooks(self.lm.model, capture_outputs=[*mlp_names, *block_names],
                       capture_inputs=list(key_modules or {})) as rec:
                self._forward(batch)
        finally:
            for handle in handles:
                handle.remove()
            for layer in range(self.last_needed + 1, self.n_layers):
                self.layer_list[layer] = self.blocks[layer]
        for name, accumulator in (key_modules or {}).items():
            accumulator.add(rec.inputs[name][keep])                    # (N, d_in)
        return Cached(
            batch=batch,
            hidden_in=hidden_in[0],
            block_inputs=recorded,
            v0={i: rec.outputs[n] for i, n in zip(self.mlp_layers, mlp_names)},
            h0={i: rec.outputs[n] for i, n in zip(self.block_out_layers, block_names)},
        )

    def _forward(self, batch: Batch) -> None:
        kwargs = dict(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
        try:
            self.lm.model(**kwargs, logits_to_keep=1)
        except TypeError:
            self.lm.model(**kwargs)

    def run(self, cached: Cached, stop: int | None = None) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Replay blocks first..stop-1 (default: all): (output of block stop-1 (B, T, d), {layer: MLP out (B, T, d)}).

        Gradients flow when enabled and parameters require them.
        """
        stop = self.n_layers if stop is None else stop
        missing = [i for i in range(self.first, stop) if i not in cached.block_inputs]
        if missing:
            raise LookupError(f"Blocks {missing} were not recorded in this cache")
        names = [self.spec.mlp.format(i) for i in self.mlp_layers if i < stop]
        h = cached.hidden_in
        with Hooks(self.lm.model, capture_outputs=names, keep_grad=True) as rec:
            for layer in range(self.first, stop):
                args, kwargs = cached.block_inputs[layer]
                h = first_tensor(self.blocks[layer](h, *args, **kwargs))   # (B, T, d)
        return h, {i: rec.outputs[self.spec.mlp.format(i)] for i in self.mlp_layers if i < stop}

    def head(self, h_top: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Logits (N, V) at positions (rows[i], cols[i]) of the top hidden state (B, T, d)."""
        return self.lm_head(self.final_norm(h_top)[rows, cols])          # (N, V)


def answer_logprobs(replay: Replay, h_top: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of log p over scored tokens (B,), number of scored tokens (B,)) from the top hidden state."""
    rows, cols = batch.label_mask.nonzero(as_tuple=True)                 # (N,), (N,)
    logits = replay.head(h_top, rows, cols).float()                      # (N, V)
    token_lp = logits.log_softmax(-1).gather(-1, batch.labels[rows, cols][:, None])[:, 0]  # (N,)
    b = batch.input_ids.shape[0]
    seq = torch.zeros(b, device=token_lp.device, dtype=token_lp.dtype).index_add(0, rows, token_lp)  # (B,)
    lengths = batch.label_mask.sum(-1).to(token_lp.dtype)               # (B,)
    return seq, lengths


@torch.no_grad()
def answer_accuracy(replay: Replay, cached: Cached, within: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(hit (F,) bool: the first answer token among the top `within` tokens (1 = top-1),
    p(first answer token) (F,)) for the fact rows of a cached batch."""
    batch = cached.batch
    rows = batch.is_fact.nonzero(as_tuple=True)[0]                       # (F,)
    if rows.numel() == 0:
        empty = torch.zeros(0, device=batch.input_ids.device)
        return empty.bool(), empty
    h_top, _ = replay.run(cached)
    logits = replay.head(h_top, rows, batch.answer_pos[rows]).float()    # (F, V)
    target = batch.answer_id[rows]                                       # (F,)
    ahead = (logits > logits.gather(-1, target[:, None])).sum(-1)       # (F,) tokens scored above the answer
    hit = ahead < within
    prob = logits.softmax(-1).gather(-1, target[:, None])[:, 0]
    return hit, prob
