"""The transfer set distillation learns from (``models.sentiment.distil.transfer_set``)."""

from __future__ import annotations

from models.sentiment.distil import transfer_set

POOL = ["Shares fall", "Profit rises", "shares  FALL", "  ", "Sales flat", "Bank fined",
        "Profit rises", "Oil steady"]


def test_keeps_every_distinct_text_once_and_no_held_out_text() -> None:
    chosen = transfer_set(POOL, held_out=["SALES flat", "Bank  fined"], seed=0)
    assert sorted(chosen) == ["Oil steady", "Profit rises", "Shares fall"]


def test_the_order_is_a_shuffle_fixed_by_the_seed() -> None:
    texts = [f"headline {i}" for i in range(50)]
    first = transfer_set(texts, held_out=[], seed=3)
    assert first == transfer_set(reversed(texts), held_out=[], seed=3)
    assert sorted(first) == sorted(texts) and first != sorted(texts)
    assert transfer_set(texts, held_out=[], seed=4) != first
