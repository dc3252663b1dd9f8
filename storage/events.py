"""Reading behaviour back out of the store for training and publishing."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, func, select

from storage.schema import Event, Item

EVENT_FRAME = {"user_id": pl.String(), "item_id": pl.String(), "kind": pl.String(),
               "occurred_at": pl.Datetime("us", "UTC"), "seq": pl.Int64()}


def event_sources(*, engine: Engine) -> dict[str, int]:
    """Each events source with its number of events, largest first."""
    with engine.connect() as connection:
        rows = connection.execute(select(Event.source, func.count()).group_by(Event.source)
                                  .order_by(func.count().desc())).all()
    return {source: int(n) for source, n in rows}


def load_events(*, engine: Engine, source: str, kinds: list[str] | None = None
                ) -> pl.DataFrame:
    """(user_id, item_id, kind, occurred_at UTC, seq) of one source, in store order."""
    query = select(Event.user_id, Event.item_id, Event.kind, Event.occurred_at, Event.seq) \
        .where(Event.source == source)
    if kinds:
        query = query.where(Event.kind.in_(kinds))
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(Event.seq)).all()
    frame = pl.DataFrame([tuple(r) for r in rows], schema=list(EVENT_FRAME), orient="row")
    if frame.is_empty():
        return pl.DataFrame(schema=EVENT_FRAME)
    times = frame["occurred_at"]
    if times.dtype == pl.Datetime("us") or times.dtype == pl.Datetime("us", None):
        frame = frame.with_columns(pl.col("occurred_at").dt.replace_time_zone("UTC"))
    return frame.cast(EVENT_FRAME)  # type: ignore[arg-type]


def item_titles(*, engine: Engine, source: str | None = None) -> dict[str, str]:
    """Item id -> title (of ``source`` when given, else of any source)."""
    query = select(Item.item_id, Item.title).where(Item.title.is_not(None))
    if source is not None:
        query = query.where(Item.source == source)
    with engine.connect() as connection:
        return {item: title for item, title in connection.execute(query).all()}
