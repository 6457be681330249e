"""Everything an unlearning run prepares before its first step, in one no-grad pass per batch.

    >>> modules = trainable_names(lm, config)       # MLP output projections (+ input projections)
    >>> ctx = build_context(lm, forget, retain, texts, config, modules)   # StepContext

Forget facts and retain facts / texts are tokenized and cached (the stream entering the first
trained layer, the original MLP outputs v0, block outputs a method needs); retain keys feed the
key covariance of each trained projection, whose eigendecomposition is cached across runs
(nullspace.PROJECTORS); each trained projection gets its relaxed null-space projector.
"""
from __future__ import annotations

import dataclasses

import torch

from kuda_core.data.facts import Fact
from kuda_core.forget import nullspace as ns
from kuda_core.forget.augment import augment_with_sources
from kuda_core.forget.config import UnlearnConfig
from kuda_core.forget.context import StepContext
from kuda_core.forget.methods import get_method
from kuda_core.forget.replay import Replay, SeqRow, fact_rows, make_batches, text_rows
from kuda_core.model import turns
from kuda_core.model.architectures import get_module
from kuda_core.model.loading import LoadedModel
from kuda_core.model.tokens import pad_id_of

CHECK_BATCH = 16   # augmented rows per measured batch (sorted by length: short rows are not padded to long ones)
MEASURE_BATCH = 64   # rows per batch of the other measured-only rows (sorted by length too)


def trainable_names(lm: LoadedModel, config: UnlearnConfig) -> list[str]:
    """Module names trained by a config: MLP output projections (+ input projections).

    ValueError naming the model's layers when a configured layer does not exist."""
    bad = [i for i in config.layers if i >= lm.n_layers]
    if bad:
        raise ValueError(f"Layers {bad} do not exist: this model has {lm.n_layers} layers (0..{lm.n_layers - 1})")
    names = [lm.spec.mlp_out.format(i) for i in config.layers]
    if config.train_inputs:
        names += [t.format(i) for i in config.layers for t in lm.spec.mlp_in]
    return names


def build_context(lm: LoadedModel, forget_facts, retain_facts, general_texts, config, modules: list[str],
                  neighbours=()) -> StepContext:
    """Tokenize; cache streams, v0 and retain keys in one no-grad pass per batch; build projectors.

    The forget facts' paraphrases and the neighbours are cached too, to be measured (never trained on).
    """
    generator = torch.Generator().manual_seed(config.seed)
    method = get_method(config.method)
    pad = pad_id_of(lm.tokenizer)
    tokens = method.forget_tokens(config.options)
    extra, sources = augment_with_sources(forget_facts, config.augment, general_texts, config.augment_copies,
                                          config.seed, shots=retain_facts)
    forget_rows = fact_rows(lm, forget_facts, tokens)
    train_rows = forget_rows + _from_sources(fact_rows(lm, extra, tokens), sources)
    retain_fact_rows = fact_rows(lm, retain_facts, "prompt")
    retain_text_rows = text_rows(lm, general_texts, config.max_text_tokens)
    retain_rows = retain_fact_rows + retain_text_rows
    block_out = method.block_outputs(config.options, max(config.layers), lm.n_layers)
    replay = Replay(lm, min(config.layers), tuple(sorted(config.layers)), tuple(dict.fromkeys(block_out)))
    originals = _cache_all(replay, make_batches(forget_rows, config.forget_batch, pad, lm.device))
    forget = originals if not extra else _cache_all(replay, make_batches(train_rows, config.forget_batch, pad, lm.device))
    # the longest (k-shot) first: a fact they answer skips its other rows
    by_length = sorted(measured_rows(train_rows[len(forget_rows):]), key=lambda row: len(row.ids), reverse=True)
    augmented = _cache_all(replay, make_batches(by_length, CHECK_BATCH, pad, lm.device))
    paraphrases = [Fact(p, f.subject, f.answer) for f in forget_facts for p in getattr(f, "paraphrases", ())]
    of_fact = [i for i, f in enumerate(forget_facts) for _ in getattr(f, "paraphrases", ())]
    watched = {name: _cache_all(replay, make_batches(sorted(measured_rows(rows), key=lambda row: len(row.ids)),
                                                     MEASURE_BATCH, pad, lm.device))
               for name, rows in (("paraphrases", _from_sources(fact_rows(lm, paraphrases, "last"), of_fact)),
                                  ("neighbours", fact_rows(lm, list(neighbours), "last")),
                                  ("retain_measured", retain_fact_rows))}

    spectra, accumulators = _cached_spectra(lm, config, modules, retain_rows)
    keep = min(1.0, config.max_keys / max(sum(len(r.ids) for r in retain_rows), 1))
    retain_batches = (make_batches(retain_fact_rows, config.retain_batch, pad, lm.device)
                      + make_batches(retain_text_rows, config.retain_batch, pad, lm.device))
    retain = _cache_all(replay, retain_batches, accumulators, keep, generator)

    projectors, note = {}, "no null-space projection"
    for name, (key, spectrum) in spectra.items():
        if spectrum is None:
            turns.give_turn()
            acc = accumulators[_key_module(lm, name)]
            spectrum = ns.PROJECTORS.spectrum(key, lambda acc=acc: ns.eigen(acc.covariance(), acc.count))
        projector = ns.low_rank_projector(spectrum, config.tau, config.tau_mode, config.gamma)
        projectors[name] = dataclasses.replace(projector, basis=projector.basis.to(lm.device))
        if name == modules[0]:
            note = _null_space_note(projectors[name], config, spectrum.count)
    transposed = {name: not isinstance(get_module(lm.model, name), torch.nn.Linear) for name in modules}
    ctx = StepContext(lm=lm, config=config, replay=replay, forget=forget, originals=originals, retain=retain,
                      projectors=projectors, transposed=transposed, modules=modules,
                      generator=generator, forget_prompts=[f.prompt for f in forget_facts],
                      forget_answers=[f.answer for f in forget_facts], note=note,
                      train_rows=train_rows if extra else forget_rows, augmented=augmented, **watched)
    method.prepare(ctx)
    return ctx


def measured_rows(rows: list[SeqRow]) -> list[SeqRow]:
    """Fact rows that are only measured (replay.answer_accuracy reads the logits before the first answer
    token), each cut after that token: a position depends only on the tokens up to it (causal attention),
    so the accuracy is the same on fewer tokens. Sort them by length before batching: little padding."""
    return [SeqRow(row.ids[:row.answer_pos + 2], row.answer_pos, 1, [i for i in row.focus if i <= row.answer_pos + 1],
                   row.source) for row in rows if row.answer_pos >= 0]


def _from_sources(rows: list, sources: list[int]) -> list:
    """Rows made from forget facts, each told the index of its fact (row.source)."""
    for row, source in zip(rows, sources, strict=True):
        row.source = source
    return rows


def _cache_all(replay: Replay, batches, *args) -> list:
    """replay.cache of every batch, letting other jobs on a shared model go first between batches."""
    out = []
    for batch in batches:
        turns.give_turn()
        out.append(replay.cache(batch, *args))
    return out


def _cached_spectra(lm, config, modules, retain_rows) -> tuple[dict, dict[str, ns.KeyCovariance]]:
    """{module: (cache key, cached Spectrum or None)} and key accumulators for the uncached ones.

    The cache key names the model, the key module, the retain data and the current weights of
    the blocks up to that layer (an earlier edit changes the keys).
    """
    spectra: dict[str, tuple] = {}
    accumulators: dict[str, ns.KeyCovariance] = {}
    if config.tau is None or not retain_rows:
        return spectra, accumulators
    rows_hash = ns.data_hash([r.ids for r in retain_rows] + [[config.max_keys, config.seed]])
    per_layer: dict[int, list[torch.Tensor]] = {}
    for n, p in lm.model.named_parameters():
        if _layer_of(lm, n) is not None:
            per_layer.setdefault(_layer_of(lm, n), []).append(p)
    prints = {layer: ns.weights_fingerprint(ps) for layer, ps in per_layer.items() if layer <= max(config.layers)}
    for name in modules:
        layer, key_module = _layer_of(lm, name), _key_module(lm, name)
        key = (lm.name, key_module, rows_hash, "".join(prints[i] for i in sorted(prints) if i <= layer))
        cached = ns.PROJECTORS.spectrum(key, lambda: None) if ns.PROJECTORS.has_spectrum(key) else None
        spectra[name] = (key, cached)
        if cached is None:
            accumulators.setdefault(key_module, ns.KeyCovariance(_key_dim(lm, name)))
    return spectra, accumulators


def _layer_of(lm: LoadedModel, name: str) -> int | None:
    prefix = lm.spec.layers + "."
    if not name.startswith(prefix):
        return None
    return int(name[len(prefix):].split(".")[0])


def _null_space_note(projector: ns.Projector, config, keys: int) -> str:
    """The setup line on the first edited layer's null space; it says so when the projection protects almost
    nothing (a few directions hold nearly all of the retained keys' variance, so a tau relative to the largest
    eigenvalue leaves the rest free)."""
    dim = projector.basis.shape[0]
    protected = round((1.0 - projector.null_fraction) * dim)
    note = (f"null space: {projector.null_fraction:.0%} of key directions free at layer {config.layers[0]} "
            f"(tau={config.tau:g} {config.tau_mode}, gamma={config.gamma:g}, {keys} retain keys)")
    if protected < 0.01 * dim:
        note += (f"; only {protected} of {dim} directions are protected there: the retained keys' variance sits "
                 "in a few directions, so the projection barely restrains this edit")
    elif dim - protected < 0.01 * dim:
        note += (f"; only {dim - protected} of {dim} directions are free there, so the projection blocks nearly "
                 f"every change: raise tau (it is {_TAU_MEANS[config.tau_mode]})")
    return note


_TAU_MEANS = {"relative": "a share of the largest eigenvalue", "median": "a multiple of the median eigenvalue",
              "absolute": "an eigenvalue"}


def _key_module(lm: LoadedModel, name: str) -> str:
    """The module whose input is the key of a trained projection (input projections: the MLP)."""
    layer = _layer_of(lm, name)
    return name if name == lm.spec.mlp_out.format(layer) else lm.spec.mlp.format(layer)


def _key_dim(lm: LoadedModel, name: str) -> int:
    weight = get_module(lm.model, name).weight
    transposed = not isinstance(get_module(lm.model, name), torch.nn.Linear)
    return weight.shape[0] if transposed else weight.shape[1]
