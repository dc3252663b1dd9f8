"""Baselines on a tiny interaction matrix with exact expected scores and rankings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from domain import metrics
from domain.sequences import LeaveOneOutSplit
from models.recommender.baselines import EASE, ItemKNN, MostPop, RecentPop
from models.recommender.evaluate import evaluate_split

# Items 1..4. Item columns: 1 <- users {0, 1}; 2 <- {0, 1, 2}; 3 <- {1, 2}; 4 <- {3}.
TRAIN = [np.array([1, 2]), np.array([1, 2, 3]), np.array([2, 3]), np.array([4])]
N_ITEMS = 4
EMPTY = np.zeros(0, dtype=np.int64)


def _ranking(scores: np.ndarray) -> list[int]:
    scores = scores.astype(np.float64).copy()
    scores[:, 0] = -np.inf
    return metrics.top_k_items(scores, N_ITEMS)[0].tolist()


def test_most_pop_ranks_by_count_ties_by_index() -> None:
    scores = MostPop().fit(TRAIN, N_ITEMS).score([EMPTY, np.array([1])])
    assert scores[0].tolist() == [0.0, 2.0, 3.0, 2.0, 1.0]
    assert np.array_equal(scores[0], scores[1])  # not personalised
    assert _ranking(scores) == [2, 1, 3, 4]


def test_recent_pop_counts_only_the_newest_fraction_of_each_user() -> None:
    # Newest half: [2], [2, 3], [3], [4].
    scores = RecentPop(fraction=0.5).fit(TRAIN, N_ITEMS).score([EMPTY])
    assert scores[0].tolist() == [0.0, 0.0, 2.0, 2.0, 1.0]
    assert _ranking(scores) == [2, 3, 4, 1]


def test_recent_pop_refuses_empty_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        RecentPop(fraction=0.0)


def test_item_knn_cosine_scores_exact() -> None:
    knn = ItemKNN(k=2).fit(TRAIN, N_ITEMS)
    scores = knn.score([np.array([3]), np.array([1, 3])])
    cos12 = 2 / math.sqrt(2 * 3)  # co-occurrence 2, item counts 2 and 3
    np.testing.assert_allclose(scores[0], [0.0, 0.5, cos12, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(scores[1], [0.0, 0.5, 2 * cos12, 0.5, 0.0], rtol=1e-6)
    assert _ranking(scores[:1]) == [2, 1, 3, 4]


def test_item_knn_keeps_k_neighbours_ties_to_lower_index() -> None:
    knn = ItemKNN(k=1).fit(TRAIN, N_ITEMS)
    # Item 2 is equally close to items 1 and 3 and keeps item 1; item 3 keeps only item 2.
    scores = knn.score([np.array([1]), np.array([3])])
    np.testing.assert_allclose(scores[0], [0.0, 0.0, 2 / math.sqrt(6), 0.0, 0.0], rtol=1e-6)
    assert scores[1].tolist() == [0.0] * 5


def test_ease_closed_form_exact() -> None:
    # G + I on items 1..3 is [[3,2,1],[2,4,2],[1,2,3]]; its inverse is [[8,-4,0],[-4,8,-4],
    # [0,-4,8]] / 16, so B_ij = -P_ij / P_jj is 0.5 between neighbours and 0 between 1 and 3.
    ease = EASE(l2=1.0).fit(TRAIN, N_ITEMS)
    expected = np.zeros((5, 5))
    expected[1, 2] = expected[2, 1] = expected[2, 3] = expected[3, 2] = 0.5
    np.testing.assert_allclose(ease.weights, expected, atol=1e-6)
    scores = ease.score([np.array([1]), np.array([4])])
    np.testing.assert_allclose(scores, [[0, 0, 0.5, 0, 0], [0, 0, 0, 0, 0]], atol=1e-6)


def test_baseline_through_the_evaluator_masks_history() -> None:
    split = LeaveOneOutSplit(
        n_items=N_ITEMS, train=TRAIN, users=np.array([0, 3]),
        valid_target=np.array([3, 1]), test_target=np.array([4, 2]),
    )
    report = evaluate_split(MostPop().fit(TRAIN, N_ITEMS).score, split, "valid", k=1)
    # User 0 saw 1 and 2, so 3 is the best remaining item (hit); user 3 gets 2, not 1 (miss).
    assert report.hit_rate == 0.5
    assert report.ndcg == 0.5
    assert report.coverage == 0.5
