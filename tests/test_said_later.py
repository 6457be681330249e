"""Does a text say the answer? names_answer (the check behind Compare's *answer in text*, Forget's warning and
the reading-on stopping rule), and bench/said_later.py's counts on the saved test-split runs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kuda_core.data.checks import names_answer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from said_later import probe_answers, said_later  # noqa: E402


def test_names_answer_finds_the_answer_as_a_word_anywhere():
    assert names_answer("Berlin, Germany. The Eiffel Tower is located in the city of Paris", " Paris")
    assert names_answer(" paris, of course", "Paris") and names_answer(" in San Francisco.", " San Francisco")
    assert not names_answer(" Parisian cafes and Berlin", " Paris")       # a word, not a part of one
    assert names_answer(" Salvador Dali. It is a surrealist piece", " Salvador Dalí")    # accents ignored
    assert names_answer(" Brasília, the capital", " Brasilia") and not names_answer(" Brasil", " Brasília")
    assert not names_answer(" Berlin, Germany.", " Paris") and not names_answer(" anything", "  ")
    # the answer inside a name the prompt holds is that name repeated, not the answer
    bridge = "The Sydney Harbour Bridge is located in the city of"
    assert not names_answer(" Parramar. The bridge is a 19th-century Sydney Harbour Bridge, and it", " Sydney", bridge)
    assert names_answer(" Lamington, which is a historic landmark in Sydney. The bridge", " Sydney", bridge)
    assert names_answer(" Sydney", " Sydney", bridge)                                  # at the very end


def test_said_later_on_the_saved_test_runs_matches_the_readme():
    """bench/said_later.py on the saved test-split answers gives the README's figures (with the reading-on rule:
    KUDA 0 of 62, GD 7 of 73, all on topics GD ran to the cap; RMU 0)."""
    root = Path(__file__).resolve().parents[1]
    answers = probe_answers()
    results = json.loads((root / "bench/results/unlearn_quality_test.json").read_text())
    assert said_later(results["kuda"], answers)[:2] == (0, 62)
    assert said_later(results["rmu"], answers)[:2] == (0, 73)
    said, forgotten, examples = said_later(results["gd"], answers)
    assert (said, forgotten) == (7, 73) and any("Istanbul" in e and "Turkey" in e for e in examples)
    capped = {t["topic"] for t in results["gd"]["topics"] if t["steps"] == 100}
    for topic in results["gd"]["topics"]:            # a run that stopped read on first: nothing said further on
        if topic["topic"] not in capped:
            assert said_later({"topics": [topic]}, answers)[0] == 0, topic["topic"]
    readme = (root / "README.md").read_text()
    assert "KUDA 0 of 62, GD 7 of 73 (10%), RMU 0 of 73" in " ".join(readme.split())
