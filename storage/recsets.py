"""Recommendation sets: written whole while ``building``, then activated in one transaction.

Readers select through the active set in a single statement, so they see the old set or the
new one, never a mix; a publisher killed midway leaves a ``building`` set nobody reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update

from domain.records import as_utc
from storage.bulk import insert_ignore
from storage.ingest import table_of
from storage.schema import Recommendation, RecommendationSet

# The pseudo-user whose list (recent popularity) a set serves to users it does not know.
COLD_START_USER = "__cold_start__"

REC_COLUMNS = {"user_id": pl.String(), "rank": pl.Int64(), "item_id": pl.String(),
               "score": pl.Float64(), "reason": pl.String()}


@dataclass(frozen=True)
class RecommendedItem:
    rank: int
    item_id: str
    score: float
    reason: str | None


@dataclass(frozen=True)
class SetInfo:
    """A recommendation set as ``sentrec sets`` lists it."""

    id: int
    status: str
    model_version_id: int | None
    k: int
    users: int
    rows: int
    created_at: datetime
    activated_at: datetime | None


def list_sets(*, engine: Engine) -> list[SetInfo]:
    """Every set the store holds (active, retired, building), newest first, with row counts."""
    rows = (select(Recommendation.set_id, func.count().label("rows"))
            .group_by(Recommendation.set_id).subquery())
    s = RecommendationSet
    query = (select(s.id, s.status, s.model_version_id, s.k, s.users,
                    func.coalesce(rows.c.rows, 0), s.created_at, s.activated_at)
             .outerjoin(rows, rows.c.set_id == s.id).order_by(s.id.desc()))
    with engine.connect() as connection:
        return [SetInfo(int(i), str(status), version, int(k), int(users), int(n),
                        as_utc(created), None if activated is None else as_utc(activated))
                for i, status, version, k, users, n, created, activated
                in connection.execute(query)]


def create_set(*, engine: Engine, model_version_id: int | None, k: int) -> int:
    """Open a new set in ``building`` state and return its id."""
    with engine.begin() as connection:
        return int(connection.execute(
            insert(RecommendationSet).returning(RecommendationSet.id),
            {"model_version_id": model_version_id, "status": "building", "k": k, "users": 0,
             "created_at": datetime.now(UTC)}).scalar_one())


def write_recommendations(*, engine: Engine, set_id: int, frame: pl.DataFrame) -> int:
    """Append ranked rows (user_id, rank, item_id, score, reason) to a building set."""
    frame = frame.select([pl.col(c).cast(t) for c, t in REC_COLUMNS.items()])
    with engine.begin() as connection:
        status = connection.execute(select(RecommendationSet.status)
                                    .where(RecommendationSet.id == set_id)).scalar_one()
        if status != "building":
            raise RuntimeError(f"recommendation set {set_id} is {status}; only a building "
                               "set can be written")
        return insert_ignore(connection, table_of(Recommendation),
                             frame.with_columns(pl.lit(set_id, pl.Int64).alias("set_id")),
                             ("set_id", "user_id", "rank"))


def activate_set(*, engine: Engine, set_id: int, retention: int = 2) -> int:
    """Make ``set_id`` the one active set; keep ``retention`` retired sets, delete older ones.

    A set still ``building`` that was opened before this one is abandoned: its publisher died
    (a killed run never cleans up) or is slower than a newer publish, whose set must not be
    replaced by older results. It is deleted; a publisher still writing it then fails. Returns
    the number of users in the new set.
    """
    with engine.begin() as connection:
        status = connection.execute(select(RecommendationSet.status)
                                    .where(RecommendationSet.id == set_id)).scalar_one()
        if status != "building":
            raise RuntimeError(f"recommendation set {set_id} is {status}, not building")
        users = connection.execute(  # real users: the cold-start list is not one
            select(func.count(func.distinct(Recommendation.user_id)))
            .where(Recommendation.set_id == set_id,
                   Recommendation.user_id != COLD_START_USER)).scalar_one()
        connection.execute(update(RecommendationSet)
                           .where(RecommendationSet.status == "active")
                           .values(status="retired"))
        connection.execute(update(RecommendationSet).where(RecommendationSet.id == set_id)
                           .values(status="active", users=users, activated_at=datetime.now(UTC)))
        abandoned = connection.execute(
            select(RecommendationSet.id).where(RecommendationSet.status == "building",
                                               RecommendationSet.id < set_id)).scalars().all()
        _delete_sets(connection, list(abandoned))
        _prune(connection, retention)
    return int(users)


def _prune(connection: Connection, retention: int) -> None:
    retired = connection.execute(
        select(RecommendationSet.id).where(RecommendationSet.status == "retired")
        .order_by(RecommendationSet.id.desc())).scalars().all()
    _delete_sets(connection, list(retired[retention:]))


def _delete_sets(connection: Connection, set_ids: list[int]) -> None:
    if set_ids:
        connection.execute(delete(Recommendation).where(Recommendation.set_id.in_(set_ids)))
        connection.execute(delete(RecommendationSet).where(RecommendationSet.id.in_(set_ids)))


def discard_set(*, engine: Engine, set_id: int) -> None:
    """Delete a set that never became active (a failed or abandoned publish)."""
    with engine.begin() as connection:
        status = connection.execute(select(RecommendationSet.status)
                                    .where(RecommendationSet.id == set_id)).scalar_one_or_none()
        if status == "active":
            raise RuntimeError(f"recommendation set {set_id} is active and cannot be discarded")
        _delete_sets(connection, [set_id])


# The user's rows joined to the active set in one statement, so a reader sees the old set or
# the new one, never a mix. Named parameters work both through SQLAlchemy's ``text`` and on a
# raw ``sqlite3`` connection, which the lookup service uses on its event loop.
TOP_K_SQL = ("SELECT s.id, r.rank, r.item_id, r.score, r.reason FROM recommendation_sets s "
             "JOIN recommendations r ON r.set_id = s.id "
             "WHERE s.status = 'active' AND r.user_id = :user_id ORDER BY r.rank LIMIT :k")
ACTIVE_SET_SQL = "SELECT id FROM recommendation_sets WHERE status = 'active'"

Fetch = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]
"""Runs one SQL statement with named parameters and returns its rows."""


@dataclass(frozen=True)
class Lookup:
    """One user's list: the set it came from (None when nothing is published) and whether the
    user was unknown to that set and got its cold-start list instead."""

    set_id: int | None
    items: list[RecommendedItem]
    cold_start: bool


def lookup(fetch: Fetch, *, user_id: str, k: int) -> Lookup:
    """The user's top ``k`` from the active set, or the set's cold-start list for an unknown
    user. Two indexed reads at most; a third only when nothing matched at all."""
    rows = fetch(TOP_K_SQL, {"user_id": user_id, "k": k})
    cold = not rows
    if cold:
        rows = fetch(TOP_K_SQL, {"user_id": COLD_START_USER, "k": k})
    if rows:
        set_id: int | None = int(rows[0][0])
    else:
        active = fetch(ACTIVE_SET_SQL, {})
        set_id = int(active[0][0]) if active else None
    return Lookup(set_id=set_id, items=_items(rows), cold_start=cold)


def active_set_id(*, connection: Connection) -> int | None:
    rows = sql_fetch(connection)(ACTIVE_SET_SQL, {})
    return int(rows[0][0]) if rows else None


@dataclass(frozen=True)
class ActiveSet:
    """The set readers see: which one, from which model, for how many users, since when."""

    id: int
    model_version_id: int | None
    users: int
    activated_at: datetime


def active_set(*, connection: Connection) -> ActiveSet | None:
    """The active recommendation set, or None before one is published."""
    row = connection.execute(
        select(RecommendationSet.id, RecommendationSet.model_version_id, RecommendationSet.users,
               RecommendationSet.activated_at).where(RecommendationSet.status == "active")
    ).first()
    if row is None:
        return None
    return ActiveSet(id=int(row.id), model_version_id=row.model_version_id, users=int(row.users),
                     activated_at=as_utc(row.activated_at))


def sql_fetch(connection: Connection) -> Fetch:
    """``lookup``'s reader over a SQLAlchemy connection."""
    def fetch(sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        return connection.execute(text(sql), params).all()
    return fetch


def recommendations_for(*, connection: Connection, user_id: str,
                        k: int) -> list[RecommendedItem]:
    """A user's top ``k`` from the active set (empty for a user the set does not know)."""
    return _items(sql_fetch(connection)(TOP_K_SQL, {"user_id": user_id, "k": k}))


def _items(rows: Sequence[Sequence[Any]]) -> list[RecommendedItem]:
    return [RecommendedItem(rank=int(r), item_id=str(i), score=float(s), reason=why)
            for _, r, i, s, why in rows]
