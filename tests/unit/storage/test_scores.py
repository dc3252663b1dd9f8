"""The scored-document join monitoring reads (``storage.scores.scored_documents``), on SQLite
and PostgreSQL: messages and news per entity, topics, the latest model version; and the
unlabelled texts distillation learns from (``storage.scores.unlabelled_texts``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select

from storage.schema import (
    DocumentTopic,
    IngestBatch,
    Label,
    Message,
    ModelVersion,
    News,
    NewsEntity,
    SentimentScore,
    Topic,
)
from storage.scores import scored_documents, unlabelled_texts

T0 = datetime(2024, 5, 1, 9, tzinfo=UTC)


def seed_scores(engine: Engine) -> int:
    """Two customer messages, one agent reply, one news item about two tickers; one model."""
    now = datetime.now(UTC)
    with engine.begin() as c:
        batch = c.execute(insert(IngestBatch).returning(IngestBatch.id), {
            "stream": "messages", "source": "s", "format": "canonical", "path": "x",
            "file_sha256": "0" * 64, "started_at": now, "rows_read": 4, "loaded": 4,
            "rejected": 0, "duplicate": 0, "labels_loaded": 0, "items_loaded": 0}).scalar_one()
        msg = [c.execute(insert(Message).returning(Message.id), {
            "source": "s", "message_id": f"m{i}", "conversation_id": "c", "author_role": role,
            "entity": "acme", "channel": "twitter", "created_at": T0 + timedelta(hours=i),
            "text": f"text {i}", "batch_id": batch}).scalar_one()
            for i, role in enumerate(("customer", "customer", "agent"))]
        news = c.execute(insert(News).returning(News.id), {
            "source": "wire", "news_id": "n1", "published_at": T0, "headline": "ACME and ZED fall",
            "body": None, "entities": "ACME|ZED", "url": None, "batch_id": batch}).scalar_one()
        c.execute(insert(NewsEntity), [{"source": "wire", "news_id": "n1", "entity": e}
                                       for e in ("ACME", "ZED")])
        versions = [c.execute(insert(ModelVersion).returning(ModelVersion.id), {
            "name": "sentiment", "version": v, "status": "candidate", "eval_set": "e",
            "primary_metric": "f1", "metrics": "{}", "params": "{}", "artifact_path": "p",
            "sha256": "0" * 64, "created_at": now}).scalar_one() for v in (1, 2)]
        for kind, doc_id in [*(("message", m) for m in msg), ("news", news)]:
            for version, p_neg in zip(versions, (0.1, 0.7), strict=True):
                c.execute(insert(SentimentScore), {
                    "doc_kind": kind, "doc_id": doc_id, "model_version_id": version,
                    "p_negative": p_neg, "p_neutral": 0.2, "p_positive": 0.8 - p_neg,
                    "score": 0.8 - 2 * p_neg, "highlights": json.dumps([["fall", 0.4]]),
                    "sentences": 1, "scored_at": now})
        topic = c.execute(insert(Topic).returning(Topic.id), {
            "topic_model": "nmf-1", "topic_index": 0, "name": "app / crash / login",
            "top_terms": "[]"}).scalar_one()
        c.execute(insert(DocumentTopic), {"doc_kind": "message", "doc_id": msg[0],
                                          "topic_model": "nmf-1", "topic_id": topic,
                                          "weight": 0.9})
    return int(versions[1])


def test_scored_documents_join_messages_news_entities_and_topics(engine: Engine) -> None:
    latest = seed_scores(engine)
    frame = scored_documents(engine=engine).sort("doc_kind", "entity", "created_at")
    assert frame.select("doc_kind", "entity", "topic", "text").rows() == [
        ("message", "acme", "app / crash / login", "text 0"),
        ("message", "acme", None, "text 1"),
        ("news", "ACME", None, "ACME and ZED fall"),
        ("news", "ZED", None, "ACME and ZED fall"),
    ]
    assert frame["p_negative"].to_list() == [0.7] * 4  # the latest model version only
    assert frame["created_at"].to_list()[:2] == [T0, T0 + timedelta(hours=1)]
    assert str(frame["created_at"].dtype) == "Datetime(time_unit='us', time_zone='UTC')"
    older = scored_documents(engine=engine, model_version_id=latest - 1)
    assert older["p_negative"].to_list() == [0.1] * 4
    recent = scored_documents(engine=engine, since=T0 + timedelta(minutes=30))
    assert recent["text"].to_list() == ["text 1"]


def test_scored_documents_of_an_empty_store_is_an_empty_frame(engine: Engine) -> None:
    frame = scored_documents(engine=engine)
    assert frame.is_empty() and "highlights" in frame.columns


def test_unlabelled_texts_are_every_distinct_unlabelled_headline_and_customer_message(
        engine: Engine) -> None:
    seed_scores(engine)  # customers "text 0", "text 1"; agent "text 2"; news "ACME and ZED fall"
    with engine.begin() as c:
        batch = c.execute(select(IngestBatch.id)).scalar_one()
        c.execute(insert(News), [
            {"source": "wire", "news_id": f"n{i}", "published_at": T0, "headline": headline,
             "body": None, "entities": None, "url": None, "batch_id": batch}
            for i, headline in ((2, "text 0"), (3, "Bank fined"), (4, "ACME and ZED fall"),
                                (5, "  "))])
        c.execute(insert(Label), [  # a sentiment label removes a document, an intent one not
            {"doc_kind": doc_kind, "source": source, "doc_id": doc_id, "kind": kind,
             "label": label, "origin": "hand", "agreement": None, "batch_id": batch}
            for doc_kind, source, doc_id, kind, label in (
                ("message", "s", "m1", "sentiment", "negative"),
                ("message", "s", "m0", "intent", "card_arrival"),
                ("news", "wire", "n3", "sentiment", "negative"))])
    assert unlabelled_texts(engine=engine) == ["ACME and ZED fall", "text 0"]
