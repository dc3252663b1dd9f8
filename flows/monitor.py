"""Flow ``monitor-sentiment``: new scores -> surge detection -> alerts -> report artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from domain.settings import Settings
from flows.monitoring import refresh_topics, run_monitoring, write_report
from flows.report_html import report_markdown
from flows.runtime import ready_engine
from storage.alerts import list_alerts


@task(retries=2, retry_delay_seconds=5)
def learn_topics(settings: Settings, k: int) -> dict[str, Any]:
    """Topics from the corpus (learned once) and a topic for every new document."""
    try:
        name, assigned = refresh_topics(engine=ready_engine(settings),
                                        models_dir=settings.home / "models", k=k)
    except ValueError as exc:
        get_run_logger().warning("topics skipped: %s", exc)
        return {"topic_model": None, "assigned": 0}
    return {"topic_model": name, "assigned": assigned}


@task(retries=2, retry_delay_seconds=5)
def detect(settings: Settings, window: str, detector: str, by_topic: bool) -> dict[str, Any]:
    summary, _ = run_monitoring(engine=ready_engine(settings), window=window, detector=detector,
                                by_topic=by_topic)
    return summary.__dict__


@task
def report(settings: Settings, out: str, days: int, window: str, detector: str) -> str:
    engine = ready_engine(settings)
    path = write_report(engine=engine, out=Path(out), days=days, window=window,
                        detector=detector)
    create_markdown_artifact(markdown=report_markdown(list_alerts(engine=engine, limit=20)),
                             key="sentiment-alerts", description=f"report at {path}")
    return str(path)


@flow(name="monitor-sentiment")
def monitor_sentiment(settings: Settings | None = None, window: str = "hour",
                      detector: str = "default", report_days: int = 7,
                      report_path: str | None = None, by_topic: bool = False,
                      topics: int = 20) -> dict[str, Any]:
    """Give new documents a topic, judge the windows touched by new scores (per entity, or
    per entity and topic), keep one alert per episode, write the report."""
    settings = settings or Settings()
    topic_info = learn_topics(settings, topics)
    summary = detect(settings, window, detector, by_topic)
    summary.update(topic_info)
    out = report_path or str(settings.home / "reports" / "alerts.html")
    summary["report"] = report(settings, out, report_days, window, detector)
    get_run_logger().info("alerts: %d new, %d updated; report at %s",
                          summary["alerts_inserted"], summary["alerts_updated"],
                          summary["report"])
    return summary
