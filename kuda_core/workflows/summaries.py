"""What Compare, Evaluate and the CLI show: the answers table and the drift summary of a run.

    >>> rows = compare_prompts(run.data, ["forget facts"], free_text="", limit=8)   # [PromptRow]
    >>> for done, total, table in iter_answers_table(lm, snapshot, rows, CompareConfig()): ...
    >>> answers_table({"forget": comparisons})                 # one row per answer, readable columns
    >>> drift = drift_summary(lm, snapshot, run.data, layers=(4, 5, 6))   # DriftSummary
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kuda_core.data.splits import DataSplit
from kuda_core.forget.replay import strip_article
from kuda_core.inspect.compare import AnswerComparison, CompareConfig, iter_compare_answers
from kuda_core.inspect.drift import PCAView, krd, layer_drift, pca_view
from kuda_core.model.loading import LoadedModel
from kuda_core.model.snapshot import WeightSnapshot

PROMPT_SETS = ("forget facts", "forget paraphrases", "neighbours (held out)", "other facts (held out)", "free text")


@dataclass(frozen=True)
class PromptRow:
    set: str                # one of PROMPT_SETS
    prompt: str
    answer: str | None      # None: the original model's greedy next token is scored


def compare_prompts(data: DataSplit | None, sets: Sequence[str], free_text: str = "", limit: int = 8) -> list[PromptRow]:
    """The prompts of the chosen sets (at most `limit` per set) from a run's data and free text."""
    if limit < 1:
        raise ValueError(f"The limit per set must be at least 1, got {limit}")
    unknown = [s for s in sets if s not in PROMPT_SETS]
    if unknown:
        raise ValueError(f"Unknown prompt set(s) {unknown}; choose from {list(PROMPT_SETS)}")
    rows: list[PromptRow] = []
    for name in sets:
        if name == "free text":
            lines = [line for line in (free_text or "").splitlines() if line.strip()]
            rows += [PromptRow(name, line, None) for line in lines][:limit]
            continue
        if data is None:
            raise ValueError("Run Forget first, or compare free text only")
        if name == "forget facts":
            pairs = [(f.prompt, f.answer) for f in data.forget]
        elif name == "forget paraphrases":
            pairs = [(p, f.answer) for f in data.forget for p in f.paraphrases]
        elif name == "neighbours (held out)":
            pairs = [(f.prompt, f.answer) for f in data.neighbours]
        else:
            pairs = [(f.prompt, f.answer) for f in (data.retain_held or data.retain_used)]
        rows += [PromptRow(name, p, a) for p, a in pairs][:limit]
    if not rows:
        raise ValueError("Choose at least one prompt set (or type free-text prompts)")
    return rows


def iter_answers_table(lm: LoadedModel, snapshot: WeightSnapshot | None, rows: Sequence[PromptRow],
                       config: CompareConfig = CompareConfig(), originals: dict | None = None,
                       ) -> Iterator[tuple[int, int, pd.DataFrame]]:
    """(done, total, table so far) after every batch of config.batch_size prompts (all sets together);
    `originals` caches the original side (inspect.compare.iter_compare_answers)."""
    found: dict[str, list[AnswerComparison]] = {}
    comparisons = iter_compare_answers(lm, snapshot, [r.prompt for r in rows], [r.answer for r in rows], config,
                                       originals)
    for done, (index, comparison) in enumerate(comparisons, start=1):
        found.setdefault(rows[index].set, []).append(comparison)
        if done % config.batch_size == 0 or done == len(rows):
            yield done, len(rows), answers_table(found)


SAME_TEXT = "same text"     # the fluent cell of an answer the edit left word for word as it was


def _fluent_cell(c: AnswerComparison) -> str:
    """yes / no for a new text; an unchanged text is not the edit's doing either way."""
    if c.current_text == c.original_text:
        return SAME_TEXT
    return "yes" if c.fluent else "no"


def answers_table(by_set: Mapping[str, Sequence[AnswerComparison]]) -> pd.DataFrame:
    """One row per answer: set, prompt, answer, original and unlearned text, p and rank, top-5, verdicts."""
    table = [{
        "set": name, "prompt": c.prompt, "answer": c.answer, "original": c.original_text, "unlearned": c.current_text,
        "p before": round(c.original_p, 4), "p after": round(c.current_p, 4),
        "rank before": c.original_rank, "rank after": c.current_rank,
        "top-5 after": ", ".join(f"{t!r} {p:.2f}" for t, p in c.current_top),
        "changed": c.changed, "fluent": _fluent_cell(c),
        "answer in text": "yes" if c.names_answer else "no",
        "ppl (original model)": round(c.perplexity, 1),
    } for name, comparisons in by_set.items() for c in comparisons]
    return pd.DataFrame(table)


def answers_summary(table: pd.DataFrame) -> str:
    """Changed answers (first answer token no longer top-1) and, of the texts the edit changed, the fluent ones
    per prompt set, in one line; for the forget sets also the changed answers whose text still says the answer further on."""
    def line(name: str, rows: pd.DataFrame) -> str:
        new = rows[rows["fluent"] != SAME_TEXT]
        text = f"{name}: {int(rows['changed'].sum())} of {len(rows)} changed, " + (
            f"{int((new['fluent'] == 'yes').sum())} of {len(new)} new texts fluent" if len(new) else "every text as before")
        later = int((rows["changed"] & (rows["answer in text"] == "yes")).sum())
        if name.startswith("forget") and later:
            text += f" (of the changed, {later} still {'says' if later == 1 else 'say'} the answer further on in the text)"
        return text
    return "; ".join(line(name, rows) for name, rows in table.groupby("set", sort=False))


@dataclass(frozen=True)
class DriftSummary:
    layers: np.ndarray                   # (L,) every layer
    cosine: dict[str, np.ndarray]        # "forget" / "retain" -> (L,) mean 1 - cos(h, h0)
    relative_l2: dict[str, np.ndarray]   # the same sets -> (L,) mean |h - h0| / |h0|
    krd: float                           # KRD on the edited layers (subject + last tokens)
    edited: tuple[int, ...]
    pca: PCAView | None                  # last-token states before / after at one layer

    def lines(self) -> list[str]:
        """Readable lines: KRD, then the largest drift per set."""
        out = [f"KRD on the edited layers ({', '.join(map(str, self.edited))}): {self.krd:.3f} (1 - cos of their MLP outputs at the "
               "subject and last tokens of the plain forget prompts: 0 = unchanged, 1 = orthogonal, 2 = opposite; "
               "Forget's curve measures the same on its training batch, context-augmented rows included, so it "
               "can read higher)"]
        for name, curve in self.cosine.items():
            out.append(f"{name}: max 1-cos {curve.max():.4f} (layer {int(curve.argmax())}), "
                       f"max relative L2 {self.relative_l2[name].max():.4f}")
        out.append("The plot and the max lines: 1 - cos of the hidden state (the residual stream) after each layer, "
                   "every token; it moves far less than the MLP outputs, which are one term of its sum")
        return out

    def frame(self) -> pd.DataFrame:
        """Per-layer table: layer, then 1-cos and relative L2 per set."""
        frame = {"layer": self.layers}
        for name in self.cosine:
            frame[f"{name} 1-cos"], frame[f"{name} relative L2"] = self.cosine[name], self.relative_l2[name]
        return pd.DataFrame(frame)


def drift_summary(lm: LoadedModel, snapshot: WeightSnapshot | None, data: DataSplit, layers: Sequence[int],
                  pca_layer: int | None = None) -> DriftSummary:
    """Drift of every layer for forget and (held-out) retain prompts, KRD on the edited layers, PCA view."""
    layers = tuple(layers)
    if pca_layer is None:
        pca_layer = layers[len(layers) // 2]
    if not 0 <= pca_layer < lm.n_layers:
        raise ValueError(f"PCA layer {pca_layer} does not exist: this model has layers 0..{lm.n_layers - 1}")
    forget = [f.prompt for f in data.forget]
    retain = [f.prompt for f in (data.retain_held or data.retain_used)]
    cosine, relative = {}, {}
    for name, prompts in (("forget", forget), ("retain", retain)):
        if prompts:
            result = layer_drift(lm, snapshot, prompts)
            cosine[name], relative[name] = result.cosine, result.relative_l2
    value = krd(lm, snapshot, forget, layers, subjects=[strip_article(f.subject) for f in data.forget])
    view = pca_view(lm, snapshot, forget, retain, pca_layer) if forget and retain else None
    return DriftSummary(np.arange(lm.n_layers), cosine, relative, value, layers, view)
