"""The ``daily`` flow the scheduler runs, and ``sentrec deploy``.

Steps: ingest new files from the landing folders, score, monitor (and write the report),
index the support conversations when new replies arrived, retrain when due, publish. Each
step is a subflow with retries on transient errors. A step that fails leaves what it would
have replaced in place (the active model, the active recommendation set, the live support
index, earlier alerts); the steps after it that need its output are skipped and the run ends
failed, naming the step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from domain.records import Stream
from domain.settings import Settings
from flows.index_conversations import index_conversations, index_due
from flows.ingest import FLOWS
from flows.monitor_sentiment import monitor_sentiment
from flows.publish_recommendations import publish_recommendations
from flows.runtime import ready_engine, redacted_errors
from flows.score_documents import score_documents
from flows.train_recommender import train_recommender_flow
from flows.train_sentiment import train_sentiment_flow
from storage.registry import RECOMMENDER, SENTIMENT, active_version

log = logging.getLogger(__name__)

LANDING_STREAMS = ("messages", "news", "events", "items")


def landing_files(landing: Path) -> dict[Stream, list[str]]:
    """The files waiting in each stream's landing folder (sorted, so batches keep order)."""
    found: dict[Stream, list[str]] = {}
    for name in LANDING_STREAMS:
        folder = landing / name
        if folder.is_dir():
            files = sorted(str(p) for p in folder.iterdir() if p.is_file()
                           and not p.name.startswith("."))
            if files:
                found[Stream(name)] = files
    return found


def retrain_due(settings: Settings, name: str) -> bool:
    """True when ``name`` has no active version or it is older than ``retrain_days``."""
    active = active_version(engine=ready_engine(settings), name=name)
    if active is None:
        return True
    return datetime.now(UTC) - active.created_at >= timedelta(days=settings.retrain_days)


@dataclass(frozen=True)
class DailyRun:
    """The steps a daily run completed, each with its flow's result, in order."""

    steps: dict[str, Any]


@flow(name="daily", persist_result=False)
@redacted_errors
def daily(settings: Settings | None = None, retrain: bool | None = None) -> DailyRun:
    """Ingest, score, monitor, report, index support cases, retrain when due, publish."""
    settings = settings or Settings()
    logger = get_run_logger()
    engine = ready_engine(settings)
    done: dict[str, Any] = {}
    failed: list[str] = []

    def step(name: str, call: Any, **kwargs: Any) -> Any:
        try:
            done[name] = call(**kwargs)
        except Exception as exc:  # the step's own flow run holds the traceback
            logger.error("step %s failed: %s: %s; earlier outputs stay active", name,
                         type(exc).__name__, exc)
            failed.append(name)
            return None
        return done[name]

    if settings.landing is not None:
        for stream, files in landing_files(settings.landing).items():
            step(f"ingest-{stream.value}", FLOWS[stream], paths=files, settings=settings)
    sentiment_due = retrain if retrain is not None else retrain_due(settings, SENTIMENT)
    if sentiment_due:
        step("train-sentiment", train_sentiment_flow, settings=settings)
    scored = active_version(engine=engine, name=SENTIMENT) is not None and \
        step("score-documents", score_documents, settings=settings) is not None
    if scored:
        step("monitor-sentiment", monitor_sentiment, settings=settings)
    if index_due(engine):
        step("index-conversations", index_conversations, settings=settings)
    recommender_due = retrain if retrain is not None else retrain_due(settings, RECOMMENDER)
    if recommender_due:
        step("train-recommender", train_recommender_flow, settings=settings)
    if active_version(engine=engine, name=RECOMMENDER) is not None:
        step("publish-recommendations", publish_recommendations, settings=settings)
    create_markdown_artifact(key="daily", markdown="\n".join(
        ["# Daily run", "", "| step | outcome |", "|---|---|",
         *[f"| {name} | done |" for name in done], *[f"| {name} | FAILED |" for name in failed]]))
    if failed:
        raise RuntimeError(f"daily run: step(s) {', '.join(failed)} failed; the previous "
                           "models, scores and recommendation set remain active")
    return DailyRun(done)


def deployments(settings: Settings) -> list[Any]:
    """The scheduled deployments ``sentrec deploy`` serves.

    They carry no parameters: each run reads its settings (and the database password) from the
    environment of the process that serves it, so nothing secret is stored with a deployment,
    and a changed setting applies from the next run after the server is restarted.
    """
    items = [daily.to_deployment(name="daily", cron=settings.daily_cron,
                                 description="ingest, score, monitor, retrain when due, "
                                 "publish")]
    if settings.monitor_cron:
        items.append(monitor_sentiment.to_deployment(
            name="monitor", cron=settings.monitor_cron,
            description="surge detection on documents scored since the last run"))
    return items
