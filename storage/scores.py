"""Labelled documents for training, unlabelled texts for distillation, documents waiting for
scores, writing scores, and the scored documents monitoring reads."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy import ColumnElement, Engine, and_, exists, func, literal, select, union, union_all
from sqlalchemy.orm import Mapped

from domain.records import LabelKind, as_utc
from domain.windows import SCORED_SCHEMA
from storage.bulk import insert_ignore
from storage.ingest import table_of
from storage.schema import (
    DocumentTopic,
    Label,
    Message,
    News,
    NewsEntity,
    SentimentScore,
    Topic,
)

DOC_SCHEMA = {"doc_kind": pl.String(), "doc_id": pl.Int64(), "text": pl.String()}
SCORE_COLUMNS = {"doc_kind": pl.String(), "doc_id": pl.Int64(), "model_version_id": pl.Int64(),
                 "p_negative": pl.Float64(), "p_neutral": pl.Float64(),
                 "p_positive": pl.Float64(), "score": pl.Float64(), "highlights": pl.String(),
                 "sentences": pl.Int64(), "scored_at": pl.Datetime("us", "UTC")}


def labelled_documents(*, engine: Engine, origins: list[str] | None = None,
                       kind: LabelKind = LabelKind.SENTIMENT) -> pl.DataFrame:
    """(doc_kind, doc_id, text, label, origin, agreement), one row per document with a
    ``kind`` label.

    A document labelled by several origins (PhraseBank's nested agreement files) keeps the
    label of the highest agreement, so it is counted once.
    """
    message_labels = (
        select(Label.doc_kind, Message.id.label("doc_id"), Message.text.label("text"),
               Label.label, Label.origin, Label.agreement)
        .join(Message, and_(Label.doc_kind == "message", Message.source == Label.source,
                            Message.message_id == Label.doc_id))
        .where(Label.kind == kind.value))
    news_labels = (
        select(Label.doc_kind, News.id.label("doc_id"), News.headline.label("text"),
               Label.label, Label.origin, Label.agreement)
        .join(News, and_(Label.doc_kind == "news", News.source == Label.source,
                         News.news_id == Label.doc_id))
        .where(Label.kind == kind.value))
    if origins:
        message_labels = message_labels.where(Label.origin.in_(origins))
        news_labels = news_labels.where(Label.origin.in_(origins))
    query = union_all(message_labels, news_labels)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pl.DataFrame([tuple(r) for r in rows], orient="row", schema={
        "doc_kind": pl.String(), "doc_id": pl.Int64(), "text": pl.String(),
        "label": pl.String(), "origin": pl.String(), "agreement": pl.Float64()})
    return (frame.sort(["doc_kind", "doc_id", "agreement"], descending=[False, False, True],
                       nulls_last=True)
            .unique(["doc_kind", "doc_id"], keep="first", maintain_order=True))


def unlabelled_texts(*, engine: Engine, kind: LabelKind = LabelKind.SENTIMENT) -> list[str]:
    """Every distinct text in the store without a ``kind`` label: news headlines and the
    customers' messages (agents' replies are not what the models score), sorted."""
    def unlabelled(doc_kind: str, source: Mapped[str], doc_id: Mapped[str]) -> ColumnElement[bool]:
        return ~exists().where(Label.doc_kind == doc_kind, Label.source == source,
                               Label.doc_id == doc_id, Label.kind == kind.value)

    headlines = select(News.headline.label("text")).where(
        unlabelled("news", News.source, News.news_id))
    messages = select(Message.text.label("text")).where(
        Message.author_role == "customer",
        unlabelled("message", Message.source, Message.message_id))
    with engine.connect() as connection:
        rows = connection.execute(union(headlines, messages)).scalars().all()
    return sorted(text for text in rows if text and text.strip())


def distinct_texts(*, engine: Engine) -> list[str]:
    """Every distinct message text and news headline of the store, labelled or not, sorted
    (what the accurate profile's encoder is adapted on; message texts are stored redacted)."""
    query = union(select(Message.text.label("text")), select(News.headline.label("text")))
    with engine.connect() as connection:
        texts = connection.execute(select(query.subquery().c.text)).scalars().all()
    return sorted(t for t in texts if t and t.strip())


def unscored_documents(*, engine: Engine, model_version_id: int, limit: int,
                       after: tuple[str, int] | None = None) -> pl.DataFrame:
    """The next ``limit`` documents (messages, then news) the version has not scored yet.

    Keyset pagination on (doc_kind, doc_id) so a run walks the store once.
    """
    def missing(kind: str, doc_id: object) -> object:
        return ~exists().where(SentimentScore.doc_kind == kind,
                               SentimentScore.doc_id == doc_id,
                               SentimentScore.model_version_id == model_version_id)

    frames = []
    remaining = limit
    for kind, model, text_column in (("message", Message, Message.text),
                                     ("news", News, News.headline)):
        if remaining <= 0:
            break
        if after is not None and after[0] == "news" and kind == "message":
            continue
        query = select(model.id, text_column).where(missing(kind, model.id))  # type: ignore[arg-type]
        if after is not None and after[0] == kind:
            query = query.where(model.id > after[1])
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(model.id).limit(remaining)).all()
        frames.append(pl.DataFrame({"doc_kind": [kind] * len(rows),
                                    "doc_id": [r[0] for r in rows],
                                    "text": [r[1] for r in rows]}, schema=DOC_SCHEMA))
        remaining -= len(rows)
    return pl.concat(frames) if frames else pl.DataFrame(schema=DOC_SCHEMA)


def write_scores(*, engine: Engine, scores: pl.DataFrame) -> int:
    """Insert scores; a document already scored by the same version is left as it was."""
    frame = scores.select([pl.col(c).cast(t) for c, t in SCORE_COLUMNS.items()])
    with engine.begin() as connection:
        return insert_ignore(connection, table_of(SentimentScore), frame,
                             ("doc_kind", "doc_id", "model_version_id"))


def scored_documents(*, engine: Engine, since: datetime | None = None,
                     model_version_id: int | None = None, topic_model: str | None = None,
                     roles: tuple[str, ...] = ("customer",)) -> pl.DataFrame:
    """One row per scored document and entity (``SCORED_SCHEMA``), the input of monitoring.

    ``model_version_id`` defaults to the latest version that has scores; ``topic_model`` to the
    topic model written last. Messages keep authors in ``roles`` (agents' replies would dilute
    customer sentiment); news counts once per entity it is tagged with; undated news is left out.
    """
    with engine.connect() as connection:
        if model_version_id is None:
            model_version_id = connection.execute(
                select(func.max(SentimentScore.model_version_id))).scalar_one()
        if topic_model is None:
            topic_model = connection.execute(
                select(Topic.topic_model).order_by(Topic.id.desc()).limit(1)).scalar()
        if model_version_id is None:
            return pl.DataFrame(schema=SCORED_SCHEMA)
        topics = (select(DocumentTopic.doc_kind, DocumentTopic.doc_id, Topic.name)
                  .join(Topic, Topic.id == DocumentTopic.topic_id)
                  .where(DocumentTopic.topic_model == topic_model).subquery())
        messages = select(
            Message.id.label("doc_id"), literal("message").label("kind"), Message.entity,
            Message.created_at.label("created_at"), Message.text.label("text"),
        ).where(Message.author_role.in_(roles), Message.entity.is_not(None))
        news = select(
            News.id.label("doc_id"), literal("news").label("kind"), NewsEntity.entity,
            News.published_at.label("created_at"), News.headline.label("text"),
        ).join(NewsEntity, (NewsEntity.source == News.source) & (NewsEntity.news_id ==
                                                                 News.news_id))\
            .where(News.published_at.is_not(None))
        if since is not None:
            messages = messages.where(Message.created_at >= as_utc(since))
            news = news.where(News.published_at >= as_utc(since))
        docs = union_all(messages, news).subquery()
        s = SentimentScore
        query = select(
            docs.c.kind, docs.c.doc_id, docs.c.entity, topics.c.name, docs.c.created_at,
            s.score, s.p_negative, s.p_neutral, s.p_positive, docs.c.text, s.highlights,
        ).join(s, (s.doc_kind == docs.c.kind) & (s.doc_id == docs.c.doc_id))\
            .outerjoin(topics, (topics.c.doc_kind == docs.c.kind) &
                       (topics.c.doc_id == docs.c.doc_id))\
            .where(s.model_version_id == model_version_id)
        rows = [(*r[:4], as_utc(r[4]), *r[5:]) for r in connection.execute(query)]
    return pl.DataFrame(rows, schema=SCORED_SCHEMA, orient="row")
