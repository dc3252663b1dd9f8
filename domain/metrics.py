"""Full-ranking metrics of next-item recommendation: HR@K, NDCG@K and catalogue coverage@K.

Every item of the catalogue is ranked (no sampled negatives: Krichene & Rendle, "On Sampled
Metrics for Item Recommendation", KDD 2020). Items the user has already interacted with are
removed from the ranking, except the target itself, as in SASRec's and ICLRec's full-ranking
evaluation. Column 0 of a score matrix is padding and never ranked.

Ties are broken by item index (lower first), the order a stable sort of the scores gives, so the
rank of a target and the top-K lists agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mask_seen(scores: np.ndarray, histories: Sequence[np.ndarray],
              targets: np.ndarray) -> np.ndarray:
    """Set padding and history items to -inf in place; return which rows' target is a repeat.

    A target the user already has stays masked: sentrec never recommends a seen item, and
    leaving only that one history item unmasked would point a model straight at it (on UCI
    Online Retail 28% of test targets are repeat purchases). Callers count those rows as misses.
    """
    rows = np.arange(len(targets))
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    if lengths.sum() > 0:
        scores[np.repeat(rows, lengths), np.concatenate(histories)] = -np.inf
    scores[:, 0] = -np.inf
    repeat: np.ndarray = np.isneginf(scores[rows, targets])
    return repeat


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each row's target: items scored higher, plus equal items of lower index."""
    rows = np.arange(len(targets))
    target_score = scores[rows, targets][:, None]  # (B, 1)
    ranks: np.ndarray = (scores > target_score).sum(axis=1).astype(np.int64)
    tied = np.flatnonzero((scores == target_score).sum(axis=1) > 1)  # rows with a real tie
    if len(tied):
        columns = np.arange(scores.shape[1])[None, :]  # (1, N+1)
        before = (scores[tied] == target_score[tied]) & (columns < targets[tied, None])
        ranks[tied] += before.sum(axis=1)
    return ranks


def top_k_items(scores: np.ndarray, k: int) -> np.ndarray:
    """(B, k) best items per row, best first, ties by lower index; -inf items are never listed.

    A row with fewer than k rankable items is filled with 0 (padding).
    """
    n_rows, n_columns = scores.shape
    k = min(k, n_columns)
    kth = np.partition(scores, n_columns - k, axis=1)[:, n_columns - k][:, None]  # (B, 1)
    above = scores > kth
    # Of the items tied with the k-th score, keep the lowest indices that still fit.
    room = k - above.sum(axis=1, keepdims=True)
    tied = scores == kth
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
    columns = np.nonzero(chosen)[1].reshape(n_rows, k)  # (B, k), ascending item index
    order = np.argsort(-np.take_along_axis(scores, columns, axis=1), axis=1, kind="stable")
    best = np.take_along_axis(columns, order, axis=1)
    best[~np.isfinite(np.take_along_axis(scores, best, axis=1))] = 0
    return best


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """HR@K: share of users whose target is among the first K (= Recall@K with one target)."""
    return float(np.mean(ranks < k)) if len(ranks) else 0.0


def ndcg(ranks: np.ndarray, k: int) -> float:
    """NDCG@K with one relevant item: 1 / log2(rank + 2) inside the top K, else 0."""
    return float(np.mean(ndcg_per_user(ranks, k))) if len(ranks) else 0.0


def ndcg_per_user(ranks: np.ndarray, k: int) -> np.ndarray:
    """Each user's NDCG@K (what a paired comparison of two models resamples)."""
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def coverage(top_k: np.ndarray, n_items: int) -> float:
    """Catalogue coverage@K: distinct items in all top-K lists over catalogue size N."""
    distinct = np.unique(top_k)
    return float(np.count_nonzero(distinct)) / n_items if n_items else 0.0
