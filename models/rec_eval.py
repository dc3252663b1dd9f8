"""Leave-one-out, full-ranking evaluation of any next-item scorer.

A scorer maps users' histories to a (B, N+1) score matrix (column 0 is padding). SASRec and the
baselines all go through the same function, so their figures are measured the same way: every
item ranked, history items masked; a target that repeats a history item stays masked and
counts as a miss (``domain.rec_metrics``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from domain import rec_metrics
from domain.sequences import LeaveOneOutSplit

# histories -> a new (B, N+1) score array, which the evaluator masks in place
Scorer = Callable[[Sequence[np.ndarray]], np.ndarray]
Stage = Literal["valid", "test"]


@dataclass(frozen=True)
class RankingReport:
    """Full-ranking quality of one scorer on one stage of a split."""

    stage: str
    k: int
    users: int
    hit_rate: float
    ndcg: float
    coverage: float | None  # None when not asked for (it needs every top-K list)
    seconds: float


def evaluate_ranking(scorer: Scorer, histories: Sequence[np.ndarray], targets: np.ndarray, *,
                     n_items: int, k: int = 10, batch_size: int = 1024, stage: str = "test",
                     with_coverage: bool = True) -> RankingReport:
    """Rank all items for each user in batches; HR@k, NDCG@k and coverage@k over all users.

    Coverage needs each user's top-K list, the costliest step; validation during training can
    skip it.
    """
    start = time.perf_counter()
    ranks: list[np.ndarray] = []
    top_lists: list[np.ndarray] = []
    for begin in range(0, len(targets), batch_size):
        part = histories[begin:begin + batch_size]
        target = targets[begin:begin + batch_size]
        scores = np.asarray(scorer(part), dtype=np.float32)
        if scores.shape != (len(target), n_items + 1):
            raise ValueError(f"scorer returned shape {scores.shape}, expected "
                             f"{(len(target), n_items + 1)}")
        repeat = rec_metrics.mask_seen(scores, part, target)
        rank = rec_metrics.target_ranks(scores, target)
        rank[repeat] = n_items  # a target the user already has is never recommended: a miss
        ranks.append(rank)
        if with_coverage:
            top_lists.append(rec_metrics.top_k_items(scores, k))
    all_ranks = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
    coverage = None
    if with_coverage:
        tops = np.concatenate(top_lists) if top_lists else np.zeros((0, k), dtype=np.int64)
        coverage = rec_metrics.coverage(tops, n_items)
    return RankingReport(
        stage=stage, k=k, users=len(all_ranks),
        hit_rate=rec_metrics.hit_rate(all_ranks, k), ndcg=rec_metrics.ndcg(all_ranks, k),
        coverage=coverage, seconds=time.perf_counter() - start,
    )


def evaluate_split(scorer: Scorer, split: LeaveOneOutSplit, stage: Stage, *, k: int = 10,
                   batch_size: int = 1024, with_coverage: bool = True) -> RankingReport:
    """Validation: history = training prefix. Test: training prefix + validation item."""
    if stage == "valid":
        histories, targets = split.valid_histories(), split.valid_targets()
    else:
        histories, targets = split.test_histories(), split.test_target
    return evaluate_ranking(scorer, histories, targets, n_items=split.n_items, k=k,
                            batch_size=batch_size, stage=stage, with_coverage=with_coverage)
