"""Business rules on ranked candidates."""

from __future__ import annotations

from domain.ranking import RankingRules, apply_rules

CANDIDATES = [("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.6), ("e", 0.5), ("f", 0.4)]


def test_seen_and_excluded_items_are_dropped_in_order() -> None:
    rules = RankingRules(exclude=frozenset({"c"}))
    assert apply_rules(CANDIDATES, seen={"a"}, k=3, rules=rules) == [
        ("b", 0.8), ("d", 0.6), ("e", 0.5)]


def test_category_cap_limits_each_category() -> None:
    rules = RankingRules(cap_per_category=1,
                         category_of={"a": "mugs", "b": "mugs", "c": "lamps", "d": "mugs"})
    assert [i for i, _ in apply_rules(CANDIDATES, seen=set(), k=4, rules=rules)] == [
        "a", "c", "e", "f"]


def test_fewer_candidates_than_k_returns_what_passes() -> None:
    assert apply_rules(CANDIDATES[:2], seen={"a"}, k=5, rules=RankingRules()) == [("b", 0.8)]
