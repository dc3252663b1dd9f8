"""SQLAlchemy 2 typed schema of the store (see DESIGN.md, Store).

Records have a surrogate integer id for joins and a unique natural key ``(source, <id>)`` that
ingestion writes with ``ON CONFLICT DO NOTHING``, which is what makes re-runs idempotent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
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
    # The text encoding the file was read in (null for binary formats such as Parquet).
    encoding: Mapped[str | None] = mapped_column(String(32))


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
    """A training label for a message or news item, with the dataset it came from.

    ``kind`` says what the label names: a sentiment class, or a customer's intent (Banking77's
    ``card_arrival``); one document may carry one of each from the same dataset.
    """

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("doc_kind", "source", "doc_id", "kind", "origin"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    doc_kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    doc_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), server_default="sentiment")
    label: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(64))
    # Share of annotators who agreed (PhraseBank 0.5 / 0.66 / 0.75 / 1.0), or a confidence.
    agreement: Mapped[float | None] = mapped_column(Float)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"))


class ModelVersion(Base):
    """A trained model: where its artifact is, its checksum, and how it scored.

    At most one version per ``name`` is active (a partial unique index enforces it). A
    candidate becomes active only if it beats the active one on the same ``eval_set``.
    """

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        Index("uq_model_versions_one_active", "name", unique=True,
              sqlite_where=text("status = 'active'"),
              postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # candidate / active / retired
    eval_set: Mapped[str] = mapped_column(String(128))
    primary_metric: Mapped[str] = mapped_column(String(32))
    metrics: Mapped[str] = mapped_column(Text)  # JSON object
    params: Mapped[str] = mapped_column(Text)  # JSON object
    artifact_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    # The sha256 of the FAISS index built from this version (recommenders), checked on load.
    index_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(utc_time())
    activated_at: Mapped[datetime | None] = mapped_column(utc_time())


class ModelEvent(Base):
    """Every decision about a model version: promoted, kept out, rolled back, with why."""

    __tablename__ = "model_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    action: Mapped[str] = mapped_column(String(32))  # promoted / not promoted / rolled back ...
    reason: Mapped[str] = mapped_column(Text)
    margin: Mapped[float | None] = mapped_column(Float)  # candidate minus champion
    at: Mapped[datetime] = mapped_column(utc_time())


class SentimentScore(Base):
    """One document scored by one model version, with its attention highlights."""

    __tablename__ = "sentiment_scores"
    __table_args__ = (UniqueConstraint("doc_kind", "doc_id", "model_version_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    doc_kind: Mapped[str] = mapped_column(String(16))  # "message" or "news"
    doc_id: Mapped[int] = mapped_column(BigInteger)  # messages.id or news.id
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    p_negative: Mapped[float] = mapped_column(Float)
    p_neutral: Mapped[float] = mapped_column(Float)
    p_positive: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)  # p_positive - p_negative
    highlights: Mapped[str] = mapped_column(Text)  # JSON [[token, weight], ...]
    sentences: Mapped[int] = mapped_column(Integer)  # pieces a long text was scored in
    scored_at: Mapped[datetime] = mapped_column(utc_time())


class Topic(Base):
    """A topic learned from the corpus, named by its top terms."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("topic_model", "topic_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic_model: Mapped[str] = mapped_column(String(64))
    topic_index: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(256))
    top_terms: Mapped[str] = mapped_column(Text)  # JSON list


class DocumentTopic(Base):
    """The one topic a document is assigned under a topic model."""

    __tablename__ = "document_topics"
    __table_args__ = (UniqueConstraint("doc_kind", "doc_id", "topic_model"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    doc_kind: Mapped[str] = mapped_column(String(16))
    doc_id: Mapped[int] = mapped_column(BigInteger)
    topic_model: Mapped[str] = mapped_column(String(64))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    weight: Mapped[float] = mapped_column(Float)


class Alert(Base):
    """An abnormal negative surge for an entity (and topic) over a window, with evidence.

    ``dedup_key`` identifies the episode, so one episode is one alert, updated while it lasts.
    """

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_entity_window_start", "entity", "window_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(256), unique=True)
    entity: Mapped[str] = mapped_column(String(128))
    topic: Mapped[str | None] = mapped_column(String(256))
    window: Mapped[str] = mapped_column(String(16))  # "hour" or "day"
    window_start: Mapped[datetime] = mapped_column(utc_time())
    window_end: Mapped[datetime] = mapped_column(utc_time())
    metric: Mapped[str] = mapped_column(String(32))
    observed: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float] = mapped_column(Float)
    z: Mapped[float] = mapped_column(Float)
    severity: Mapped[int] = mapped_column(Integer)  # 0-100
    volume: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[str] = mapped_column(Text)  # JSON list of documents with highlights
    detector: Mapped[str] = mapped_column(String(64))
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    status: Mapped[str] = mapped_column(String(16))  # open / acknowledged / resolved
    created_at: Mapped[datetime] = mapped_column(utc_time())
    updated_at: Mapped[datetime] = mapped_column(utc_time())
    negatives: Mapped[int | None] = mapped_column(Integer)  # negative documents in the episode
    signals: Mapped[str | None] = mapped_column(Text)  # JSON: each signal that fired
    reason: Mapped[str | None] = mapped_column(Text)  # the signals in words
    changes: Mapped[str | None] = mapped_column(Text)  # JSON: over-represented terms, topics
    # Found in windows older than the horizon when monitoring ran: history, never paged.
    backfill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AlertRevision(Base):
    """An alert judged again under another sentiment model: what it was and what it became.

    Re-scoring never changes an alert silently and never re-opens it."""

    __tablename__ = "alert_revisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"),
                                          index=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    old_severity: Mapped[int] = mapped_column(Integer)
    new_severity: Mapped[int] = mapped_column(Integer)
    old_reason: Mapped[str | None] = mapped_column(Text)
    new_reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(utc_time())


class RecommendationSet(Base):
    """One published generation of recommendations; readers only see the active one."""

    __tablename__ = "recommendation_sets"
    __table_args__ = (
        Index("uq_recommendation_sets_one_active", "status", unique=True,
              sqlite_where=text("status = 'active'"),
              postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    status: Mapped[str] = mapped_column(String(16))  # building / active / retired
    k: Mapped[int] = mapped_column(Integer)
    users: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(utc_time())
    activated_at: Mapped[datetime | None] = mapped_column(utc_time())


class Recommendation(Base):
    """One ranked item for one user in one set."""

    __tablename__ = "recommendations"

    set_id: Mapped[int] = mapped_column(ForeignKey("recommendation_sets.id",
                                                   ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(64))  # e.g. cold start


class ApiKey(Base):
    """A key of the lookup API; only its sha256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(utc_time())
    revoked_at: Mapped[datetime | None] = mapped_column(utc_time())


class MonitorState(Base):
    """How far monitoring has read: the newest score it has taken into account, per key."""

    __tablename__ = "monitor_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    scored_through: Mapped[datetime] = mapped_column(utc_time())
    updated_at: Mapped[datetime] = mapped_column(utc_time())


class TeacherLogit(Base):
    """What an accurate sentiment version said about one text when it taught the fast model,
    kept so the next distillation from it labels only texts it has not seen. The text is
    known by its sha256 only (``storage.teacher``)."""

    __tablename__ = "teacher_logits"
    __table_args__ = (UniqueConstraint("model_version_id", "labeller", "text_sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    labeller: Mapped[str] = mapped_column(String(16))  # "int8" (CPU) or "float" (GPU)
    text_sha256: Mapped[str] = mapped_column(String(64))
    logit_negative: Mapped[float] = mapped_column(Float)
    logit_neutral: Mapped[float] = mapped_column(Float)
    logit_positive: Mapped[float] = mapped_column(Float)
    labelled_at: Mapped[datetime] = mapped_column(utc_time())
