"""The daily flow: every step runs; a failed step is named and leaves earlier outputs active."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain.settings import Settings
from flows.runtime import ready_engine
from storage.schema import RecommendationSet, SentimentScore
from tests.helpers import events_file, labelled_file


def test_daily_runs_every_step_and_names_a_failed_one(prefect_harness: None,
                                                      tmp_path: Path) -> None:
    from flows.daily import daily, deployments

    landing = tmp_path / "landing"
    for name in ("messages", "events"):
        (landing / name).mkdir(parents=True)
    labelled_file(landing / "messages" / "labelled.csv")
    events_file(landing / "events" / "clicks.csv")
    # A truncated file: its step fails, everything else still runs.
    (landing / "messages" / "truncated.csv").write_text(
        'message_id,text,created_at\nx1,"never closed,2024-01-01\n', encoding="utf-8")
    settings = Settings(home=tmp_path / "home", landing=landing)
    with pytest.raises(RuntimeError, match="ingest-messages failed"):
        daily(settings=settings, retrain=True)
    engine = ready_engine(settings)
    with engine.connect() as connection:
        scores = connection.execute(select(func.count()).select_from(SentimentScore)).scalar()
        active = connection.execute(select(func.count()).select_from(RecommendationSet)
                                    .where(RecommendationSet.status == "active")).scalar()
    assert scores == 60 and active == 1
    crons = {d.name: d.schedules[0].schedule.cron for d in deployments(settings)}
    assert crons == {"daily": "0 5 * * *", "monitor": "15 * * * *"}
