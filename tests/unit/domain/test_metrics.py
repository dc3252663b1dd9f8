"""Full-ranking metrics on hand-made score matrices with exact expected values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from domain import metrics
from models.recommender.evaluate import evaluate_ranking

NEG = -np.inf


def test_mask_seen_hides_history_and_padding_and_flags_repeat_targets() -> None:
    scores = np.array([[9.0, 1.0, 2.0, 3.0, 4.0],
                       [9.0, 5.0, 6.0, 7.0, 8.0]], dtype=np.float32)
    histories = [np.array([1, 3]), np.array([2, 4])]
    targets = np.array([2, 4])  # user 1's target repeats a history item: masked too
    repeat = metrics.mask_seen(scores, histories, targets)
    assert scores.tolist() == [[NEG, NEG, 2.0, NEG, 4.0], [NEG, 5.0, NEG, 7.0, NEG]]
    assert repeat.tolist() == [False, True]


def test_a_repeat_target_is_a_miss_even_when_the_model_ranks_it_first() -> None:
    def scorer(histories: list[np.ndarray]) -> np.ndarray:
        return np.array([[0.0, 9.0, 1.0, 2.0], [0.0, 1.0, 9.0, 5.0]], dtype=np.float32)

    report = evaluate_ranking(scorer, [np.array([1]), np.array([2])], np.array([1, 3]),
                              n_items=3, k=1)
    assert report.hit_rate == 0.5  # user 0 already has item 1; user 1's item 3 ranks first


def test_target_ranks_count_higher_items_and_ties_of_lower_index() -> None:
    scores = np.array([[NEG, 0.5, 0.9, 0.5, 0.1],
                       [NEG, 0.5, 0.9, 0.5, 0.1]])
    # Target 3 ties with item 1 (lower index, ranked first) and trails item 2: rank 2.
    # Target 1 wins the tie with item 3: rank 1.
    assert metrics.target_ranks(scores, np.array([3, 1])).tolist() == [2, 1]


def test_hit_rate_and_ndcg_exact() -> None:
    ranks = np.array([0, 1, 10, 3])
    assert metrics.hit_rate(ranks, 10) == 0.75
    expected = (1.0 + 1.0 / math.log2(3) + 0.0 + 1.0 / math.log2(5)) / 4
    assert metrics.ndcg(ranks, 10) == pytest.approx(expected, abs=1e-12)
    assert metrics.hit_rate(ranks, 1) == 0.25
    assert metrics.ndcg(ranks, 1) == 0.25


def test_top_k_breaks_ties_by_index_and_skips_masked_items() -> None:
    scores = np.array([[NEG, 0.2, 0.7, 0.2, 0.2, 0.9],
                       [NEG, NEG, NEG, NEG, 0.3, NEG]])
    top = metrics.top_k_items(scores, 3)
    assert top.tolist() == [[5, 2, 1], [4, 0, 0]]


def test_coverage_counts_distinct_listed_items_over_catalogue() -> None:
    top = np.array([[1, 2], [2, 3], [3, 0]])
    assert metrics.coverage(top, n_items=6) == 0.5


def test_evaluate_ranking_masks_seen_items_end_to_end() -> None:
    table = np.array([[0.0, 0.9, 0.8, 0.7, 0.6, 0.5]], dtype=np.float32)  # same for all users

    def scorer(histories: object) -> np.ndarray:
        return np.repeat(table, len(histories), axis=0)  # type: ignore[arg-type]

    histories = [np.array([1, 2]), np.array([5]), np.array([1])]
    targets = np.array([3, 4, 5])
    report = evaluate_ranking(scorer, histories, targets, n_items=5, k=2)
    # Ranks after masking: user 0 -> item 3 first (0); user 1 -> 1, 2, 3 ahead of 4 (3);
    # user 2 -> 2, 3, 4 ahead of 5 (3).
    assert report.hit_rate == pytest.approx(1 / 3)
    assert report.ndcg == pytest.approx(1 / 3)
    # Top-2 lists: [3, 4], [1, 2], [2, 3] -> items {1, 2, 3, 4} of 5.
    assert report.coverage == pytest.approx(0.8)
    assert report.users == 3
