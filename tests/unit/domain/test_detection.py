"""Surge detection: known shifts give exactly the expected alerts, episodes are deduplicated,
sparse entities page nobody, copies count once, and times land in the right UTC window."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from domain.detection import DETECTORS, DetectorConfig, score_series
from domain.episodes import dedup_key, detect_alerts, find_episodes, severity
from domain.windows import (
    SCORED_SCHEMA,
    SERIES_SCHEMA,
    MonitorConfig,
    aggregate_windows,
    mark_documents,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
# A calm baseline that wobbles around 0.30, as real hourly shares do.
CALM = [0.28, 0.30, 0.32, 0.30, 0.26, 0.34, 0.30, 0.29, 0.31, 0.30]


def series(shares: Sequence[float | None], volume: int | list[int] = 100,
           entity: str = "acme") -> pl.DataFrame:
    volumes = volume if isinstance(volume, list) else [volume] * len(shares)
    rows = []
    for i, (share, n) in enumerate(zip(shares, volumes, strict=True)):
        negatives = round((share or 0.0) * n)
        rows.append({"entity": entity, "topic": None, "window_start": T0 + timedelta(hours=i),
                     "window_end": T0 + timedelta(hours=i + 1), "documents": n, "volume": n,
                     "negatives": negatives, "negative_share": negatives / n if n else None,
                     "mean_score": 0.0 if n else None})
    return pl.DataFrame(rows, schema=SERIES_SCHEMA)


def alert_starts(frame: pl.DataFrame, detector: str = "default",
                 config: DetectorConfig | None = None) -> list[int]:
    scored = score_series(frame, detector=detector, config=config)
    return [int((a.window_start - T0) / timedelta(hours=1)) for a in
            find_episodes(scored, detector=detector, window="hour", config=config)]


def test_a_spike_after_a_calm_day_is_one_alert_in_its_own_window() -> None:
    shares: list[float | None] = [*CALM * 3, 0.70, *CALM[:5]]
    for detector in ("default", "zscore"):
        assert alert_starts(series(shares), detector) == [30], detector
    scored = score_series(series(shares)).row(30, named=True)
    assert scored["baseline"] == pytest.approx(0.30)
    assert scored["z"] > 3.5 and scored["fired"] and scored["judged"]


def test_the_baseline_excludes_the_current_window() -> None:
    scored = score_series(series([*CALM * 3, 0.90]))
    assert scored["baseline"][-1] == pytest.approx(0.30)


def test_a_slow_drift_is_caught_by_cusum_before_any_single_window_is_extreme() -> None:
    drift: list[float | None] = [*CALM * 3, *[0.30 + 0.02 * (i + 1) for i in range(10)]]
    config = DetectorConfig()
    scored = score_series(series(drift), detector="default", config=config)
    fired = scored.filter(pl.col("fired")).row(0, named=True)
    assert alert_starts(series(drift), "cusum") == [int((fired["window_start"] - T0) /
                                                       timedelta(hours=1))]
    assert fired["z"] < config.z_threshold  # the z-score alone would still be silent
    assert alert_starts(series(drift), "zscore") == []


def test_every_detector_ignores_a_calm_series() -> None:
    for detector in DETECTORS:
        assert alert_starts(series(CALM * 5), detector) == [], detector


def test_windows_close_together_are_one_episode_that_grows() -> None:
    shares: list[float | None] = [*CALM * 3, 0.70, 0.30, 0.30, 0.80, *CALM[:6]]
    scored = score_series(series(shares))
    alerts = find_episodes(scored, detector="default", window="hour")
    assert len(alerts) == 1
    only = alerts[0]
    assert (only.window_start, only.window_end) == (T0 + timedelta(hours=30),
                                                     T0 + timedelta(hours=34))
    assert only.observed == pytest.approx(0.80) and only.volume == 200
    assert only.dedup_key == "acme|*|default|2024-05-02T06:00:00+00:00"


def test_windows_further_apart_than_the_cooldown_are_two_episodes() -> None:
    shares: list[float | None] = [*CALM * 3, 0.70, *CALM[:4], 0.80, *CALM[:3]]
    assert alert_starts(series(shares), config=DetectorConfig(cooldown_windows=3)) == [30, 35]
    assert alert_starts(series(shares), config=DetectorConfig(cooldown_windows=5)) == [30]


def test_a_sparse_entity_pages_nobody() -> None:
    shares: list[float | None] = [*CALM * 3, 1.0]
    assert alert_starts(series(shares, volume=5)) == []
    low_spike = [100] * 30 + [9]
    assert alert_starts(series(shares, volume=low_spike)) == []


def test_empty_windows_are_skipped_by_the_baseline_not_counted_as_calm() -> None:
    shares: list[float | None] = [*CALM, *[None] * 12, *CALM, 0.70]
    volumes = [100] * 10 + [0] * 12 + [100] * 10 + [100]
    scored = score_series(series(shares, volume=volumes))
    # Judged: windows 8-9 (8 calm windows behind them), 22-31 and 32; never an empty one.
    assert scored["judged"].arg_true().to_list() == [8, 9, *range(22, 33)]
    # Right after the quiet spell the baseline is still the calm 0.30, not dragged to 0.
    assert scored["baseline"][22] == pytest.approx(0.30)
    assert alert_starts(series(shares, volume=volumes)) == [32]


def test_severity_follows_the_documented_mapping() -> None:
    config = DetectorConfig(min_volume=10)
    assert severity(1.0, 10, config) == 25  # at the threshold on the minimum volume
    assert severity(2.0, 40, config) == 100
    assert severity(1.5, 40, config) == 75
    assert severity(4.0, 10, config) == 50


def test_dedup_key_stays_within_the_column() -> None:
    key = dedup_key("e" * 128, "t" * 256, "default", T0)
    assert len(key) <= 256 and key != dedup_key("e" * 128, "t" * 255, "default", T0)


def doc(doc_id: int, when: datetime | str, text: str, negative: bool = True,
        entity: str = "acme") -> dict[str, Any]:
    p_neg = 0.9 if negative else 0.05
    return {"doc_kind": "message", "doc_id": doc_id, "entity": entity, "topic": None,
            "created_at": when, "score": (0.05 if negative else 0.9) - p_neg,
            "p_negative": p_neg, "p_neutral": 0.05, "p_positive": 1 - p_neg - 0.05,
            "text": text, "highlights": json.dumps([["late", 0.5], ["again", 0.2]])}


def docs(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCORED_SCHEMA)


def test_retweets_and_near_duplicates_count_once() -> None:
    t = T0 + timedelta(minutes=5)
    frame = docs([
        doc(1, t, "@acme my flight is late AGAIN, third time this month!"),
        doc(2, t + timedelta(minutes=1), "RT @someone: @acme my flight is late AGAIN, third "
            "time this month!"),
        doc(3, t + timedelta(minutes=2), "@acme My flight is late again third time this month "
            "https://t.co/abc"),
        doc(4, t + timedelta(minutes=3), "thanks!", negative=False),
        doc(5, t + timedelta(minutes=4), "Thanks", negative=False),
        doc(6, t + timedelta(minutes=5), "RT @x: thanks", negative=False),
    ])
    marked = mark_documents(frame)
    assert marked.sort("doc_id")["novel"].to_list() == [True, False, False, True, True, False]
    window = aggregate_windows(frame).row(0, named=True)
    assert (window["documents"], window["volume"], window["negatives"]) == (6, 3, 1)
    assert window["negative_share"] == pytest.approx(1 / 3)


def test_the_same_text_for_two_entities_counts_for_each() -> None:
    text = "the app crashes every time I open a playlist"
    frame = docs([doc(1, T0, text, entity="a"), doc(2, T0, text, entity="b")])
    assert mark_documents(frame)["novel"].to_list() == [True, True]


def test_offsets_and_dst_land_in_the_right_utc_window() -> None:
    new_york = ZoneInfo("America/New_York")
    # 2024-03-10: clocks jump from 02:00 EST to 03:00 EDT (UTC-5 -> UTC-4).
    before = datetime(2024, 3, 10, 1, 59, tzinfo=new_york)  # 06:59 UTC
    after = datetime(2024, 3, 10, 3, 1, tzinfo=new_york)  # 07:01 UTC
    zoned = docs([doc(1, before, "first complaint about the app"),
                  doc(2, after, "second complaint about the app")])
    zoned = zoned.with_columns(pl.Series("created_at", [before, after],
                                         dtype=pl.Datetime("us", "America/New_York")))
    text = zoned.with_columns(pl.Series("created_at", ["2024-03-10T01:59:00-05:00",
                                                       "2024-03-10 03:01:00-04:00"]))
    for frame in (zoned, text):
        series = aggregate_windows(frame)
        assert series["window_start"].dt.hour().to_list() == [6, 7]
        assert series["volume"].to_list() == [1, 1]
        assert str(series["window_start"].dtype) == "Datetime(time_unit='us', time_zone='UTC')"


def test_naive_times_are_read_as_utc_and_bad_text_is_named() -> None:
    naive = docs([doc(1, T0, "x")]).with_columns(pl.col("created_at").dt.replace_time_zone(None))
    assert aggregate_windows(naive)["window_start"].to_list() == [T0]
    bad = docs([doc(1, T0, "x")]).with_columns(pl.lit("yesterday").alias("created_at"))
    with pytest.raises(ValueError, match="'yesterday'"):
        aggregate_windows(bad)


def test_alerts_carry_the_most_negative_novel_documents_as_evidence() -> None:
    rows = []
    for hour in range(30):  # a calm month of 10 documents an hour, 3 of them negative
        for i in range(10):
            rows.append(doc(hour * 100 + i, T0 + timedelta(hours=hour, minutes=i),
                            f"message {hour} {i} about the service today", negative=i < 3))
    burst = T0 + timedelta(hours=30)
    for i in range(12):
        rows.append(doc(9000 + i, burst + timedelta(minutes=i),
                        f"outage number {i}: nothing loads, support is useless"))
    rows.append(doc(9100, burst + timedelta(minutes=30),
                    "RT @a: outage number 0: nothing loads, support is useless"))
    detection = detect_alerts(docs(rows), monitor=MonitorConfig(), evidence_top_n=3,
                              model_version_id=7)
    assert [(a.entity, a.window_start, a.volume, a.model_version_id)
            for a in detection.alerts] == [("acme", burst, 12, 7)]
    evidence = detection.alerts[0].evidence
    assert [e["doc_id"] for e in evidence] == [9000, 9001, 9002]
    assert all(e["novel"] for e in evidence)
    assert evidence[0]["highlights"] == [["late", 0.5], ["again", 0.2]]


def test_an_alert_says_what_changed_in_its_window() -> None:
    rows = []
    for hour in range(30):
        for i in range(10):
            rows.append(doc(hour * 100 + i, T0 + timedelta(hours=hour, minutes=i),
                            f"flight {i} delayed at the gate, crew late {hour}", negative=i < 3))
    burst = T0 + timedelta(hours=30)
    for i in range(12):
        rows.append(doc(9000 + i, burst + timedelta(minutes=i),
                        f"refund request {i}: you charged my card twice"))
    [alert] = detect_alerts(docs(rows), monitor=MonitorConfig()).alerts
    assert [t["term"] for t in alert.terms][:3] == ["card", "charged", "refund"]
    assert all(t["baseline_count"] == 0 for t in alert.terms)
    assert alert.topics == []
