"""Flow ``monitor-sentiment``: new scores -> topics -> surge detection -> alerts -> report.

Incremental: a watermark (the newest ``scored_at`` already taken into account) tells which
documents are new; only windows from the earliest new document on are re-judged, with enough
history before them for the count model's seasonal baseline (four weeks), the share baseline
and a running episode to keep its dedup key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import Engine

from domain.detection import DetectorConfig, detector_config
from domain.episodes import Detection, detect_alerts, topic_breakdown
from domain.errors import NotReadyError
from domain.settings import Settings
from domain.windows import MonitorConfig
from flows.explain_evidence import explain_evidence
from flows.report import render_report, report_markdown
from flows.report.cache import ChartCache, home_charts
from flows.runtime import TASK_OPTIONS, ready_engine, redacted_errors
from flows.topics import refresh_topics
from storage.alerts import list_alerts, upsert_alerts
from storage.monitor_state import (
    latest_scoring_model,
    new_scores,
    newest_scored_document,
    set_watermark,
    watermark,
)
from storage.scores import scored_documents

log = logging.getLogger(__name__)

WINDOW = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class MonitorSummary:
    """What one monitoring pass did (and, from the flow, its topics and report)."""

    new_scores: int
    judged_from: datetime | None
    alerts_inserted: int
    alerts_updated: int
    documents: int
    alerts_revised: int = 0
    alerts_backfill: int = 0
    topic_model: str | None = None
    topics_assigned: int = 0
    report: str | None = None


def judge_since(*, engine: Engine, since: datetime, monitor: MonitorConfig, detector: str,
                config: DetectorConfig, evidence_top_n: int = 5,
                model_version_id: int | None = None) -> Detection:
    """Run the detector over every scored document from ``since`` on: the one path from the
    store to alerts, for monitoring and for the report alike."""
    documents = scored_documents(engine=engine, since=since)
    return detect_alerts(documents, monitor=monitor, detector=detector, config=config,
                         evidence_top_n=evidence_top_n, model_version_id=model_version_id)


def run_monitoring(*, engine: Engine, window: str = "hour", detector: str = "default",
                   config: DetectorConfig | None = None, by_topic: bool = False,
                   evidence_top_n: int = 5, horizon: timedelta = timedelta(days=2)
                   ) -> tuple[MonitorSummary, Detection | None]:
    """Judge the windows touched by scores written since the last run; upsert their alerts
    (episodes older than ``horizon`` are backfill)."""
    config = config or DetectorConfig()
    key = f"{detector}:{window}:{'topic' if by_topic else 'entity'}"
    fresh = new_scores(engine=engine, after=watermark(engine=engine, key=key))
    if fresh.count == 0 or fresh.earliest_document is None or fresh.newest_scored_at is None:
        return MonitorSummary(0, None, 0, 0, 0), None
    step = WINDOW[window]
    judged_from = _floor(fresh.earliest_document, step)
    history = judged_from - history_needed(config, step)
    detection = judge_since(engine=engine, since=history,
                            monitor=MonitorConfig(window=window, by_topic=by_topic),
                            detector=detector, config=config, evidence_top_n=evidence_top_n,
                            model_version_id=latest_scoring_model(engine=engine))
    # Episodes that ended before the touched windows were judged by an earlier run.
    touched = [a for a in detection.alerts if a.window_end > judged_from]
    explain_evidence(engine=engine, alerts=touched)
    summary = upsert_alerts(engine=engine, alerts=touched, horizon=horizon)
    set_watermark(engine=engine, key=key, scored_through=fresh.newest_scored_at)
    documents = int(detection.series["documents"].sum()) if detection.series.height else 0
    log.info("monitoring: %d new scores, windows from %s judged, %d alerts new, %d updated",
             fresh.count, judged_from, summary.inserted, summary.updated)
    return MonitorSummary(fresh.count, judged_from, summary.inserted, summary.updated,
                          documents, summary.revised, summary.backfill), detection


def write_report(*, engine: Engine, out: Path, days: int = 7, window: str = "hour",
                 detector: str = "default", config: DetectorConfig | None = None,
                 charts: ChartCache | None = None) -> Path:
    """The risk report for the ``days`` up to the newest scored document; ``charts`` keeps
    the charts whose data did not change from one report to the next."""
    config = config or DetectorConfig()
    newest = newest_scored_document(engine=engine)
    if newest is None:
        return render_report([], pl.DataFrame(), {}, out, charts=charts)
    start = newest - timedelta(days=days)
    history = start - history_needed(config, WINDOW[window])
    detection = judge_since(engine=engine, since=history, monitor=MonitorConfig(window=window),
                            detector=detector, config=config)
    series = detection.series.filter(pl.col("window_start") >= start)
    alerts = list_alerts(engine=engine, since=start, limit=1_000)
    breakdowns = {a.dedup_key: topic_breakdown(detection.documents, a) for a in alerts}
    return render_report(alerts, series, {a.dedup_key: a.evidence for a in alerts}, out,
                         breakdowns=breakdowns, charts=charts)


def history_needed(config: DetectorConfig, step: timedelta) -> timedelta:
    """How much before the first window to judge the detectors must see: the share baseline
    and a running episode's windows, and the count model's weeks of seasonal history (with
    less, the first windows get no count judgement at all)."""
    return max(step * (config.baseline_windows + config.cooldown_windows + 1),
               timedelta(days=config.counts.history_days))


def _floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step) * step


@task(retries=2, retry_delay_seconds=5, **TASK_OPTIONS)
@redacted_errors
def learn_topics(settings: Settings, k: int) -> tuple[str | None, int]:
    """Topics from the corpus (learned once) and a topic for every new document."""
    try:
        return refresh_topics(engine=ready_engine(settings),
                              models_dir=settings.home / "models", k=k)
    except NotReadyError as exc:
        get_run_logger().warning("topics skipped: %s", exc)
        return None, 0


@task(retries=2, retry_delay_seconds=5, **TASK_OPTIONS)
@redacted_errors
def detect(settings: Settings, window: str, detector: str, by_topic: bool) -> MonitorSummary:
    summary, _ = run_monitoring(engine=ready_engine(settings), window=window, detector=detector,
                                config=detector_config(settings), by_topic=by_topic,
                                horizon=timedelta(days=settings.alert_horizon_days))
    return summary


@task(**TASK_OPTIONS)
@redacted_errors
def report(settings: Settings, out: str, days: int, window: str, detector: str) -> str:
    engine = ready_engine(settings)
    path = write_report(engine=engine, out=Path(out), days=days, window=window,
                        detector=detector, config=detector_config(settings),
                        charts=home_charts(settings.home))
    create_markdown_artifact(markdown=report_markdown(list_alerts(engine=engine, limit=20)),
                             key="sentiment-alerts", description=f"report at {path}")
    return str(path)


@flow(name="monitor-sentiment", persist_result=False)
@redacted_errors
def monitor_sentiment(settings: Settings | None = None, window: str = "hour",
                      detector: str = "default", report_days: int = 7,
                      report_path: str | None = None, by_topic: bool = False,
                      topics: int = 20) -> MonitorSummary:
    """Give new documents a topic, judge the windows touched by new scores (per entity, or
    per entity and topic), keep one alert per episode, write the report."""
    settings = settings or Settings()
    topic_model, assigned = learn_topics(settings, topics)
    summary = detect(settings, window, detector, by_topic)
    out = report_path or str(settings.home / "reports" / "alerts.html")
    summary = replace(summary, topic_model=topic_model, topics_assigned=assigned,
                      report=report(settings, out, report_days, window, detector))
    get_run_logger().info("alerts: %d new, %d updated; report at %s",
                          summary.alerts_inserted, summary.alerts_updated, summary.report)
    return summary
