"""Recommendation sets: written whole while ``building``, then activated in one transaction.

Readers select through the active set in a single statement, so they see the old set or the
new one, never a mix; a publisher killed midway leaves a ``building`` set nobody reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

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

    Returns the number of users in the new set.
    """
    with engine.begin() as connection:
        status = connection.execute(select(RecommendationSet.status)
                                    .where(RecommendationSet.id == set_id)).scalar_one()
        if status != "building":
            raise RuntimeError(f"recommendation set {set_id} is {status}, not building")
        users = connection.execute(
            select(func.count(func.distinct(Recommendation.user_id)))
            .where(Recommendation.set_id == set_id)).scalar_one()
        connection.execute(update(RecommendationSet)
                           .where(RecommendationSet.status == "active")
                           .values(status="retired"))
        connection.execute(update(RecommendationSet).where(RecommendationSet.id == set_id)
                           .values(status="active", users=users, activated_at=datetime.now(UTC)))
        _prune(connection, retention)
    return int(users)


def _prune(connection: Connection, retention: int) -> None:
    retired = connection.execute(
        select(RecommendationSet.id).where(RecommendationSet.status == "retired")
        .order_by(RecommendationSet.id.desc())).scalars().all()
    old = list(retired[retention:])
    if old:
        connection.execute(delete(Recommendation).where(Recommendation.set_id.in_(old)))
        connection.execute(delete(RecommendationSet).where(RecommendationSet.id.in_(old)))


def discard_set(*, engine: Engine, set_id: int) -> None:
    """Delete a set that never became active (a failed or abandoned publish)."""
    with engine.begin() as connection:
        status = connection.execute(select(RecommendationSet.status)
                                    .where(RecommendationSet.id == set_id)).scalar_one_or_none()
        if status == "active":
            raise RuntimeError(f"recommendation set {set_id} is active and cannot be discarded")
        connection.execute(delete(Recommendation).where(Recommendation.set_id == set_id))
        connection.execute(delete(RecommendationSet).where(RecommendationSet.id == set_id))


def active_set_id(*, connection: Connection) -> int | None:
    return connection.execute(select(RecommendationSet.id)
                              .where(RecommendationSet.status == "active")).scalar_one_or_none()


def recommendations_for(*, connection: Connection, user_id: str,
                        k: int) -> list[RecommendedItem]:
    """A user's top ``k`` from the active set, read in one statement."""
    rows = connection.execute(
        select(Recommendation.rank, Recommendation.item_id, Recommendation.score,
               Recommendation.reason)
        .join(RecommendationSet, RecommendationSet.id == Recommendation.set_id)
        .where(RecommendationSet.status == "active", Recommendation.user_id == user_id)
        .order_by(Recommendation.rank).limit(k)).all()
    return [RecommendedItem(rank=r, item_id=i, score=s, reason=why) for r, i, s, why in rows]


def recommendations_or_popular(*, connection: Connection, user_id: str,
                               k: int) -> tuple[list[RecommendedItem], bool]:
    """The user's list, or the set's cold-start list for an unknown user; True if cold."""
    items = recommendations_for(connection=connection, user_id=user_id, k=k)
    if items:
        return items, False
    return recommendations_for(connection=connection, user_id=COLD_START_USER, k=k), True
