"""Leave-one-out, full-ranking evaluation of any next-item scorer.

A scorer maps users' histories to a (B, N+1) score matrix (column 0 is padding). SASRec and the
baselines all go through the same function, so their figures are measured the same way: every
item ranked, history items masked; a target that repeats a history item stays masked and
counts as a miss (``domain.metrics``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from domain import metrics
from domain.sequences import LeaveOneOutSplit
from models.recommender.data import left_pad
from models.recommender.sasrec import SASRec

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
    ranks: np.ndarray  # (users,) each user's 0-based target rank, in split order


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
        repeat = metrics.mask_seen(scores, part, target)
        rank = metrics.target_ranks(scores, target)
        rank[repeat] = n_items  # a target the user already has is never recommended: a miss
        ranks.append(rank)
        if with_coverage:
            top_lists.append(metrics.top_k_items(scores, k))
    all_ranks = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
    coverage = None
    if with_coverage:
        tops = np.concatenate(top_lists) if top_lists else np.zeros((0, k), dtype=np.int64)
        coverage = metrics.coverage(tops, n_items)
    return RankingReport(
        stage=stage, k=k, users=len(all_ranks),
        hit_rate=metrics.hit_rate(all_ranks, k), ndcg=metrics.ndcg(all_ranks, k),
        coverage=coverage, seconds=time.perf_counter() - start, ranks=all_ranks,
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


class SASRecScorer:
    """Scores every item for users' histories with a SASRec model, in length-sorted batches."""

    def __init__(self, model: SASRec, *, batch_size: int = 512) -> None:
        self.model = model
        self.batch_size = batch_size

    def __call__(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """(B, N+1) float32 scores; column 0 is padding."""
        device = next(self.model.parameters()).device
        max_len = self.model.config.max_len
        out = np.empty((len(histories), self.model.config.n_items + 1), dtype=np.float32)
        order = np.argsort([len(h) for h in histories], kind="stable")
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for begin in range(0, len(order), self.batch_size):
                rows = order[begin:begin + self.batch_size]
                seq = torch.from_numpy(left_pad([histories[i] for i in rows], max_len))
                out[rows] = self.model.score(seq.to(device)).float().cpu().numpy()
        self.model.train(was_training)
        return out


def catalogue_mapped(scorer: Scorer, scorer_items: Sequence[str],
                     item_ids: Sequence[str]) -> Scorer:
    """``scorer`` (a model trained on catalogue ``scorer_items``) scoring histories written in
    catalogue ``item_ids`` (dense index i is ``item_ids[i - 1]``).

    Items are mapped to the scorer's indices and its scores back to ours; items it never saw
    rank last. This is how a champion is judged on a challenger's newer split.
    """
    theirs = {item: i for i, item in enumerate(scorer_items, start=1)}
    to_theirs = np.asarray([0] + [theirs.get(item, 0) for item in item_ids])

    def mapped(histories: Sequence[np.ndarray]) -> np.ndarray:
        their_histories = [to_theirs[h][to_theirs[h] > 0] for h in histories]
        scores = scorer(their_histories)[:, to_theirs]  # (B, N+1) in our item order
        scores[:, to_theirs == 0] = -np.inf  # items new to the scorer rank last
        return np.asarray(scores)

    return mapped
