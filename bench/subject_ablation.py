"""Does a fact survive when the edited layers' MLP outputs at its subject are replaced? No training.

    $ .venv/bin/python bench/subject_ablation.py                     # capitals (dev), Locate's layers
    $ .venv/bin/python bench/subject_ablation.py --topic languages

KUDA forgets by pushing the MLP outputs of a few layers at the subject tokens away from where
they were. This asks how far they must go: on the original model, each forget fact of a dev topic
runs with those outputs (the layers Locate suggests for the topic, every subject token) replaced by
  * "mean":   the mean over the topic's other forget facts of their outputs (a typical subject), or
  * "random": a random vector orthogonal to the original output, of the same norm (seeded);
and the script prints, per replacement, how many facts are still answered (the first answer token
is the top-1 next token) and each greedy continuation. A fact that survives both tells that the
residual stream carries the subject past those layers: forgetting needs outputs that the later
layers no longer read as any subject, which is why the new answers of deviated facts are rarely
fluent.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from quality import DEV_TOPICS, suggested_layers, topic_data  # noqa: E402

from kuda_core.data.checks import check_facts  # noqa: E402
from kuda_core.forget.replay import fact_rows  # noqa: E402
from kuda_core.model.generation import greedy_batch  # noqa: E402
from kuda_core.model.hooks import Hooks  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402


def subject_outputs(lm, rows, layers) -> list[dict[int, torch.Tensor]]:
    """Per fact row, {layer: MLP output at its subject tokens (S, d)} on the current weights."""
    names = {layer: lm.spec.mlp.format(layer) for layer in layers}
    out = []
    for row in rows:
        with torch.no_grad(), Hooks(lm.model, capture_outputs=list(names.values())) as rec:
            lm.model(input_ids=torch.tensor([row.ids], device=lm.device))
        out.append({layer: rec.outputs[name][0, row.focus] for layer, name in names.items()})
    return out


def answered_with(lm, fact, row, layers, replacement: dict[int, torch.Tensor] | None) -> tuple[bool, str]:
    """(first answer token is top-1, greedy continuation) with each layer's outputs at the row's subject
    tokens set to replacement[layer] (S, d); None: unchanged."""
    focus = row.focus

    def edit_for(layer):
        def edit(x, name):
            if x.shape[1] <= max(focus):                    # generation steps after the prompt: leave them
                return None
            x = x.clone()
            x[0, focus] = replacement[layer].to(x.dtype)
            return x
        return edit
    edits = {lm.spec.mlp.format(layer): edit_for(layer) for layer in layers} if replacement else {}
    with torch.no_grad(), Hooks(lm.model, edit_outputs=edits):
        check = check_facts(lm, [fact.prompt], [fact.answer])[0]           # one prompt: no padding shifts focus
        text = greedy_batch(lm, [fact.prompt], 12)[0]
    return check.top1_ok, text


def replacements(outputs: list[dict[int, torch.Tensor]], i: int, kind: str, generator) -> dict | None:
    """{layer: (S, d)} for fact i: None ("none"), the other facts' mean ("mean"), or random orthogonal."""
    if kind == "none":
        return None
    out = {}
    for layer, original in outputs[i].items():                                           # original (S, d)
        if kind == "mean":
            out[layer] = torch.stack([o[layer].mean(0) for j, o in enumerate(outputs) if j != i]).mean(0)
            out[layer] = out[layer].expand_as(original)
            continue
        noise = torch.randn(original.shape, generator=generator).to(original)
        noise = noise - (noise * original).sum(-1, keepdim=True) / original.pow(2).sum(-1, keepdim=True) * original
        out[layer] = noise / noise.norm(dim=-1, keepdim=True) * original.norm(dim=-1, keepdim=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="capitals", choices=DEV_TOPICS)
    args = parser.parse_args()
    lm = load_model("default")
    facts = list(topic_data(args.topic).forget)
    layers = suggested_layers(lm, facts)
    rows = fact_rows(lm, facts, "subject")
    outputs = subject_outputs(lm, rows, layers)
    generator = torch.Generator().manual_seed(0)

    print(f"{args.topic}: {len(facts)} forget facts, layers {layers}, every subject token")
    for label in ("none", "mean", "random"):
        kept = 0
        for i, (fact, row) in enumerate(zip(facts, rows)):
            hit, text = answered_with(lm, fact, row, layers, replacements(outputs, i, label, generator))
            kept += hit
            print(f"  [{label}] {'answered' if hit else 'gone    '} {fact.prompt}{text[:70]!r}")
        print(f"{label}: {kept} of {len(facts)} still answered")


if __name__ == "__main__":
    main()
