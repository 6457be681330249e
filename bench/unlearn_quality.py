"""Forget one topic of the built-in probes with KUDA and each baseline; print one comparison table.

    .venv/bin/python bench/unlearn_quality.py                       # landmarks, all methods
    .venv/bin/python bench/unlearn_quality.py --topic capitals --methods kuda,rmu --steps 40

Honest split (METHOD.md "Measuring honestly"): facts of the topic that the model knows are
forgotten; the known facts of other topics are split into retain facts used by the loss and
held-out ones used only here; general texts likewise (perplexity on the held-out ones). Every
method gets the same data, layers and step budget. Coherence: the greedy 20-token answer to each
forget prompt is scored by the ORIGINAL model (snapshot swapped in); coherent = perplexity
(first answer token left out) <= 50 and word-bigram repetition <= 0.3 (kuda_core.inspect.coherence).
Writes the table to bench/results/unlearn_quality.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from kuda_core.forget.config import UnlearnConfig  # noqa: E402
from kuda_core.inspect.coherence import CoherenceConfig, check_coherence  # noqa: E402
from kuda_core.model.generation import greedy_continuation  # noqa: E402
from kuda_core.model.logprobs import perplexity_of  # noqa: E402
from kuda_core.model.loading import load_model  # noqa: E402
from kuda_core.data.checks import check_facts  # noqa: E402
from kuda_core.data.probes import load_general_texts, load_probes, split_by_topic  # noqa: E402
from kuda_core.data.splits import holdout_split  # noqa: E402
from kuda_core.model.snapshot import WeightSnapshot, state_dict_hash  # noqa: E402
from kuda_core.forget.loop import iter_unlearn, reset  # noqa: E402

METHODS = ["kuda", "ga", "gd", "npo", "simnpo", "rmu"]
TARGETS = "KUDA targets: forget <= 10% (prompts), <= 20% (paraphrases); retain >= 90% of original; perplexity +<= 10%; coherent >= 80%; <= 120 s"


class PeakMemory:
    """Peak resident memory (CPU, sampled every 20 ms) or peak CUDA allocation above the start, in MB."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def __enter__(self):
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
            return self
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        if self.cuda:
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, _rss())
        self.mb = (self.peak - self.start) / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def accuracy(lm, prompts, answers) -> float:
    return sum(c.top1_ok for c in check_facts(lm, prompts, answers)) / max(len(prompts), 1)


def measure(lm, data, snapshot, coherence: CoherenceConfig) -> dict:
    """Forget / paraphrase / retain accuracy, held-out perplexity, coherence of forget answers."""
    forget, paraphrases, used, held, texts = (data[k] for k in ("forget", "paraphrases", "retain_used", "retain_held", "texts_held"))
    answers = [greedy_continuation(lm, f.prompt, 20) for f in forget]
    checks = check_coherence(lm, [f.prompt for f in forget], answers, snapshot=snapshot, config=coherence)
    return {
        "forget": accuracy(lm, [f.prompt for f in forget], [f.answer for f in forget]),
        "paraphrase": accuracy(lm, [p for p, _ in paraphrases], [a for _, a in paraphrases]),
        "retain_held": accuracy(lm, [f.prompt for f in held], [f.answer for f in held]),
        "retain_used": accuracy(lm, [f.prompt for f in used], [f.answer for f in used]),
        "ppl": perplexity_of(lm, texts),
        "coherent": sum(c.coherent for c in checks) / len(checks),
        "answer_ppl": sorted(c.perplexity for c in checks)[len(checks) // 2],
        "repetition": sum(c.repetition for c in checks) / len(checks),
        "answers": answers,
    }


def prepare_data(lm, topic: str, holdout: float, seed: int) -> dict:
    """Known facts only: forget = the topic, retain = the rest split used / held-out."""
    facts = load_probes()
    known = [f for f, c in zip(facts, check_facts(lm, [f.prompt for f in facts], [f.answer for f in facts])) if c.top1_ok]
    forget, retain = split_by_topic(known, [topic])
    if len(forget) < 10:
        raise SystemExit(f"Only {len(forget)} facts of topic {topic!r} are known to the model; pick another topic")
    pairs = [(p, f.answer) for f in forget for p in f.paraphrases]
    known_pairs = [pair for pair, c in zip(pairs, check_facts(lm, [p for p, _ in pairs], [a for _, a in pairs])) if c.top1_ok]
    used, held = holdout_split(retain, holdout, seed)
    texts_used, texts_held = holdout_split(load_general_texts(), holdout, seed)
    return {"forget": forget, "paraphrases": known_pairs, "retain_used": used, "retain_held": held,
            "texts_used": texts_used, "texts_held": texts_held, "n_facts": len(facts), "n_pairs": len(pairs)}


def fmt_row(name, m, base, steps, seconds, mb) -> str:
    retain_ratio = m["retain_held"] / base["retain_held"] if base["retain_held"] else float("nan")
    ppl_change = 100 * (m["ppl"] / base["ppl"] - 1)
    return (f"| {name} | {100 * m['forget']:.0f}% | {100 * m['paraphrase']:.0f}% | {100 * m['retain_held']:.0f}% "
            f"({100 * retain_ratio:.0f}%) | {100 * m['retain_used']:.0f}% | {m['ppl']:.2f} ({ppl_change:+.1f}%) | "
            f"{100 * m['coherent']:.0f}% | {m['answer_ppl']:.1f} | {m['repetition']:.2f} | {steps} | {seconds} | {mb} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topic", default="landmarks")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--steps", type=int, default=None, help="same step budget for every method (default: KUDA's)")
    parser.add_argument("--holdout", type=float, default=0.3, help="share of retain facts / texts held out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a shared CPU)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "unlearn_quality.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model("default")
    coherence = CoherenceConfig()
    data = prepare_data(lm, args.topic, args.holdout, args.seed)
    original_hash = state_dict_hash(lm.model)
    base = measure(lm, data, None, coherence)
    steps = args.steps or UnlearnConfig.create("kuda").steps
    header = ("| method | forget acc (prompts) | forget acc (paraphrases) | retain acc held-out (of original) | "
              "retain acc used | perplexity held-out (change) | coherent forget answers | median answer ppl | "
              "repetition | steps | wall s | peak MB |\n|" + "---|" * 12)
    rows = [fmt_row("original", base, base, 0, "-", "-")]
    examples = {"original": base["answers"]}
    configs, results = {}, {}
    print(header + "\n" + rows[0], flush=True)
    for method in args.methods.split(","):
        config = UnlearnConfig.create(method, steps=steps, eval_every=0, stop_at=None)   # same fixed budget
        configs[method] = config
        snapshot = WeightSnapshot()
        started = time.perf_counter()
        with PeakMemory(lm.device) as memory:
            records = list(iter_unlearn(lm, data["forget"], data["retain_used"], data["texts_used"], config, snapshot))
        seconds = time.perf_counter() - started
        if records[-1].status == "error":
            print(f"| {method} | {records[-1].message} |", flush=True)
            reset(lm, snapshot)
            continue
        result = measure(lm, data, snapshot, coherence)
        result["seconds"] = seconds
        results[method] = result
        examples[method] = result["answers"]
        rows.append(fmt_row(method, result, base, records[-1].step, f"{seconds:.1f}", f"{memory.mb:.0f}"))
        print(rows[-1], flush=True)
        reset(lm, snapshot)
        assert state_dict_hash(lm.model) == original_hash, "reset was not bit-exact"
    verdict = target_check(results, base)
    print("\n".join(verdict))
    write_report(args, lm, data, header, rows, examples, configs, coherence, verdict)


def target_check(results: dict, base: dict) -> list[str]:
    """One line per KUDA target (met / missed), and whether a baseline beats KUDA on every column."""
    if "kuda" not in results:
        return []
    k = results["kuda"]
    checks = [
        ("forget accuracy (prompts) <= 10%", k["forget"] <= 0.10),
        ("forget accuracy (paraphrases) <= 20%", k["paraphrase"] <= 0.20),
        ("held-out retain >= 90% of original", k["retain_held"] >= 0.9 * base["retain_held"]),
        ("held-out perplexity up <= 10%", k["ppl"] <= 1.10 * base["ppl"]),
        ("coherent answers >= 80%", k["coherent"] >= 0.80),
        ("wall time <= 120 s", k["seconds"] <= 120),
    ]
    lines = [f"- {'met' if ok else 'MISSED'}: {name}" for name, ok in checks]
    for method, r in results.items():
        if method == "kuda":
            continue
        better = better_quality(r, k) and r["seconds"] <= k["seconds"]
        if better:
            lines.append(f"- MISSED: {method} is at least as good as KUDA on every column")
        elif better_quality(r, k):
            lines.append(f"- note: {method} is at least as good as KUDA on every quality column; only wall time separates them")
    if not any(line.startswith("- MISSED: ") and "every column" in line for line in lines):
        lines.append("- met: no baseline is at least as good as KUDA on every column")
    return lines


def better_quality(r: dict, k: dict) -> bool:
    """r at least as good as k on forget, paraphrase, held-out retain, perplexity and coherence."""
    return (r["forget"] <= k["forget"] and r["paraphrase"] <= k["paraphrase"] and r["retain_held"] >= k["retain_held"]
            and r["ppl"] <= k["ppl"] and r["coherent"] >= k["coherent"])


def write_report(args, lm, data, header, rows, examples, configs, coherence, verdict) -> None:
    lines = [
        f"# Unlearning quality: forget topic '{args.topic}' on {lm.name} ({lm.device}, {args.threads} thread(s))",
        "",
        f"Forget: {len(data['forget'])} known facts of the topic; paraphrases: {len(data['paraphrases'])} of "
        f"{data['n_pairs']} known to the original model. Retain: {len(data['retain_used'])} facts used by the loss, "
        f"{len(data['retain_held'])} held out. General texts: {len(data['texts_used'])} used, {len(data['texts_held'])} held out "
        f"(perplexity). Accuracy = greedy top-1 of the answer's first token.",
        f"Coherent: perplexity of the 20-token greedy answer under the original model (first token left out) "
        f"<= {coherence.max_perplexity:g} and word-bigram repetition <= {coherence.max_repetition:g}.",
        TARGETS + ".",
        "",
        header,
        *rows,
        "",
        "## KUDA targets",
        "",
        *verdict,
        "",
        "## Configurations",
        "",
    ]
    for method, config in configs.items():
        changed = {k: v for k, v in vars(config).items() if v != getattr(type(config)(), k, None) or k in ("layers", "lr", "steps")}
        lines.append(f"- {method}: {changed}")
    lines += ["", "## Answers to the first forget prompts (verbatim)", ""]
    for i, fact in enumerate(data["forget"][:4]):
        lines.append(f"**{fact.prompt!r}** (answer {fact.answer!r})")
        lines.append("")
        for method, answers in examples.items():
            lines.append(f"- {method}: {answers[i]!r}")
        lines.append("")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"\nWrote {out}")


if __name__ == "__main__":
    main()
