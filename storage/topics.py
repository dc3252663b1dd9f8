"""Topics learned from the corpus and each document's topic."""

from __future__ import annotations

import json

import polars as pl
from sqlalchemy import Engine, exists, insert, select

from storage.bulk import insert_ignore
from storage.ingest import table_of
from storage.schema import DocumentTopic, Message, News, Topic

DOC_SCHEMA = {"doc_kind": pl.String(), "doc_id": pl.Int64(), "text": pl.String()}


def latest_topic_model(*, engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(select(Topic.topic_model).order_by(Topic.id.desc())
                                  .limit(1)).scalar()


def write_topics(*, engine: Engine, topic_model: str, names: list[str],
                 top_terms: list[list[str]]) -> dict[int, int]:
    """Store a topic model's topics; return topic index -> topics.id."""
    ids: dict[int, int] = {}
    with engine.begin() as connection:
        for index, (name, terms) in enumerate(zip(names, top_terms, strict=True)):
            ids[index] = int(connection.execute(
                insert(Topic).returning(Topic.id),
                {"topic_model": topic_model, "topic_index": index, "name": name,
                 "top_terms": json.dumps(terms)}).scalar_one())
    return ids


def topic_ids(*, engine: Engine, topic_model: str) -> dict[int, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(Topic.topic_index, Topic.id)
                                  .where(Topic.topic_model == topic_model)).all()
    return {int(index): int(topic_id) for index, topic_id in rows}


def all_texts(*, engine: Engine, limit: int) -> list[str]:
    """Up to ``limit`` customer messages and headlines, the corpus topics are learned from."""
    with engine.connect() as connection:
        messages = connection.execute(select(Message.text).where(
            Message.author_role == "customer").order_by(Message.id).limit(limit)).scalars()
        texts = list(messages)
        news = connection.execute(select(News.headline).order_by(News.id)
                                  .limit(max(0, limit - len(texts)))).scalars()
        texts.extend(news)
    return texts


def unassigned_documents(*, engine: Engine, topic_model: str, kind: str, after_id: int,
                         limit: int) -> pl.DataFrame:
    """Documents of ``kind`` with id > ``after_id`` and no topic under ``topic_model``."""
    model, column = (Message, Message.text) if kind == "message" else (News, News.headline)
    missing = ~exists().where(DocumentTopic.doc_kind == kind,
                              DocumentTopic.doc_id == model.id,
                              DocumentTopic.topic_model == topic_model)
    with engine.connect() as connection:
        rows = connection.execute(select(model.id, column).where(missing, model.id > after_id)
                                  .order_by(model.id).limit(limit)).all()
    return pl.DataFrame({"doc_kind": [kind] * len(rows), "doc_id": [r[0] for r in rows],
                         "text": [r[1] for r in rows]}, schema=DOC_SCHEMA)


def write_assignments(*, engine: Engine, frame: pl.DataFrame) -> int:
    """Insert (doc_kind, doc_id, topic_model, topic_id, weight) rows; repeats are ignored."""
    with engine.begin() as connection:
        return insert_ignore(connection, table_of(DocumentTopic), frame,
                             ("doc_kind", "doc_id", "topic_model"))
