"""Writing one ingest batch: all of it in one transaction, or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import polars as pl
from sqlalchemy import Engine, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from domain.errors import NotFoundError
from domain.records import KEYS, Parsed, Stream, as_utc
from storage.bulk import insert_ignore
from storage.schema import (
    Event,
    IngestBatch,
    Item,
    Label,
    Message,
    News,
    NewsEntity,
    Reject,
)


def table_of(model: type) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


TABLES = {
    Stream.MESSAGES: table_of(Message),
    Stream.NEWS: table_of(News),
    Stream.EVENTS: table_of(Event),
    Stream.ITEMS: table_of(Item),
}


@dataclass(frozen=True)
class BatchSummary:
    """What happened to one file. ``skipped`` means it was already in the store."""

    batch_id: int
    stream: str
    source: str
    format: str
    path: str
    file_sha256: str
    rows_read: int
    loaded: int
    rejected: int
    duplicate: int
    labels_loaded: int
    items_loaded: int
    skipped: bool = False
    encoding: str | None = None  # what the file was read in (None for Parquet)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def reconciles(self) -> bool:
        return self.rows_read == self.loaded + self.rejected + self.duplicate


class CountMismatchError(RuntimeError):
    """The identity rows_read = loaded + rejected + duplicate failed; nothing was written."""


def find_batch(*, engine: Engine, stream: Stream, source: str,
               file_sha256: str) -> BatchSummary | None:
    """The completed batch that already holds this file, if any."""
    with engine.connect() as connection:
        row = connection.execute(
            select(IngestBatch).where(IngestBatch.stream == stream.value,
                                      IngestBatch.source == source,
                                      IngestBatch.file_sha256 == file_sha256)
        ).mappings().first()
    return None if row is None else _summary(dict(row), skipped=True)


def record_batch(*, engine: Engine, parsed: Parsed, path: Path, file_sha256: str,
                 format: str, chunk_rows: int = 200_000) -> BatchSummary:
    """Write a parsed file as one batch; a file already ingested is a no-op.

    Records whose key is already stored (from this file or an earlier one) count as
    duplicates. The count identity is checked inside the transaction, so a batch that does
    not reconcile is never committed.
    """
    existing = find_batch(engine=engine, stream=parsed.stream, source=parsed.source,
                          file_sha256=file_sha256)
    if existing is not None:
        return existing
    try:
        return _write_batch(engine, parsed, path, file_sha256, format, chunk_rows)
    except IntegrityError:
        # Another run wrote the same file between our check and our write (two ingests of
        # one file at once): the batch's unique key refused ours, so theirs stands. Any other
        # integrity error is a bug and propagates.
        existing = find_batch(engine=engine, stream=parsed.stream, source=parsed.source,
                              file_sha256=file_sha256)
        if existing is None:
            raise
        return existing


def _write_batch(engine: Engine, parsed: Parsed, path: Path, file_sha256: str, format: str,
                 chunk_rows: int) -> BatchSummary:
    with engine.begin() as connection:
        batch_id = connection.execute(
            insert(IngestBatch).returning(IngestBatch.id),
            {"stream": parsed.stream.value, "source": parsed.source, "format": format,
             "path": str(path), "file_sha256": file_sha256,
             "started_at": datetime.now(UTC), "rows_read": parsed.rows_read, "loaded": 0,
             "rejected": 0, "duplicate": 0, "labels_loaded": 0, "items_loaded": 0,
             "encoding": parsed.encoding},
        ).scalar_one()
        tagged = parsed.records.with_columns(pl.lit(batch_id, pl.Int64).alias("batch_id"))
        if parsed.stream is Stream.NEWS:
            tagged = tagged.with_columns(pl.col("entities").list.join("|"))
        loaded = insert_ignore(connection, TABLES[parsed.stream], tagged, KEYS[parsed.stream],
                               chunk_rows=chunk_rows)
        if parsed.stream is Stream.NEWS:
            insert_ignore(connection, table_of(NewsEntity), _news_entities(parsed.records),
                          ("source", "news_id", "entity"), chunk_rows=chunk_rows)
        rejects = parsed.rejects.with_columns(pl.lit(batch_id, pl.Int64).alias("batch_id"))
        insert_ignore(connection, table_of(Reject), rejects, ("id",), chunk_rows=chunk_rows)
        labels = insert_ignore(
            connection, table_of(Label),
            parsed.labels.with_columns(pl.lit(batch_id, pl.Int64).alias("batch_id")),
            ("doc_kind", "source", "doc_id", "kind", "origin"), chunk_rows=chunk_rows)
        items = 0
        if parsed.items is not None:
            items = insert_ignore(
                connection, table_of(Item),
                parsed.items.with_columns(pl.lit(batch_id, pl.Int64).alias("batch_id")),
                KEYS[Stream.ITEMS], chunk_rows=chunk_rows)
        rejected = parsed.rejects.height
        duplicate = parsed.records.height - loaded
        if parsed.rows_read != loaded + rejected + duplicate:
            raise CountMismatchError(
                f"{path}: {parsed.rows_read} rows read but {loaded} loaded + {rejected} "
                f"rejected + {duplicate} duplicate; nothing was written. This is a bug in the "
                "adapter: report it with the file."
            )
        connection.execute(update(IngestBatch).where(IngestBatch.id == batch_id).values(
            loaded=loaded, rejected=rejected, duplicate=duplicate, labels_loaded=labels,
            items_loaded=items, finished_at=datetime.now(UTC)))
        row = connection.execute(select(IngestBatch).where(IngestBatch.id == batch_id)
                                 ).mappings().one()
    return _summary(dict(row), skipped=False)


def _news_entities(records: pl.DataFrame) -> pl.DataFrame:
    return (records.select("source", "news_id", "entities").explode("entities")
            .drop_nulls("entities").rename({"entities": "entity"}).unique(maintain_order=True))


def _summary(row: dict[str, object], *, skipped: bool) -> BatchSummary:
    fields = BatchSummary.__dataclass_fields__
    values = {k: v for k, v in row.items() if k in fields}
    values["batch_id"] = row["id"]
    values["skipped"] = skipped
    for name in ("started_at", "finished_at"):
        values[name] = None if row.get(name) is None else as_utc(row[name])  # type: ignore[arg-type]
    return BatchSummary(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RejectRow:
    """One rejected row of a batch: where it was, why, and its (redacted) text."""

    line: int
    reason: str
    raw: str


def list_rejects(*, engine: Engine, batch_id: int, limit: int) -> list[RejectRow]:
    """The first ``limit`` rejected rows of a batch, by line."""
    with engine.connect() as connection:
        if connection.execute(select(IngestBatch.id).where(IngestBatch.id == batch_id)
                              ).first() is None:
            raise NotFoundError(f"no batch {batch_id}; list the batches with `sentrec batches`")
        rows = connection.execute(select(Reject.line, Reject.reason, Reject.raw)
                                  .where(Reject.batch_id == batch_id)
                                  .order_by(Reject.line).limit(limit)).all()
    return [RejectRow(int(line), str(reason), str(raw)) for line, reason, raw in rows]


def table_counts(*, engine: Engine) -> dict[str, int]:
    """Rows per ingested table (records, labels, rejects, batches)."""
    models = (Message, News, Event, Item, Label, Reject, IngestBatch)
    with engine.connect() as connection:
        return {str(table_of(model).name): int(connection.execute(
            select(func.count()).select_from(model)).scalar_one()) for model in models}


def list_batches(*, engine: Engine, stream: Stream | None = None,
                 limit: int = 50) -> list[BatchSummary]:
    """Ingest batches, newest first."""
    query = select(IngestBatch).order_by(IngestBatch.id.desc()).limit(limit)
    if stream is not None:
        query = query.where(IngestBatch.stream == stream.value)
    with engine.connect() as connection:
        return [_summary(dict(row), skipped=False)
                for row in connection.execute(query).mappings()]


@dataclass(frozen=True)
class Freshness:
    """How new a stream's data is: its newest record's time and its last batch."""

    stream: str
    records: int
    newest_record: datetime | None
    last_batch: datetime | None


def data_freshness(*, engine: Engine) -> list[Freshness]:
    """Per stream, how many records, the newest record time (items have none) and when its
    last batch ended."""
    tables = ((Stream.MESSAGES, Message, Message.created_at),
              (Stream.NEWS, News, News.published_at),
              (Stream.EVENTS, Event, Event.occurred_at), (Stream.ITEMS, Item, None))
    found = []
    with engine.connect() as connection:
        for stream, model, time in tables:
            count = connection.execute(select(func.count()).select_from(model)).scalar_one()
            newest = None if time is None else connection.execute(
                select(func.max(time))).scalar_one()
            last = connection.execute(select(func.max(IngestBatch.finished_at)).where(
                IngestBatch.stream == stream.value)).scalar_one()
            found.append(Freshness(stream.value, int(count),
                                   None if newest is None else as_utc(newest),
                                   None if last is None else as_utc(last)))
    return found
