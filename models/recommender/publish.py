"""Turning a trained recommender into everyone's top-k: user states against the item index,
business rules on the candidates, and recent popularity for users the model does not know."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import torch

from domain.ranking import RankingRules, apply_rules
from domain.sequences import Sequences
from models.index import ItemIndex
from models.recommender.data import left_pad
from models.recommender.sasrec import SASRec

# Users per forward pass: a pass holds (users, T, T) attention and (users, T, d_ff)
# activations, ~0.9 GB for 2,000 users at T = 200, and publishing runs several batches at once.
ENCODE_CHUNK = 256
RECOMMENDATION_SCHEMA = {"user_id": pl.String, "rank": pl.Int64, "item_id": pl.String,
                         "score": pl.Float64, "reason": pl.String}


def user_batches(n_users: int, batch_users: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of at most ``batch_users`` users covering all of them."""
    return [(start, min(start + batch_users, n_users))
            for start in range(0, n_users, batch_users)]


def recent_popularity(seqs: Sequences, k: int, fraction: float = 0.1) -> list[tuple[str, float]]:
    """The items most interacted with in the last ``fraction`` of each user's history."""
    counts: dict[int, int] = {}
    for items in seqs.items:
        tail = items[-max(1, int(np.ceil(len(items) * fraction))):]
        for item in tail.tolist():
            counts[item] = counts.get(item, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [(seqs.item_ids[i - 1], float(n)) for i, n in top]


def cold_start_rows(popular: list[tuple[str, float]], user_id: str) -> pl.DataFrame:
    """The recent-popularity list as the rows of the pseudo-user ``user_id``."""
    return pl.DataFrame([(user_id, rank, item, score, "recent-popularity")
                         for rank, (item, score) in enumerate(popular, start=1)],
                        orient="row", schema=RECOMMENDATION_SCHEMA)


def recommend_batch(*, model: SASRec, index: ItemIndex, seqs: Sequences, item_ids: list[str],
                    start: int, end: int, k: int, rules: RankingRules) -> pl.DataFrame:
    """Top-k rows (user_id, rank, item_id, score, reason) for users ``start:end``."""
    ours = {item: i for i, item in enumerate(item_ids, start=1)}
    histories, users, seen_sets = [], [], []
    for u in range(start, end):
        raw = [seqs.item_ids[i - 1] for i in seqs.items[u].tolist()]
        mapped = np.asarray([ours[x] for x in raw if x in ours], dtype=np.int64)
        if len(mapped) == 0:
            continue
        histories.append(mapped)
        users.append(seqs.user_ids[u])
        seen_sets.append(set(raw))
    if not users:
        return pl.DataFrame(schema=RECOMMENDATION_SCHEMA)
    with torch.inference_mode():
        states = np.concatenate([
            model.encode_users(torch.from_numpy(
                left_pad(histories[i:i + ENCODE_CHUNK], model.config.max_len))).numpy()
            for i in range(0, len(histories), ENCODE_CHUNK)])  # (B, d)
    depth = min(len(item_ids), k + max(len(s) for s in seen_sets) + len(rules.exclude))
    scores, found = index.search(states, depth)
    rows: list[tuple[Any, ...]] = []
    for user, seen, ids, row_scores in zip(users, seen_sets, found, scores, strict=True):
        kept = apply_rules(list(zip(ids, row_scores.tolist(), strict=False)), seen=seen, k=k,
                           rules=rules)
        rows.extend((user, rank, item, score, None)
                    for rank, (item, score) in enumerate(kept, start=1))
    return pl.DataFrame(rows, orient="row", schema=RECOMMENDATION_SCHEMA)
