"""The CheckList perturbations the robustness bench and the behaviour tests share."""

from __future__ import annotations

import random

from bench.perturbations import add_mention, add_typos, add_url, negate, swap_company


def test_negation_goes_after_the_first_auxiliary_once() -> None:
    rng = random.Random(0)
    assert negate("Sales were up and costs were down", rng) == \
        "Sales were not up and costs were down"
    assert negate("The flight was not great", rng) is None
    assert negate("Profit rose to EUR 5 mn", rng) is None


def test_company_swap_replaces_every_known_name_by_the_next() -> None:
    rng = random.Random(0)
    assert swap_company("Nokia beat Elisa; @United was late", rng) == \
        "Elisa beat Kone; @Delta was late"
    assert swap_company("@VirginAmerica thanks", rng) == "@United thanks"
    assert swap_company("no company here", rng) is None


def test_typos_swap_inner_letters_and_keep_the_words() -> None:
    text = "terrible delay at the gate"
    typo = add_typos(text, random.Random(3))
    assert typo is not None and typo != text
    changed = [(a, b) for a, b in zip(text.split(), typo.split(), strict=True) if a != b]
    assert 1 <= len(changed) <= 2
    assert all(sorted(a) == sorted(b) and a[0] == b[0] and a[-1] == b[-1] for a, b in changed)
    assert add_typos("ok so", random.Random(0)) is None


def test_url_and_mention_wrap_the_text() -> None:
    rng = random.Random(0)
    assert str(add_url("late again", rng)).startswith("late again https://t.co/")
    assert str(add_mention("late again", rng)).endswith(" late again")
