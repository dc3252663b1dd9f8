"""The alert store: one row per episode however often it is upserted, filters, status changes,
and the scored-document join that monitoring reads, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select

from domain.detection import AlertRecord, dedup_key
from storage.alerts import (
    AlertNotFoundError,
    acknowledge_alert,
    get_alert,
    list_alerts,
    resolve_alert,
    upsert_alerts,
)
from storage.schema import (
    Alert,
    DocumentTopic,
    IngestBatch,
    Message,
    ModelVersion,
    News,
    NewsEntity,
    SentimentScore,
    Topic,
)
from storage.scores import scored_documents

T0 = datetime(2024, 5, 1, 9, tzinfo=UTC)


def alert(entity: str = "acme", hours: int = 1, severity: int = 40, start: datetime = T0,
          observed: float = 0.7) -> AlertRecord:
    return AlertRecord(
        dedup_key=dedup_key(entity, None, "default", start), entity=entity, topic=None,
        window="hour", window_start=start, window_end=start + timedelta(hours=hours),
        observed=observed, baseline=0.3, z=4.2, severity=severity, volume=20 * hours,
        detector="default", evidence=[{"doc_id": 1, "text": "late again",
                                       "highlights": [["late", 0.6]]}])


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Alert)).scalar_one())


def test_upserting_an_episode_twice_updates_its_one_row(engine: Engine) -> None:
    first = upsert_alerts(engine=engine, alerts=[alert()])
    grown = dataclasses.replace(alert(hours=3, severity=65, observed=0.9),
                                evidence=[{"doc_id": 2}])
    second = upsert_alerts(engine=engine, alerts=[grown])
    assert (first.inserted, second.inserted, second.updated) == (1, 0, 1)
    assert count(engine) == 1
    [stored] = list_alerts(engine=engine)
    assert stored.window_end == T0 + timedelta(hours=3)
    assert (stored.severity, stored.observed, stored.volume) == (65, 0.9, 60)
    assert stored.evidence == [{"doc_id": 2}] and stored.status == "open"
    assert stored.window_start == T0 and stored.window_start.tzinfo is not None


def test_a_shorter_rerun_never_shrinks_an_episode(engine: Engine) -> None:
    upsert_alerts(engine=engine, alerts=[alert(hours=3, severity=65)])
    upsert_alerts(engine=engine, alerts=[alert(hours=1, severity=30)])
    [stored] = list_alerts(engine=engine)
    assert (stored.window_end, stored.severity) == (T0 + timedelta(hours=3), 65)


def test_filters_order_and_pages(engine: Engine) -> None:
    upsert_alerts(engine=engine, alerts=[
        alert("acme", severity=30), alert("zeta", severity=80),
        alert("acme", severity=55, start=T0 + timedelta(days=2)),
    ])
    assert [(a.entity, a.severity) for a in list_alerts(engine=engine)] == [
        ("zeta", 80), ("acme", 55), ("acme", 30)]
    assert [a.severity for a in list_alerts(engine=engine, entity="acme")] == [55, 30]
    assert [a.severity for a in list_alerts(engine=engine, min_severity=50)] == [80, 55]
    assert [a.severity for a in list_alerts(engine=engine, since=T0 + timedelta(days=1))] == [55]
    assert [a.severity for a in list_alerts(engine=engine, limit=1, offset=1)] == [55]
    with engine.connect() as connection:
        assert len(list_alerts(connection=connection, entity="zeta")) == 1
    with pytest.raises(ValueError, match="status must be one of"):
        list_alerts(engine=engine, status="closed")


def test_acknowledge_then_resolve(engine: Engine) -> None:
    upsert_alerts(engine=engine, alerts=[alert()])
    alert_id = list_alerts(engine=engine)[0].id
    assert acknowledge_alert(engine=engine, alert_id=alert_id).status == "acknowledged"
    assert [a.id for a in list_alerts(engine=engine, status="acknowledged")] == [alert_id]
    assert list_alerts(engine=engine, status="open") == []
    upsert_alerts(engine=engine, alerts=[alert(hours=2)])  # still grows while acknowledged
    stored = get_alert(engine=engine, alert_id=alert_id)
    assert stored is not None and stored.status == "acknowledged" and stored.volume == 40
    assert resolve_alert(engine=engine, alert_id=alert_id).status == "resolved"
    summary = upsert_alerts(engine=engine, alerts=[alert(hours=5)])
    assert summary.skipped_resolved == 1 and count(engine) == 1
    assert get_alert(engine=engine, alert_id=alert_id).volume == 40  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="is resolved and cannot become acknowledged"):
        acknowledge_alert(engine=engine, alert_id=alert_id)
    with pytest.raises(AlertNotFoundError, match="no alert has id 999"):
        acknowledge_alert(engine=engine, alert_id=999)
    assert get_alert(engine=engine, alert_id=999) is None


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
