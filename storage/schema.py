"""SQLAlchemy 2 typed schema of the store (see DESIGN.md, Store).

Records have a surrogate integer id for joins and a unique natural key ``(source, <id>)`` that
ingestion writes with ``ON CONFLICT DO NOTHING``, which is what makes re-runs idempotent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Stable constraint names, so Alembic migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utc_time() -> DateTime:
    return DateTime(timezone=True)


class IngestBatch(Base):
    """One file brought in: its checksum and the exact fate of every row."""

    __tablename__ = "ingest_batches"
    __table_args__ = (UniqueConstraint("stream", "source", "file_sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stream: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(utc_time())
    finished_at: Mapped[datetime | None] = mapped_column(utc_time())
    # rows_read == loaded + rejected + duplicate, checked before the batch commits.
    rows_read: Mapped[int] = mapped_column(Integer)
    loaded: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    duplicate: Mapped[int] = mapped_column(Integer)
    labels_loaded: Mapped[int] = mapped_column(Integer, default=0)
    items_loaded: Mapped[int] = mapped_column(Integer, default=0)


class Reject(Base):
    """A row that was not loaded, with where it was and why."""

    __tablename__ = "rejects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


class Message(Base):
    """A customer-service log line; ``text`` is already redacted."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("source", "message_id"),
        Index("ix_messages_entity_created_at", "entity", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(128))
    conversation_id: Mapped[str | None] = mapped_column(String(128))
    author_role: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(utc_time())
    text: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"))


class News(Base):
    """A news item; ``entities`` is the ``|``-joined tag list, one row each in news_entities."""

    __tablename__ = "news"
    __table_args__ = (UniqueConstraint("source", "news_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    news_id: Mapped[str] = mapped_column(String(128))
    # Null for undated collections (Financial PhraseBank): kept for training, not monitoring.
    published_at: Mapped[datetime | None] = mapped_column(utc_time(), index=True)
    headline: Mapped[str] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    entities: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"))


class NewsEntity(Base):
    """Which entities (tickers, companies) a news item is about."""

    __tablename__ = "news_entities"
    __table_args__ = (UniqueConstraint("source", "news_id", "entity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    news_id: Mapped[str] = mapped_column(String(128))
    entity: Mapped[str] = mapped_column(String(128), index=True)


class Event(Base):
    """A behaviour event; ``seq`` (file order) breaks ties in ``occurred_at``."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        Index("ix_events_source_user_id", "source", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    item_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime | None] = mapped_column(utc_time())
    seq: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"))


class Item(Base):
    """A catalogue item with the text used for cold-start vectors."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("source", "item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"))


class Label(Base):
    """A training label for a message or news item, with the dataset it came from."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("doc_kind", "source", "doc_id", "origin"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    doc_kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    doc_id: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(64))
    # Share of annotators who agreed (PhraseBank 0.5 / 0.66 / 0.75 / 1.0), or a confidence.
    agreement: Mapped[float | None] = mapped_column(Float)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"))
