"""Monitoring as plain functions: read new scores, detect surges, keep alerts, write the report.

Incremental: a watermark (the newest ``scored_at`` already taken into account) tells which
documents are new; only windows from the earliest new document on are re-judged, with enough
history before them for the baseline and for a running episode to keep its dedup key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, func, select, union_all

from domain.detection import Detection, DetectorConfig, detect_alerts
from domain.monitoring import MonitorConfig
from flows.report_html import render_report
from storage.alerts import list_alerts, scored_documents, upsert_alerts
from storage.schema import Message, MonitorState, News, SentimentScore

log = logging.getLogger(__name__)

WINDOW = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class MonitorSummary:
    new_scores: int
    judged_from: datetime | None
    alerts_inserted: int
    alerts_updated: int
    documents: int


def run_monitoring(*, engine: Engine, window: str = "hour", detector: str = "default",
                   config: DetectorConfig | None = None, by_topic: bool = False,
                   evidence_top_n: int = 5) -> tuple[MonitorSummary, Detection | None]:
    """Judge the windows touched by scores written since the last run; upsert their alerts."""
    config = config or DetectorConfig()
    key = f"{detector}:{window}:{'topic' if by_topic else 'entity'}"
    watermark = _watermark(engine, key)
    newest, new_scores, earliest = _new_scores(engine, watermark)
    if new_scores == 0 or earliest is None or newest is None:
        return MonitorSummary(0, None, 0, 0, 0), None
    step = WINDOW[window]
    judged_from = _floor(earliest, step)
    history = judged_from - step * (config.baseline_windows + config.cooldown_windows + 1)
    documents = scored_documents(engine=engine, since=history)
    detection = detect_alerts(documents, monitor=MonitorConfig(window=window, by_topic=by_topic),
                              detector=detector, config=config, evidence_top_n=evidence_top_n,
                              model_version_id=_latest_model(engine))
    # Episodes that ended before the touched windows were judged by an earlier run.
    touched = [a for a in detection.alerts if a.window_end > judged_from]
    summary = upsert_alerts(engine=engine, alerts=touched)
    _set_watermark(engine, key, newest)
    log.info("monitoring: %d new scores, windows from %s judged, %d alerts new, %d updated",
             new_scores, judged_from, summary.inserted, summary.updated)
    return MonitorSummary(new_scores, judged_from, summary.inserted, summary.updated,
                          documents.height), detection


def write_report(*, engine: Engine, out: Path, days: int = 7, window: str = "hour",
                 detector: str = "default", config: DetectorConfig | None = None) -> Path:
    """The risk report for the ``days`` up to the newest scored document."""
    config = config or DetectorConfig()
    newest = _newest_document(engine)
    if newest is None:
        return render_report([], pl.DataFrame(), {}, out)
    start = newest - timedelta(days=days)
    history = start - WINDOW[window] * (config.baseline_windows + 1)
    documents = scored_documents(engine=engine, since=history)
    detection = detect_alerts(documents, monitor=MonitorConfig(window=window), detector=detector,
                              config=config)
    series = detection.series.filter(pl.col("window_start") >= start)
    alerts = list_alerts(engine=engine, since=start, limit=1_000)
    return render_report(alerts, series, {a.dedup_key: a.evidence for a in alerts}, out)


def _floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step) * step


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _watermark(engine: Engine, key: str) -> datetime | None:
    with engine.connect() as connection:
        value = connection.execute(select(MonitorState.scored_through)
                                   .where(MonitorState.key == key)).scalar_one_or_none()
    return _utc(value)


def _set_watermark(engine: Engine, key: str, scored_through: datetime) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        updated = connection.execute(
            MonitorState.__table__.update()  # type: ignore[attr-defined]
            .where(MonitorState.key == key)
            .values(scored_through=scored_through, updated_at=now)).rowcount
        if not updated:
            connection.execute(MonitorState.__table__.insert(),  # type: ignore[attr-defined]
                               {"key": key, "scored_through": scored_through, "updated_at": now})


def _new_scores(engine: Engine, watermark: datetime | None
                ) -> tuple[datetime | None, int, datetime | None]:
    """(newest scored_at, count, earliest document time) of scores after the watermark."""
    newer = [] if watermark is None else [SentimentScore.scored_at > watermark]
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
    return _utc(newest), int(count), _utc(earliest)


def _newest_document(engine: Engine) -> datetime | None:
    with engine.connect() as connection:
        messages = connection.execute(
            select(func.max(Message.created_at)).join(
                SentimentScore, (SentimentScore.doc_kind == "message") &
                (SentimentScore.doc_id == Message.id))).scalar_one()
        news = connection.execute(
            select(func.max(News.published_at)).join(
                SentimentScore, (SentimentScore.doc_kind == "news") &
                (SentimentScore.doc_id == News.id))).scalar_one()
    values = [_utc(v) for v in (messages, news) if v is not None]
    return max(v for v in values if v is not None) if values else None


def _latest_model(engine: Engine) -> int | None:
    with engine.connect() as connection:
        value = connection.execute(select(func.max(SentimentScore.model_version_id))
                                   ).scalar_one()
    return None if value is None else int(value)


def refresh_topics(*, engine: Engine, models_dir: Path, k: int = 20, refit: bool = False,
                   corpus_limit: int = 200_000, chunk: int = 20_000) -> tuple[str, int]:
    """Learn topics when there are none (or on ``refit``), then give every new document one.

    Returns the topic model's name and how many documents were assigned now. A document whose
    words are all outside the vocabulary gets no topic and shows as "no topic".
    """
    from models.topics import UNASSIGNED, TopicConfig, TopicModel
    from storage.topics import (
        all_texts,
        latest_topic_model,
        topic_ids,
        unassigned_documents,
        write_assignments,
        write_topics,
    )

    name = None if refit else latest_topic_model(engine=engine)
    if name is None:
        texts = all_texts(engine=engine, limit=corpus_limit)
        if len(texts) < k * 5:
            raise ValueError(f"only {len(texts)} documents to learn {k} topics from; ingest "
                             "more messages or news first")
        model = TopicModel.fit(texts, TopicConfig(k=k))
        name = f"nmf{k}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        models_dir.mkdir(parents=True, exist_ok=True)
        model.save(models_dir / f"{name}.json")
        write_topics(engine=engine, topic_model=name, names=model.names,
                     top_terms=model.top_terms())
    else:
        model = TopicModel.load(models_dir / f"{name}.json")
    ids = topic_ids(engine=engine, topic_model=name)
    assigned = 0
    for kind in ("message", "news"):
        after = 0
        while True:
            page = unassigned_documents(engine=engine, topic_model=name, kind=kind,
                                        after_id=after, limit=chunk)
            if page.is_empty():
                break
            after = int(page["doc_id"][-1])
            topics, weights = model.assign(page["text"].to_list())
            frame = page.select("doc_kind", "doc_id").with_columns(
                pl.lit(name).alias("topic_model"),
                pl.Series("topic_id", [ids.get(int(t)) if t != UNASSIGNED else None
                                       for t in topics], dtype=pl.Int64),
                pl.Series("weight", weights.astype(float)))
            # A document with no word of the vocabulary gets no topic ("no topic").
            kept = frame.filter(pl.col("topic_id").is_not_null())
            write_assignments(engine=engine, frame=kept)
            assigned += kept.height
    return name, assigned
