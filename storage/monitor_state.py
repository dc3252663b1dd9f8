"""How far monitoring has read, and what has been scored since.

Monitoring is incremental: per key (detector, window, grouping) it keeps a watermark, the
newest ``scored_at`` it has taken into account. Scores written after it are new; the earliest
document time among them says from which window on the series must be judged again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select, union_all, update

from domain.records import as_utc
from storage.schema import Message, MonitorState, News, SentimentScore


@dataclass(frozen=True)
class NewScores:
    """Scores written after a watermark: how many, the newest ``scored_at`` among them, and
    the earliest time of a document they belong to (None when there are none)."""

    count: int
    newest_scored_at: datetime | None
    earliest_document: datetime | None


def watermark(*, engine: Engine, key: str) -> datetime | None:
    """The newest ``scored_at`` monitoring under ``key`` has taken into account."""
    with engine.connect() as connection:
        value = connection.execute(select(MonitorState.scored_through)
                                   .where(MonitorState.key == key)).scalar_one_or_none()
    return None if value is None else as_utc(value)


def set_watermark(*, engine: Engine, key: str, scored_through: datetime) -> None:
    """Move the watermark of ``key`` (created on first use)."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        updated = connection.execute(
            update(MonitorState).where(MonitorState.key == key)
            .values(scored_through=scored_through, updated_at=now)).rowcount
        if not updated:
            connection.execute(MonitorState.__table__.insert(),  # type: ignore[attr-defined]
                               {"key": key, "scored_through": scored_through, "updated_at": now})


def new_scores(*, engine: Engine, after: datetime | None) -> NewScores:
    """The scores written after ``after`` (all of them when None)."""
    newer = [] if after is None else [SentimentScore.scored_at > after]
    message_times = (select(Message.created_at.label("at"), SentimentScore.scored_at)
                     .join(SentimentScore, (SentimentScore.doc_kind == "message") &
                           (SentimentScore.doc_id == Message.id)).where(*newer))
    news_times = (select(News.published_at.label("at"), SentimentScore.scored_at)
                  .join(SentimentScore, (SentimentScore.doc_kind == "news") &
                        (SentimentScore.doc_id == News.id))
                  .where(News.published_at.is_not(None), *newer))
    both = union_all(message_times, news_times).subquery()
    with engine.connect() as connection:
        newest, count, earliest = connection.execute(
            select(func.max(both.c.scored_at), func.count(), func.min(both.c.at))).one()
    return NewScores(int(count), None if newest is None else as_utc(newest),
                     None if earliest is None else as_utc(earliest))


def newest_scored_document(*, engine: Engine) -> datetime | None:
    """The time of the newest document (message or dated news) that has a score."""
    with engine.connect() as connection:
        messages = connection.execute(
            select(func.max(Message.created_at)).join(
                SentimentScore, (SentimentScore.doc_kind == "message") &
                (SentimentScore.doc_id == Message.id))).scalar_one()
        news = connection.execute(
            select(func.max(News.published_at)).join(
                SentimentScore, (SentimentScore.doc_kind == "news") &
                (SentimentScore.doc_id == News.id))).scalar_one()
    values = [as_utc(v) for v in (messages, news) if v is not None]
    return max(values) if values else None


def latest_scoring_model(*, engine: Engine) -> int | None:
    """The newest model version that has written scores (what new alerts are judged with)."""
    with engine.connect() as connection:
        value = connection.execute(select(func.max(SentimentScore.model_version_id))
                                   ).scalar_one()
    return None if value is None else int(value)


def latest_monitoring(*, engine: Engine) -> datetime | None:
    """The newest ``scored_at`` any monitoring run has taken into account (None: never run)."""
    with engine.connect() as connection:
        value = connection.execute(select(func.max(MonitorState.scored_through))).scalar_one()
    return None if value is None else as_utc(value)
