"""Reading behaviour back out of the store for training and publishing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select

from domain.errors import InvalidInputError, NotReadyError
from domain.sequences import Sequences, kept_kinds, sequences_from_events, with_event_weights
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


def pick_source(*, engine: Engine, source: str | None) -> str:
    """``source`` when the store has events from it; with None, the one source there is."""
    sources = event_sources(engine=engine)
    if source is not None:
        if source not in sources:
            raise InvalidInputError(f"no events from source {source!r}; sources in the store: "
                                    f"{', '.join(sources) or 'none (ingest events first)'}")
        return source
    if not sources:
        raise NotReadyError("no events in the store: ingest behaviour first "
                            "(`sentrec ingest events FILE`)")
    if len(sources) > 1:
        raise InvalidInputError(f"events come from several sources ({', '.join(sources)}); "
                                "name one with --source")
    return next(iter(sources))


def load_sequences(*, engine: Engine, source: str, weights: Mapping[str, float]) -> Sequences:
    """One source's sequences of the kinds ``weights`` keeps, each event carrying its weight."""
    kinds = kept_kinds(weights)
    events = load_events(engine=engine, source=source, kinds=kinds)
    if events.is_empty():
        raise InvalidInputError(f"source {source!r} has no events of kinds {kinds}; weigh in "
                                "the kinds it has (--weight KIND=W or SENTREC_EVENT_WEIGHTS)")
    return sequences_from_events(with_event_weights(events, weights))


def version_weights(params: Mapping[str, Any]) -> dict[str, float]:
    """The event weights a registered recommender version was trained with.

    Versions registered before weights existed stored a list of ``kinds``, each counting once.
    """
    weights = params.get("weights") or {kind: 1.0 for kind in params["kinds"]}
    return {str(kind): float(weight) for kind, weight in weights.items()}


def version_sequences(*, engine: Engine, params: Mapping[str, Any]) -> Sequences:
    """Today's sequences of the source and kinds a recommender version was trained on."""
    return load_sequences(engine=engine, source=params["source"],
                          weights=version_weights(params))
