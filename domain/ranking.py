"""Business rules applied to ranked candidates before they are published.

The hook is one function: given a user's candidates in model order, return at most ``k`` of
them. The built-in rules drop items the user has seen, items on an exclusion list, and cap how
many items of one category a list may hold. To add a rule, extend ``RankingRules`` and
``apply_rules``; the publishing flow calls nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RankingRules:
    """What a published list may contain."""

    exclude: frozenset[str] = field(default_factory=frozenset)  # never recommend these items
    cap_per_category: int | None = None  # at most this many items of one category per list
    category_of: Mapping[str, str] = field(default_factory=dict)  # item id -> its category


def apply_rules(candidates: Sequence[tuple[str, float]], *, seen: set[str], k: int,
                rules: RankingRules) -> list[tuple[str, float]]:
    """The first ``k`` candidates (item id, score) that pass every rule, in model order."""
    kept: list[tuple[str, float]] = []
    per_category: dict[str, int] = {}
    for item, score in candidates:
        if item in seen or item in rules.exclude:
            continue
        if rules.cap_per_category is not None:
            category = rules.category_of.get(item)
            if category is not None:
                if per_category.get(category, 0) >= rules.cap_per_category:
                    continue
                per_category[category] = per_category.get(category, 0) + 1
        kept.append((item, score))
        if len(kept) == k:
            break
    return kept
