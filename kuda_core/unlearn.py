"""Unlearn facts by deviating their MLP representations (KUDA), as a generator of step records.

    >>> snap = WeightSnapshot()                                   # keeps the originals for Reset
    >>> for record in iter_unlearn(lm, forget, retain, texts, UnlearnConfig(layers=(4, 5, 6)), snap):
    ...     print(record.step, record.loss, record.krd, record.forget_acc)
    >>> reset(lm, snap)                                           # bit-exact original weights

Only the MLP output projections of `layers` train (optionally the input projections). The
stream entering the first trained layer is cached once (the layers below are frozen and see fixed
inputs), together with the original MLP outputs v0, so each step replays only the trained layers
(all layers above the first for output losses: GA, NPO, ...). After every Adam update the step
is projected on the relaxed null space of the retained keys: W <- W_prev + proj(W - W_prev).
Closing the generator (Stop) keeps the weights reached so far; hooks never outlive a forward
pass and requires_grad / train mode are put back as found. A NaN / inf loss or running out of
memory rolls the weights back to the start of the run and ends with a record saying so.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, fields
from typing import Iterator, Sequence

import torch

from kuda_core import baselines
from kuda_core import nullspace as ns
from kuda_core import objectives as obj
from kuda_core.architectures import get_module
from kuda_core.models import LoadedModel
from kuda_core.replay import FORGET_TOKEN_MODES, Replay, answer_accuracy, fact_rows, make_batches, text_rows
from kuda_core.snapshot import WeightSnapshot
from kuda_core.unlearn_steps import StepContext, forget_term, retain_term

METHODS = ("kuda", "ga", "gd", "npo", "simnpo", "rmu")


@dataclass(frozen=True)
class UnlearnConfig:
    method: str = "kuda"                   # kuda | ga | gd | npo | simnpo | rmu (see baselines.py)
    layers: tuple[int, ...] = (4, 5, 6)    # layers whose MLP output projection trains (METHOD notes: 4-6)
    steps: int = 50                        # optimizer steps (bench: 17 facts forgotten between steps 40 and 50)
    lr: float = 1e-3                       # Adam learning rate
    beta: float = 10.0                     # KUDA inverse forgetting temperature β
    margin: float = 0.0                    # KUDA margin m in softplus(β(cos − m))
    forget_form: str = "softplus"          # "softplus" | "cos" | "cos2"
    norm_weight: float = 0.0               # weight of (‖v‖/‖v0‖ − 1)² in the forget loss
    lam: float = 3.0                       # λ, weight of the retain loss (bench: 1 -> 12% incoherent answers, 3 -> 6%)
    retain_kl: float = 0.0                 # weight of KL(original ‖ current) on retain tokens; 0 = off
    tau: float | None = 0.2                # null-space threshold (bench: 99% of key directions free at layer 4); None = off
    tau_mode: str = "relative"             # τ relative to the largest eigenvalue, or "absolute"
    gamma: float = 0.0                     # leak γ: P + γ(I − P); 1 = no protection
    forget_tokens: str = "subject+last"    # subject (no leading article) + last prompt token; see replay.py
    rho: float = 1.0                       # random-ratio sampling: share of forget tokens ~ U[ρ, 1]; 1 = off
    train_inputs: bool = False             # also train the MLP input projections (projected on their own keys)
    retain_batch: int = 32                 # retain sequences per step (cycled)
    forget_batch: int = 64                 # forget facts per step (cycled when more)
    max_text_tokens: int = 64              # general texts are cut to this many tokens
    max_keys: int = 20000                  # cap on retain keys for the covariance (random sample)
    eval_every: int = 0                    # forget + retain accuracy every n steps (always at the start and end); 0 = ends only
    stop_at: float | None = None           # stop once forget accuracy <= this (checked every check_every steps); None = never
    check_every: int = 5                   # steps between the (cheap, forget-only) checks for stop_at
    seed: int = 0                          # sampling, retain order, RMU direction
    npo_beta: float = 0.1                  # NPO β (Zhang et al. 2024)
    simnpo_beta: float = 2.5               # SimNPO β (Fan et al. 2024)
    simnpo_gamma: float = 0.0              # SimNPO margin γ
    retain_nll: bool = False               # GA / NPO / SimNPO: add λ·NLL on retain data (GD always does)
    rmu_coeff: float = 3.0                 # RMU ‖c·u‖ as a multiple of the mean layer-ℓ output norm on forget tokens
    rmu_alpha: float = 100.0               # RMU weight of the retain MSE

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(int(i) for i in self.layers))
        checks = [
            (self.method in METHODS, f"method must be one of {METHODS}, got {self.method!r}"),
            (len(self.layers) > 0 and min(self.layers) >= 0, f"layers must be non-negative and not empty, got {self.layers}"),
            (len(set(self.layers)) == len(self.layers), f"layers must be distinct, got {self.layers}"),
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.beta > 0, f"beta must be > 0, got {self.beta}"),
            (self.forget_form in obj.FORGET_FORMS, f"forget_form must be one of {obj.FORGET_FORMS}, got {self.forget_form!r}"),
            (self.norm_weight >= 0, f"norm_weight must be >= 0, got {self.norm_weight}"),
            (self.lam >= 0, f"lam must be >= 0, got {self.lam}"),
            (self.retain_kl >= 0, f"retain_kl must be >= 0, got {self.retain_kl}"),
            (self.tau is None or self.tau >= 0, f"tau must be >= 0 or None, got {self.tau}"),
            (self.tau_mode in ns.TAU_MODES, f"tau_mode must be one of {ns.TAU_MODES}, got {self.tau_mode!r}"),
            (0.0 <= self.gamma <= 1.0, f"gamma must be in [0, 1], got {self.gamma}"),
            (self.forget_tokens in FORGET_TOKEN_MODES, f"forget_tokens must be one of {FORGET_TOKEN_MODES}, got {self.forget_tokens!r}"),
            (0.0 < self.rho <= 1.0, f"rho must be in (0, 1], got {self.rho}"),
            (self.retain_batch >= 1 and self.forget_batch >= 1, f"batch sizes must be >= 1, got {self.retain_batch}, {self.forget_batch}"),
            (self.max_text_tokens >= 2, f"max_text_tokens must be >= 2, got {self.max_text_tokens}"),
            (self.max_keys >= 1, f"max_keys must be >= 1, got {self.max_keys}"),
            (self.eval_every >= 0, f"eval_every must be >= 0, got {self.eval_every}"),
            (self.stop_at is None or 0.0 <= self.stop_at <= 1.0, f"stop_at must be in [0, 1] or None, got {self.stop_at}"),
            (self.check_every >= 1, f"check_every must be >= 1, got {self.check_every}"),
            (self.npo_beta > 0 and self.simnpo_beta > 0, f"NPO / SimNPO beta must be > 0, got {self.npo_beta}, {self.simnpo_beta}"),
            (self.rmu_coeff > 0 and self.rmu_alpha >= 0, f"rmu_coeff must be > 0 and rmu_alpha >= 0, got {self.rmu_coeff}, {self.rmu_alpha}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def replace(self, **changes) -> "UnlearnConfig":
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"Unknown UnlearnConfig field(s): {sorted(unknown)}")
        return UnlearnConfig(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})


@dataclass(frozen=True)
class StepRecord:
    step: int                      # 0 = before training
    total_steps: int
    loss: float                    # forget + retain terms (NaN at step 0)
    forget_loss: float
    retain_loss: float
    krd: float                     # forget KRD: mean 1 − cos(v, v0) on forget tokens and layers
    retain_drift: float            # the same on the retain batch (0 = untouched)
    grad_cos: float                # cos(projected forget gradient, retain gradient); NaN if undefined
    forget_acc: float | None       # top-1 accuracy on the forget facts (evaluation steps only)
    retain_acc: float | None       # top-1 accuracy on the retain facts used by the run
    forget_prob: float | None      # mean p(first answer token), forget facts
    retain_prob: float | None
    elapsed_s: float               # since the call, setup included
    status: str                    # "start" | "running" | "done" | "error"
    message: str


def trainable_names(lm: LoadedModel, config: UnlearnConfig) -> list[str]:
    """Module names trained by a config: MLP output projections (+ input projections)."""
    names = [lm.spec.mlp_out.format(i) for i in config.layers]
    if config.train_inputs:
        names += [t.format(i) for i in config.layers for t in lm.spec.mlp_in]
    return names


def reset(lm: LoadedModel, snapshot: WeightSnapshot) -> None:
    """Put back the weights saved in `snapshot` (bit-exact)."""
    snapshot.restore(lm.model)


def run_unlearn(lm: LoadedModel, forget_facts, retain_facts, general_texts=(), config: UnlearnConfig = UnlearnConfig(),
                snapshot: WeightSnapshot | None = None) -> list[StepRecord]:
    """Run iter_unlearn to the end and return its records."""
    return list(iter_unlearn(lm, forget_facts, retain_facts, general_texts, config, snapshot))


def iter_unlearn(
    lm: LoadedModel,
    forget_facts: Sequence,
    retain_facts: Sequence = (),
    general_texts: Sequence[str] = (),
    config: UnlearnConfig = UnlearnConfig(),
    snapshot: WeightSnapshot | None = None,
) -> Iterator[StepRecord]:
    """iter_unlearn(lm, forget, retain, texts, config, snapshot) -> StepRecord per step.

    Facts are objects with .prompt, .subject, .answer (kuda_core.probes.Fact). `snapshot`
    (if given) is extended with the trained weights before they change, for a later Reset.
    """
    started = time.perf_counter()
    if not forget_facts:
        raise ValueError("No facts to forget")
    bad = [i for i in config.layers if i >= lm.n_layers]
    if bad:
        raise ValueError(f"Layers {bad} do not exist: this model has {lm.n_layers} layers (0..{lm.n_layers - 1})")
    model = lm.model
    modules = trainable_names(lm, config)
    params = [get_module(model, n).weight for n in modules]
    param_names = [n + ".weight" for n in modules]
    if snapshot is not None:
        snapshot.extend(model, param_names)
    run_start = WeightSnapshot.take(model, param_names)
    found_grad = {n: p.requires_grad for n, p in model.named_parameters()}
    was_training = model.training
    step = 0
    try:
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        ctx = _prepare(lm, forget_facts, retain_facts, general_texts, config, modules, params)
        yield _record(ctx, 0, None, _evaluate(ctx), started, "start",
                      f"Ready: {len(forget_facts)} forget / {len(retain_facts)} retain facts, "
                      f"{len(general_texts)} texts; {ctx.note}")
        for p in params:
            p.requires_grad_(True)
        optimizer = torch.optim.Adam(params, lr=config.lr)
        for step in range(1, config.steps + 1):
            with torch.enable_grad():
                stats = _train_step(ctx, optimizer, params, step)
            if stats is None:
                run_start.restore(model)
                yield _record(ctx, step, None, None, started, "error",
                              f"Loss became NaN / inf at step {step}: weights rolled back to the start of the run. "
                              "Lower lr or beta.")
                return
            check = config.stop_at is not None and step % config.check_every == 0
            evaluation = _evaluate(ctx, retain=False) if check else {}
            forgotten = check and evaluation["forget_acc"] <= config.stop_at
            last = step == config.steps or forgotten
            if last or (config.eval_every and step % config.eval_every == 0):
                evaluation = _evaluate(ctx)
            message = f"Step {step}/{config.steps}"
            if last:
                reason = f"forget accuracy {evaluation['forget_acc']:.0%} <= stop_at, stopped early; " if forgotten else ""
                message += f": {reason}done in {time.perf_counter() - started:.1f} s"
            yield _record(ctx, step, stats, evaluation, started, "done" if last else "running", message)
            if last:
                return
    except torch.OutOfMemoryError:
        run_start.restore(model)
        if lm.device.type == "cuda":
            torch.cuda.empty_cache()
        yield _error_record(config, step, started,
                            f"Out of GPU memory at step {step}: lower retain_batch ({config.retain_batch}), "
                            f"max_text_tokens ({config.max_text_tokens}) or the number of layers; weights rolled back.")
    finally:
        for name, p in model.named_parameters():
            p.grad = None
            p.requires_grad_(found_grad.get(name, True))
        model.train(was_training)


def _prepare(lm, forget_facts, retain_facts, general_texts, config, modules, params) -> StepContext:
    """Tokenize; cache streams, v0 and retain keys in one no-grad pass per batch; build projectors."""
    generator = torch.Generator().manual_seed(config.seed)
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    forget_rows = fact_rows(lm, forget_facts, config.forget_tokens)
    retain_fact_rows = fact_rows(lm, retain_facts, "prompt")
    retain_text_rows = text_rows(lm, general_texts, config.max_text_tokens)
    retain_rows = retain_fact_rows + retain_text_rows
    block_out = (max(config.layers),) if config.method == "rmu" else ()
    if config.retain_kl:
        block_out = (*block_out, lm.n_layers - 1)
    replay = Replay(lm, min(config.layers), tuple(sorted(config.layers)), tuple(dict.fromkeys(block_out)))
    forget = [replay.cache(b) for b in make_batches(forget_rows, config.forget_batch, pad, lm.device)]

    spectra, accumulators = _cached_spectra(lm, config, modules, retain_rows)
    keep = min(1.0, config.max_keys / max(sum(len(r.ids) for r in retain_rows), 1))
    retain_batches = (make_batches(retain_fact_rows, config.retain_batch, pad, lm.device)
                      + make_batches(retain_text_rows, config.retain_batch, pad, lm.device))
    retain = [replay.cache(b, accumulators, keep, generator) for b in retain_batches]

    projectors, note = {}, "no null-space projection"
    for name, (key, spectrum) in spectra.items():
        if spectrum is None:
            acc = accumulators[_key_module(lm, name)]
            spectrum = ns.PROJECTORS.spectrum(key, lambda acc=acc: ns.eigen(acc.covariance(), acc.count))
        projector = ns.low_rank_projector(spectrum, config.tau, config.tau_mode, config.gamma)
        projectors[name] = dataclasses.replace(projector, basis=projector.basis.to(lm.device))
        if name == modules[0]:
            note = (f"null space: {projectors[name].null_fraction:.0%} of key directions free at layer "
                    f"{config.layers[0]} (tau={config.tau:g} {config.tau_mode}, gamma={config.gamma:g}, "
                    f"{spectrum.count} retain keys)")
    transposed = {name: not isinstance(get_module(lm.model, name), torch.nn.Linear) for name in modules}
    ctx = StepContext(lm=lm, config=config, replay=replay, forget=forget, retain=retain,
                      projectors=projectors, transposed=transposed, modules=modules,
                      generator=generator, note=note)
    baselines.prepare(ctx)
    return ctx


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


def _key_module(lm: LoadedModel, name: str) -> str:
    """The module whose input is the key of a trained projection (input projections: the MLP)."""
    layer = _layer_of(lm, name)
    return name if name == lm.spec.mlp_out.format(layer) else lm.spec.mlp.format(layer)


def _key_dim(lm: LoadedModel, name: str) -> int:
    weight = get_module(lm.model, name).weight
    transposed = not isinstance(get_module(lm.model, name), torch.nn.Linear)
    return weight.shape[0] if transposed else weight.shape[1]


def _train_step(ctx: StepContext, optimizer, params, step: int) -> dict | None:
    """One update: separate forget / retain gradients, Adam, projected step. None on NaN / inf."""
    forget_loss, krd_value = forget_term(ctx, ctx.forget[(step - 1) % len(ctx.forget)])
    retain_cached = ctx.next_retain()
    retain_loss, drift = retain_term(ctx, retain_cached)
    total = forget_loss + retain_loss
    if not torch.isfinite(total):
        return None
    g_f = _grads(forget_loss, params)
    g_r = _grads(retain_loss, params)
    grad_cos = _cosine([ctx.project(n, g) for n, g in zip(ctx.modules, g_f)], g_r)
    previous = [p.detach().clone() for p in params]
    for p, a, b in zip(params, g_f, g_r):
        p.grad = a + b
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    with torch.no_grad():
        for name, p, prev in zip(ctx.modules, params, previous):
            if name in ctx.projectors:
                p.copy_(prev + ctx.project(name, p - prev))
    return {"loss": total.item(), "forget_loss": forget_loss.item(), "retain_loss": retain_loss.item(),
            "krd": krd_value, "retain_drift": drift, "grad_cos": grad_cos}


def _grads(loss: torch.Tensor, params) -> list[torch.Tensor]:
    if not loss.requires_grad:
        return [torch.zeros_like(p) for p in params]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def _cosine(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    dot = sum(float((x.float() * y.float()).sum()) for x, y in zip(a, b))
    na = math.sqrt(sum(float(x.float().pow(2).sum()) for x in a))
    nb = math.sqrt(sum(float(y.float().pow(2).sum()) for y in b))
    return dot / (na * nb) if na > 0 and nb > 0 else float("nan")


def _evaluate(ctx: StepContext, retain: bool = True) -> dict:
    """Top-1 accuracy and mean p(answer) on forget (and retain) facts, replayed from the cache."""
    out = {}
    for label, batches in (("forget", ctx.forget), ("retain", ctx.retain if retain else [])):
        hits, probs = [], []
        for cached in batches:
            if bool(cached.batch.is_fact.any()):
                hit, prob = answer_accuracy(ctx.replay, cached)
                hits.append(hit.float().cpu())
                probs.append(prob.float().cpu())
        if hits:
            out[f"{label}_acc"] = float(torch.cat(hits).mean())
            out[f"{label}_prob"] = float(torch.cat(probs).mean())
    return out


def _record(ctx, step, stats, evaluation, started, status, message) -> StepRecord:
    stats = stats or {}
    evaluation = evaluation or {}
    nan = float("nan")
    return StepRecord(
        step=step, total_steps=ctx.config.steps,
        loss=stats.get("loss", nan), forget_loss=stats.get("forget_loss", nan),
        retain_loss=stats.get("retain_loss", nan), krd=stats.get("krd", 0.0 if step == 0 else nan),
        retain_drift=stats.get("retain_drift", 0.0 if step == 0 else nan), grad_cos=stats.get("grad_cos", nan),
        forget_acc=evaluation.get("forget_acc"), retain_acc=evaluation.get("retain_acc"),
        forget_prob=evaluation.get("forget_prob"), retain_prob=evaluation.get("retain_prob"),
        elapsed_s=time.perf_counter() - started, status=status, message=message,
    )


def _error_record(config, step, started, message) -> StepRecord:
    nan = float("nan")
    return StepRecord(step, config.steps, nan, nan, nan, nan, nan, nan, None, None, None, None,
                      time.perf_counter() - started, "error", message)
