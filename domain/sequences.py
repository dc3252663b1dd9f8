"""Per-user item sequences in time order and the leave-one-out split of sequential recommendation.

Items get dense indices 1..N so that 0 can pad a batch; users keep their external ids. The split
is the one of SASRec (Kang & McAuley, ICDM 2018) and of every full-ranking paper since (BERT4Rec,
gSASRec, SASRec+): per user, the last item is the test target, the one before it the validation
target, and the rest the training prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from domain.errors import MalformedFileError

# A user needs a training item, a validation target and a test target to be evaluated.
MIN_EVALUATED_LENGTH = 3


@dataclass(frozen=True)
class Sequences:
    """Users' item sequences in time order, items as dense indices 1..N (0 is padding).

    ``item_ids[i - 1]`` is the external id of dense item ``i``; ``items[u]`` is the int64 array
    of user ``user_ids[u]``.
    """

    user_ids: list[str]
    item_ids: list[str]
    items: list[np.ndarray]

    @property
    def n_items(self) -> int:
        """Catalogue size N (padding excluded)."""
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        """Total number of (user, item) events."""
        return int(sum(len(row) for row in self.items))

    @cached_property
    def item_index(self) -> dict[str, int]:
        """External item id -> dense index (1..N)."""
        return {item: index for index, item in enumerate(self.item_ids, start=1)}


def _build(users: list[str], rows: list[list[str]]) -> Sequences:
    """Number items in order of first appearance (users in the given order, then time)."""
    index: dict[str, int] = {}
    items: list[np.ndarray] = []
    for row in rows:
        dense = [index.setdefault(item, len(index) + 1) for item in row]
        items.append(np.asarray(dense, dtype=np.int64))
    return Sequences(user_ids=users, item_ids=list(index), items=items)


def load_sequence_file(path: Path | str) -> Sequences:
    """Read the one-line-per-user format ``uid item item ...`` (items oldest first).

    This is the format of the SASRec ML-1M file and of the S3-Rec/ICLRec Amazon files. Items are
    numbered in order of first appearance, which for those files reproduces their own ids.
    """
    path = Path(path)
    if not path.exists():
        raise MalformedFileError(path, "no such file", hint="Check the path or --data-dir.")
    users: list[str] = []
    rows: list[list[str]] = []
    seen: set[str] = set()
    with path.open(encoding="ascii", errors="strict") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise MalformedFileError(path, "a user line needs at least one item", line=number,
                                         hint="Each line is 'user_id item_id item_id ...'.")
            if fields[0] in seen:
                raise MalformedFileError(path, f"user {fields[0]!r} appears on two lines",
                                         line=number, field="user_id",
                                         hint="Merge the user's items onto one line, oldest first.")
            seen.add(fields[0])
            users.append(fields[0])
            rows.append(fields[1:])
    if not users:
        raise MalformedFileError(path, "the file has no user lines",
                                 hint="Expected lines 'user_id item_id item_id ...'.")
    return _build(users, rows)


def sequences_from_events(frame: pl.DataFrame) -> Sequences:
    """Build sequences from events with columns user_id, item_id, occurred_at, seq.

    Order within a user: by ``occurred_at``, ties broken by ``seq`` (the position in the source
    file), so equal timestamps keep file order. A user with any null ``occurred_at`` is ordered by
    ``seq`` alone: a clockless event cannot be placed between timed ones, and the file order is
    the only order such a source gives. Users come in order of their first event (lowest seq).
    Repeated items are kept (a re-purchase is a real next item).
    """
    missing = [name for name in ("user_id", "item_id", "occurred_at", "seq")
               if name not in frame.columns]
    if missing:
        raise ValueError(f"events frame lacks columns {missing}; it has {frame.columns}")
    clockless = pl.col("occurred_at").is_null().any().over("user_id")
    ordered = (
        frame.select(
            pl.col("user_id").cast(pl.String),
            pl.col("item_id").cast(pl.String),
            pl.when(clockless).then(None).otherwise(pl.col("occurred_at")).alias("_time"),
            pl.col("seq"),
            pl.col("seq").min().over("user_id").alias("_first"),
        )
        .sort(["_first", "user_id", "_time", "seq"], nulls_last=False)
        .group_by("user_id", maintain_order=True)
        .agg(pl.col("item_id"))
    )
    users = ordered.get_column("user_id").to_list()
    rows = ordered.get_column("item_id").to_list()
    return _build(users, rows)


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """Training prefixes for every user; validation and test targets for evaluated users.

    For evaluated user ``users[e]``: validation history = ``train[users[e]]``, target
    ``valid_target[e]``; test history = that prefix plus the validation item, target
    ``test_target[e]``. Users with fewer than 3 items are wholly in ``train`` and not evaluated.
    """

    n_items: int
    train: list[np.ndarray]
    users: np.ndarray
    valid_target: np.ndarray
    test_target: np.ndarray

    def valid_histories(self) -> list[np.ndarray]:
        """What a model may see when predicting the validation target."""
        return [self.train[user] for user in self.users]

    def test_histories(self) -> list[np.ndarray]:
        """What a model may see when predicting the test target (validation item included)."""
        return [np.append(self.train[user], target)
                for user, target in zip(self.users, self.valid_target, strict=True)]


def leave_one_out(seqs: Sequences) -> LeaveOneOutSplit:
    """Split each user's sequence: last item test, second-to-last validation, rest training."""
    train: list[np.ndarray] = []
    users: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for user, row in enumerate(seqs.items):
        if len(row) < MIN_EVALUATED_LENGTH:
            train.append(row)
            continue
        train.append(row[:-2])
        users.append(user)
        valid.append(int(row[-2]))
        test.append(int(row[-1]))
    return LeaveOneOutSplit(
        n_items=seqs.n_items,
        train=train,
        users=np.asarray(users, dtype=np.int64),
        valid_target=np.asarray(valid, dtype=np.int64),
        test_target=np.asarray(test, dtype=np.int64),
    )
