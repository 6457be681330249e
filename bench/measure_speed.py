"""The loop's measures on cut, length-sorted rows vs the padded rows they replaced, side by side.

    $ .venv/bin/python bench/measure_speed.py                          # capitals (dev), layers 4-6, after 30 steps
    $ .venv/bin/python bench/measure_speed.py --topic sports --layers 5,6,7 --steps 20

The unlearning loop measures the forget facts' paraphrases and the neighbours at every check, and the
retain facts at the start and the end. Those rows are only measured, and the measure reads the logits
before the first answer token, so they are now cached cut after that token and sorted by length
(forget.setup.measured_rows); before, they ran with their whole answer, padded to the longest row of
a batch in the order given. This script trains KUDA (frozen settings) for a few steps so that some
answers are gone, builds the run's context again on those weights, and measures each set both ways,
alternately, several times: it prints the seconds of each and their ratio, and checks that every row
gets the same verdict (top-1 hit) both ways. Dev topics only: nothing here is measured on the test split.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from quality import DEV_TOPICS, topic_data  # noqa: E402
from unlearn_quality import frozen_settings  # noqa: E402

from kuda_core.data.facts import Fact  # noqa: E402
from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.forget.loop import iter_unlearn  # noqa: E402
from kuda_core.forget.replay import answer_accuracy, fact_rows, make_batches  # noqa: E402
from kuda_core.forget.setup import build_context, trainable_names  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402
from kuda_core.model.snapshot import WeightSnapshot  # noqa: E402
from kuda_core.model.tokens import pad_id_of  # noqa: E402


def verdicts(ctx, batches) -> tuple[float, dict]:
    """(seconds, {row's token ids: top-1 hit}) over the fact rows of cached batches."""
    started, hits = time.perf_counter(), {}
    for cached in batches:
        hit, _ = answer_accuracy(ctx.replay, cached, 1)                 # (F,) over the batch's fact rows
        rows = cached.batch.is_fact.nonzero(as_tuple=True)[0]
        for row, h in zip(rows.tolist(), hit.tolist()):
            pos = int(cached.batch.answer_pos[row])
            hits[tuple(cached.batch.input_ids[row, :pos + 2].tolist())] = h   # the prompt and first answer token
    return time.perf_counter() - started, hits


def padded_sets(lm, ctx, data, config) -> dict:
    """The measured sets as they were cached before: whole rows, padded, in the order given."""
    pad = pad_id_of(lm.tokenizer)
    paraphrases = [Fact(p, f.subject, f.answer) for f in data.forget for p in f.paraphrases]
    return {"paraphrases": [ctx.replay.cache(b) for b in make_batches(fact_rows(lm, paraphrases, "last"),
                                                                       config.forget_batch, pad, lm.device)],
            "neighbours": [ctx.replay.cache(b) for b in make_batches(fact_rows(lm, list(data.neighbours), "last"),
                                                                      config.forget_batch, pad, lm.device)],
            "retain": [c for c in ctx.retain if bool(c.batch.is_fact.any())]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topic", default="capitals", choices=DEV_TOPICS)
    parser.add_argument("--layers", default="4,5,6")
    parser.add_argument("--steps", type=int, default=30, help="KUDA steps before measuring (some answers gone)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm, data = load_model("default"), topic_data(args.topic)
    layers = tuple(int(x) for x in args.layers.split(","))
    settings = {**frozen_settings().get("kuda", {}), "steps": args.steps, "stop_at": None}
    config = UnlearnConfig.create("kuda", layers=layers, **settings)
    snapshot = WeightSnapshot()
    torch.manual_seed(0)
    list(iter_unlearn(lm, data.forget, data.retain_used, data.texts_used, config, snapshot, data.neighbours))
    try:
        ctx = build_context(lm, data.forget, data.retain_used, data.texts_used, config,
                            trainable_names(lm, config), data.neighbours)
        old = padded_sets(lm, ctx, data, config)
        new = {"paraphrases": ctx.paraphrases, "neighbours": ctx.neighbours, "retain": ctx.retain_measured}
        print(f"{args.topic}, layers {layers}, after {args.steps} KUDA steps; {args.threads} threads")
        print(f"{'set':<12}{'rows':>6}{'padded s':>10}{'cut s':>8}{'ratio':>7}  tokens padded -> cut  same verdicts")
        total_old = total_new = 0.0
        for name in old:
            t_old = t_new = 0.0
            for _ in range(args.repeats):                                  # alternately: the machine's noise hits both
                s_old, h_old = verdicts(ctx, old[name])
                s_new, h_new = verdicts(ctx, new[name])
                t_old, t_new = t_old + s_old, t_new + s_new
            if h_old != h_new:
                raise SystemExit(f"{name}: the verdicts differ on {sum(h_old[k] != h_new.get(k) for k in h_old)} rows")
            tokens = [sum(c.batch.input_ids.numel() for c in sets[name]) for sets in (old, new)]
            total_old, total_new = total_old + t_old, total_new + t_new
            print(f"{name:<12}{len(h_old):>6}{t_old / args.repeats:>10.2f}{t_new / args.repeats:>8.2f}"
                  f"{t_new / t_old:>7.2f}  {tokens[0]:>6} -> {tokens[1]:<6}  yes ({sum(h_old.values())} answered)")
        print(f"all measured sets: cut / padded = {total_new / total_old:.2f}")
    finally:
        snapshot.restore(lm.model)


if __name__ == "__main__":
    main()
