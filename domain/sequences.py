"""Per-user item sequences in time order and the leave-one-out split of sequential recommendation.

Items get dense indices 1..N so that 0 can pad a batch; users keep their external ids. The split
is the one of SASRec (Kang & McAuley, ICDM 2018) and of every full-ranking paper since (BERT4Rec,
gSASRec, SASRec+): per user, the last item is the test target, the one before it the validation
target, and the rest the training prefix.

Event weights say which kinds of event make up a sequence and how much each counts in training:
a kind weighted 0, or absent from the mapping, is left out; the others stay in time order and
their weight scales the loss of predicting them. Evaluation never weighs: every user's held-out
item counts the same, so models trained with different weights stay comparable.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from domain.errors import InvalidInputError, MalformedFileError
from domain.records import EVENT_KINDS

# A user needs a training item, a validation target and a test target to be evaluated.
MIN_EVALUATED_LENGTH = 3
# Every kind counts once, except returns: a return is not a wish for the item.
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0, "click": 1.0, "cart": 1.0, "purchase": 1.0, "rate": 1.0, "interact": 1.0,
}


def check_event_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """A validated copy of ``kind -> weight``: known kinds, finite weights >= 0, one above 0.

    Raises InvalidInputError naming the bad entry and the allowed values, since the mapping
    comes from a setting or the command line.
    """
    checked: dict[str, float] = {}
    for kind, weight in weights.items():
        if kind not in EVENT_KINDS:
            raise InvalidInputError(f"event weight {kind!r}: unknown event kind; use one of "
                                    f"{', '.join(EVENT_KINDS)}")
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InvalidInputError(f"event weight {kind}={weight!r}: not a number; give a "
                                    "weight such as 1 or 0.5")
        if not math.isfinite(weight) or weight < 0:
            raise InvalidInputError(f"event weight {kind}={weight}: weights must be finite and "
                                    ">= 0 (0 leaves the kind out)")
        checked[kind] = float(weight)
    if not any(weight > 0 for weight in checked.values()):
        raise InvalidInputError(f"event weights {checked or '{}'} keep no kind: give at least "
                                f"one kind a weight above 0 (kinds: {', '.join(EVENT_KINDS)})")
    return checked


def kept_kinds(weights: Mapping[str, float]) -> list[str]:
    """The kinds a sequence is made of: those weighted above 0, in the mapping's order."""
    return [kind for kind, weight in weights.items() if weight > 0]


def with_event_weights(events: pl.DataFrame, weights: Mapping[str, float]) -> pl.DataFrame:
    """Events of the kept kinds with a float32 ``weight`` column (from column ``kind``).

    When every kept kind has the same weight the column is left out: a uniform weight is the
    plain mean of the losses, and leaving it out keeps training exactly the unweighted one.
    """
    kept = {kind: weight for kind, weight in weights.items() if weight > 0}
    frame = events.filter(pl.col("kind").is_in(list(kept)))
    if len(set(kept.values())) <= 1:
        return frame
    return frame.with_columns(
        pl.col("kind").replace_strict(kept, return_dtype=pl.Float32).alias("weight"))


@dataclass(frozen=True)
class Sequences:
    """Users' item sequences in time order, items as dense indices 1..N (0 is padding).

    ``item_ids[i - 1]`` is the external id of dense item ``i``; ``items[u]`` is the int64 array
    of user ``user_ids[u]``. ``weights[u]``, when given, is the float32 training weight of each
    of those events (same length and order); None means every event counts the same.
    """

    user_ids: list[str]
    item_ids: list[str]
    items: list[np.ndarray]
    weights: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.weights is not None and [len(w) for w in self.weights] != [
                len(row) for row in self.items]:
            raise ValueError("weights must hold one array per user, as long as its items")

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


def _build(users: list[str], rows: list[list[str]],
           weight_rows: list[list[float]] | None = None) -> Sequences:
    """Number items in order of first appearance (users in the given order, then time)."""
    index: dict[str, int] = {}
    items: list[np.ndarray] = []
    for row in rows:
        dense = [index.setdefault(item, len(index) + 1) for item in row]
        items.append(np.asarray(dense, dtype=np.int64))
    weights = None if weight_rows is None else [np.asarray(row, dtype=np.float32)
                                                for row in weight_rows]
    return Sequences(user_ids=users, item_ids=list(index), items=items, weights=weights)


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
    Repeated items are kept (a re-purchase is a real next item). An optional ``weight`` column
    (see ``with_event_weights``) travels with its event into ``Sequences.weights``.
    """
    missing = [name for name in ("user_id", "item_id", "occurred_at", "seq")
               if name not in frame.columns]
    if missing:
        raise ValueError(f"events frame lacks columns {missing}; it has {frame.columns}")
    weighted = "weight" in frame.columns
    if weighted and frame.get_column("weight").null_count():
        raise ValueError("events frame has null weights; give every event a weight >= 0")
    clockless = pl.col("occurred_at").is_null().any().over("user_id")
    ordered = (
        frame.select(
            pl.col("user_id").cast(pl.String),
            pl.col("item_id").cast(pl.String),
            pl.when(clockless).then(None).otherwise(pl.col("occurred_at")).alias("_time"),
            pl.col("seq"),
            pl.col("seq").min().over("user_id").alias("_first"),
            *([pl.col("weight").cast(pl.Float32)] if weighted else []),
        )
        .sort(["_first", "user_id", "_time", "seq"], nulls_last=False)
        .group_by("user_id", maintain_order=True)
        .agg(pl.col("item_id"), *([pl.col("weight")] if weighted else []))
    )
    users = ordered.get_column("user_id").to_list()
    rows = ordered.get_column("item_id").to_list()
    weights = ordered.get_column("weight").to_list() if weighted else None
    return _build(users, rows, weights)


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """What models fit on, and validation and test targets for evaluated users.

    For evaluated user ``users[e]`` the test target is ``test_target[e]`` and the test history
    everything before it. Validation (model selection, early stopping, champion/challenger)
    uses the users flagged in ``validated``: history ``train[users[e]]``, target
    ``valid_target[e]``. A user not flagged has the validation item in ``train`` instead, so
    the model learns from every user's latest-but-one event; ``validated=None`` flags every
    evaluated user (the protocol of SASRec and gSASRec's papers, where no model trains on it).
    Users with fewer than 3 items are wholly in ``train`` and not evaluated. ``train_weights[u]``
    weighs the events of ``train[u]`` in training; targets carry no weight.
    """

    n_items: int
    train: list[np.ndarray]
    users: np.ndarray
    valid_target: np.ndarray
    test_target: np.ndarray
    train_weights: list[np.ndarray] | None = None
    validated: np.ndarray | None = None  # (len(users),) bool; None = all

    def _validated(self) -> np.ndarray:
        return np.ones(len(self.users), dtype=bool) if self.validated is None else self.validated

    def valid_histories(self) -> list[np.ndarray]:
        """What a model may see when predicting each validated user's validation target."""
        return [self.train[user] for user in self.users[self._validated()]]

    def valid_targets(self) -> np.ndarray:
        """The validation targets, aligned with ``valid_histories``."""
        targets: np.ndarray = self.valid_target[self._validated()]
        return targets

    def test_histories(self) -> list[np.ndarray]:
        """What a model may see when predicting the test target (validation item included)."""
        return [np.append(self.train[user], target) if held else self.train[user]
                for user, target, held in zip(self.users, self.valid_target, self._validated(),
                                              strict=True)]


def _user_key(user_id: str, seed: int) -> int:
    digest = hashlib.blake2b(user_id.encode(), digest_size=8, key=str(seed).encode())
    return int.from_bytes(digest.digest(), "big")


def leave_one_out(seqs: Sequences, *, validation_users: int | None = None,
                  seed: int = 0) -> LeaveOneOutSplit:
    """Split each user's sequence: last item test, second-to-last validation, rest training.

    ``validation_users`` keeps the validation item out of training for that many evaluated
    users only (chosen by a hash of their id keyed with ``seed``); the others train on it.
    None holds it out for all. The training sequences keep their events' weights; held-out
    items drop theirs.
    """
    evaluated = [user for user, row in enumerate(seqs.items) if len(row) >= MIN_EVALUATED_LENGTH]
    validated = np.ones(len(evaluated), dtype=bool)
    if validation_users is not None and validation_users < 1:
        raise ValueError(f"validation_users must be at least 1, not {validation_users}")
    if validation_users is not None and validation_users < len(evaluated):
        # The users whose keyed hash is smallest: the same users stay in validation as the
        # store grows, so a champion never trained on the items its challenger is judged by.
        keys = [_user_key(seqs.user_ids[user], seed) for user in evaluated]
        validated[:] = False
        validated[np.argsort(keys, kind="stable")[:validation_users]] = True
    held = dict(zip(evaluated, validated.tolist(), strict=True))
    train: list[np.ndarray] = []
    for user, row in enumerate(seqs.items):
        if user not in held:
            train.append(row)
        else:
            train.append(row[:-2] if held[user] else row[:-1])
    rows = [seqs.items[user] for user in evaluated]
    train_weights = None if seqs.weights is None else [
        weights[:len(prefix)] for weights, prefix in zip(seqs.weights, train, strict=True)]
    return LeaveOneOutSplit(
        n_items=seqs.n_items,
        train=train,
        users=np.asarray(evaluated, dtype=np.int64),
        valid_target=np.asarray([int(row[-2]) for row in rows], dtype=np.int64),
        test_target=np.asarray([int(row[-1]) for row in rows], dtype=np.int64),
        train_weights=train_weights,
        validated=None if validated.all() else validated,
    )


def eval_set_name(source: str, seqs: Sequences) -> str:
    """Names the held-out data of ``leave_one_out(seqs)``: each user's last two items, by
    external id (stable across processes, unlike ``hash``), so two trainings on the same events
    are compared directly and a champion is re-scored only when the data changed."""
    digest = hashlib.sha1()
    for user, items in zip(seqs.user_ids, seqs.items, strict=True):
        digest.update(user.encode())
        digest.update("\x1f".join(seqs.item_ids[i - 1] for i in items[-2:]).encode())
        digest.update(b"\x1e")
    return f"{source}-loo:{len(seqs.user_ids)}:{seqs.n_items}:{digest.hexdigest()[:12]}"
