"""What the demo prints of its alerts: why each fired and whether it is backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from domain.episodes import AlertRecord, dedup_key
from domain.settings import Settings
from flows.cli.demo import _show_alerts
from flows.runtime import ready_engine
from storage.alerts import upsert_alerts

FEB_2015 = datetime(2015, 2, 19, 15, tzinfo=UTC)


def test_the_demo_says_why_an_alert_fired_and_that_old_windows_are_backfill(
        tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    reason = "negative mentions 31 vs 9 usual for a Thursday 15:00 (3.4x)"
    upsert_alerts(engine=ready_engine(settings), alerts=[AlertRecord(
        dedup_key=dedup_key("JetBlue", None, "default", FEB_2015), entity="JetBlue",
        topic=None, window="hour", window_start=FEB_2015,
        window_end=FEB_2015 + timedelta(hours=1), observed=0.62, baseline=0.35, z=2.1,
        severity=58, volume=50, detector="default", negatives=31, reason=reason)])
    console = Console(record=True, width=220)
    _show_alerts(settings, console)
    lines = [" ".join(line.replace("│", " ").split()) for line in
             console.export_text().splitlines()]
    assert f"58 JetBlue 2015-02-19 15:00 {reason} open (backfill)" in lines
