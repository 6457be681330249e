"""Context augmentation of forget rows (forget.augment): the rows it makes, for a topic and for a lone fact."""
from __future__ import annotations

import pytest

from kuda_core.data.facts import Fact
from kuda_core.forget.config import UnlearnConfig
from tests.forget_setup import TEXTS


def test_augment_takes_a_list_of_kinds():
    assert UnlearnConfig.create("kuda", layers=(1,), augment="prefix").augment == ("prefix",)
    with pytest.raises(ValueError, match=r"augment takes a list of .* got True"):       # run.json's "augment": true
        UnlearnConfig.create("kuda", layers=(1,), augment=True)


def test_augmented_rows_keep_subject_and_answer():
    from kuda_core.forget.augment import augment

    facts = [Fact("The capital of France is", "France", " Paris", relation="capital of"),
             Fact("The capital of Japan is", "Japan", " Tokyo", relation="capital of"),
             Fact("Big Ben is in", "Big Ben", " London", relation="located in city")]
    rows = augment(facts, ("prefix", "kshot", "question"), TEXTS, copies=2, seed=1)
    assert rows == augment(facts, ("prefix", "kshot", "question"), TEXTS, copies=2, seed=1)   # deterministic
    from kuda_core.forget.augment import LONE_KSHOT_COPIES
    # France and Japan have one other fact of their relation: LONE_KSHOT_COPIES k-shot rows each; Big Ben has
    # none and no retained shots: no k-shot rows
    assert len(rows) == 2 * (2 + max(2, LONE_KSHOT_COPIES) + 2) + 2 * 2
    for row in rows:
        assert row.subject in row.prompt and row.prompt != row.subject
        assert (row.subject, row.answer) in {(f.subject, f.answer) for f in facts}
    kshot = [r for r in rows if r.subject == "France" and "Tokyo." in r.prompt]
    assert kshot and kshot[0].prompt.endswith("The capital of France is")
    # forgotten alone, Big Ben takes its k-shot examples from retained facts of its relation, never one
    # that states its own answer
    kept = [Fact("The Louvre is in", "The Louvre", " Paris", relation="located in city"),
            Fact("The Tower of London is in", "The Tower of London", " London", relation="located in city"),
            Fact("The Colosseum is in", "The Colosseum", " Rome", relation="located in city")]
    berlin_and_rome = [Fact("The capital of Germany is", "Germany", " Berlin", relation="capital of"),
                       Fact("The capital of Italy is", "Italy", " Rome", relation="capital of")]
    alone = augment(facts[2:], ("kshot",), TEXTS, copies=3, seed=1, shots=kept)
    assert len(alone) == max(3, LONE_KSHOT_COPIES) and all(r.prompt.endswith("Big Ben is in") for r in alone)
    assert all("Paris." in r.prompt and "Rome." in r.prompt and "London." not in r.prompt for r in alone)
    peru = Fact("The capital of Peru is", "Peru", " Lima", relation="capital of")
    for pair in ([peru, facts[2]], [facts[2], peru]):           # two facts alone in their relations, either order
        rows_of = augment(pair, ("kshot",), TEXTS, copies=1, seed=1, shots=[*kept, *berlin_and_rome])
        assert [r.subject for r in rows_of] == [f.subject for f in pair for _ in range(LONE_KSHOT_COPIES)]
        peru_row = next(r for r in rows_of if r.subject == "Peru")
        assert "Berlin." in peru_row.prompt and "Rome." in peru_row.prompt
    capitals = [*facts[:2], peru]
    berlin = [Fact("The capital of Germany is", "Germany", " Berlin", relation="capital of")]
    assert augment(capitals, ("kshot",), TEXTS, copies=2, seed=1, shots=berlin) == augment(
        capitals, ("kshot",), TEXTS, copies=2, seed=1)     # two forget facts of the relation: no retained shots
    with pytest.raises(ValueError, match="augment"):
        UnlearnConfig(augment=("rhymes",))


def test_a_lone_fact_gets_at_least_lone_kshot_copies(monkeypatch):
    """A fact forgotten with fewer than two others of its relation gets LONE_KSHOT_COPIES k-shot rows (its
    shots drawn from retained facts); facts of a larger forget set keep `copies`."""
    from kuda_core.forget import augment as augment_module

    kept = [Fact(f"The capital of {c} is", c, f" {a}", relation="capital of")
            for c, a in (("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Peru", "Lima"))]
    lone = [Fact("The capital of France is", "France", " Paris", relation="capital of")]
    group = [*lone, Fact("The capital of Japan is", "Japan", " Tokyo", relation="capital of"),
             Fact("The capital of Chile is", "Chile", " Santiago", relation="capital of")]
    monkeypatch.setattr(augment_module, "LONE_KSHOT_COPIES", 3)
    rows = augment_module.augment(lone, ("kshot", "question"), TEXTS, copies=1, seed=0, shots=kept)
    assert [r.prompt.count(".") for r in rows[:3]] == [2, 2, 2] and len(rows) == 4     # 3 k-shot rows, 1 question
    assert len({r.prompt for r in rows[:3]}) > 1                                         # drawn anew each time
    assert len(augment_module.augment(group, ("kshot",), TEXTS, copies=1, seed=0, shots=kept)) == 3


def test_no_context_mentions_the_subject_or_states_a_lone_facts_answer():
    """A typed fact that the probes also hold in another form: no shot repeats it (its subject twice in one
    prompt would make the subject ambiguous, and the shot would state the answer); no prefix names it."""
    from kuda_core.forget.augment import augment
    from kuda_core.model.tokens import find_subject

    typed = Fact("The Mona Lisa was painted by", "the mona lisa", " Leonardo", relation="painter")
    kept = [Fact("The Mona Lisa was painted by", "Mona Lisa", " Leonardo da Vinci", relation="painter"),
            Fact("The Last Supper was painted by", "Last Supper", " Leonardo da Vinci", relation="painter"),
            Fact("The Starry Night was painted by", "Starry Night", " Vincent van Gogh", relation="painter"),
            Fact("Guernica was painted by", "Guernica", " Pablo Picasso", relation="painter")]
    texts = ["The Mona Lisa hangs in the Louvre in Paris today.", "Rain fell all day over the old town."]
    from kuda_core.forget.augment import LONE_KSHOT_COPIES

    rows = augment([typed], ("prefix", "kshot"), texts, copies=4, seed=0, shots=kept)
    assert len(rows) == 4 + max(4, LONE_KSHOT_COPIES)                 # 4 prefixes, the k-shot rows of a lone fact
    for row in rows:
        assert row.prompt.casefold().count("mona lisa") == 1 and "Leonardo" not in row.prompt, row.prompt
        start, _ = find_subject(row.prompt, row.subject)          # unique: the fact's own occurrence
        assert row.prompt[start:].startswith("The Mona Lisa was painted by")
