"""The alert bench's own helpers: a burst edited into a series is what re-aggregating the
moved documents gives, and its episode count is the product's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from bench.alert_baselines import baseline_fired
from bench.alert_replay import (
    Burst,
    apply_burst,
    burst_size,
    episodes,
    fired_by,
    product_fired_at,
)
from domain.counts import CountConfig
from domain.detection import DetectorConfig, score_series
from domain.episodes import find_episodes
from domain.windows import SCORED_SCHEMA, MonitorConfig, aggregate_windows, mark_documents

START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday


def documents(hours: int, per_hour: int, surge_at: int | None = None,
              volumes: dict[int, int] | None = None) -> pl.DataFrame:
    """Distinct texts to entity A, a third negative; ``surge_at`` gets five times as many,
    an hour in ``volumes`` that many."""
    rows = []
    for hour in range(hours):
        count = (volumes or {}).get(hour, per_hour * (5 if hour == surge_at else 1))
        for n in range(count):
            negative = n % 3 == 0
            rows.append({"doc_kind": "message", "doc_id": len(rows), "entity": "A",
                         "topic": None, "created_at": START + timedelta(hours=hour, minutes=n),
                         "score": -0.8 if negative else 0.8,
                         "p_negative": 0.9 if negative else 0.05, "p_neutral": 0.05,
                         "p_positive": 0.05 if negative else 0.9,
                         "text": f"order number {len(rows)} arrived", "highlights": "[]"})
    return pl.DataFrame(rows, schema=SCORED_SCHEMA)


def test_a_burst_edited_into_the_series_equals_reaggregating_the_moved_documents() -> None:
    marked = mark_documents(documents(72, 6))
    series = aggregate_windows(marked, MonitorConfig())
    moved = [0, 3, 7, 12]  # from hours 0-2; every third document of an hour is negative
    burst = Burst("negative_volume_x2", 60, moved, negatives=3)
    target = series["window_start"][60]
    again = aggregate_windows(marked.with_columns(
        pl.when(pl.col("doc_id").is_in(moved)).then(pl.lit(target) + pl.duration(minutes=30))
        .otherwise(pl.col("created_at")).alias("created_at")), MonitorConfig())
    edited = apply_burst(series, marked, burst, "hour")
    # The mean score is left as it was: no detector reads it.
    assert edited.drop("mean_score").equals(again.drop("mean_score"))
    assert (edited["volume"][60], edited["negatives"][60], edited["volume"][0]) == (10, 5, 4)


def test_episode_count_of_the_bench_is_the_products() -> None:
    series = aggregate_windows(mark_documents(documents(24 * 5, 6, surge_at=100)),
                               MonitorConfig())
    fired, scored = fired_by(series, DetectorConfig(), "hour")
    found = find_episodes(scored, detector="default", window="hour")
    assert len(found) == 1
    assert episodes(fired["product"], DetectorConfig().cooldown_windows) == 1


def test_the_alpha_sweep_fires_where_the_product_at_that_alpha_fires() -> None:
    """Four days of 18-24 mentions an hour, then 42 (p ~ 1e-4 under the count model): the
    sweep's re-applied firing rule answers what scoring at each alpha answers."""
    wobble = [0, 3, -3, 1, -1, 4, -4, 0]
    volumes = {hour: 21 + wobble[hour % 8] for hour in range(95)} | {95: 42}
    series = aggregate_windows(mark_documents(documents(96, 21, volumes=volumes)),
                               MonitorConfig())
    _, scored = fired_by(series, DetectorConfig(), "hour")
    swept = {}
    for alpha in (1e-7, 1e-5, 1e-3):
        config = DetectorConfig(counts=CountConfig(alpha=alpha))
        rescored = score_series(series, config=config, window="hour")["fired"].to_numpy()
        swept[alpha] = np.flatnonzero(product_fired_at(scored, DetectorConfig(), alpha)).tolist()
        assert swept[alpha] == np.flatnonzero(rescored).tolist()
    assert swept == {1e-7: [], 1e-5: [], 1e-3: [95]}


def test_burst_sizes_multiply_what_the_window_holds() -> None:
    row = {"volume": 20, "negatives": 5}
    assert burst_size("negative_volume_x2", row, None) == (5, True)
    assert burst_size("negative_volume_x1.5", row, None) == (3, True)
    assert burst_size("buzz_x3", row, None) == (40, False)
    # share 5/20 = 0.25 lifted to 2 x 0.3 = 0.6: (0.6 * 20 - 5) / 0.4 = 17.5 -> 18 negatives.
    assert burst_size("share_x2", row, 0.3) == (18, True)
    assert burst_size("share_x2", row, 0.5) == (0, True)  # 1.0 is beyond any window


def test_seasonal_naive_waits_a_week_then_fires_on_a_spike() -> None:
    week = 24 * 7
    spikes = (30, week + 40)
    counts = [6 * (5 if hour in spikes else 1) for hour in range(week + 48)]
    series = pl.DataFrame({
        "negatives": [c // 3 for c in counts], "volume": counts,
        "negative_share": [1 / 3] * len(counts)})
    fired = baseline_fired(series, "seasonal-naive", DetectorConfig(), "hour")
    assert np.flatnonzero(fired).tolist() == [week + 40]


def test_the_alpha_sweep_page_has_a_row_per_stream_and_alpha() -> None:
    from bench.alert_report import sweep_markdown
    from bench.alert_streams import Stream
    from bench.alerts import bench_stream, summarise, sweep

    wobble = [0, 3, -3, 1, -1, 4, -4, 0]
    volumes = {hour: 21 + wobble[hour % 8] for hour in range(95)} | {95: 42}
    stream = Stream("synthetic", documents(96, 21, volumes=volumes), "hour", "gold")
    result = bench_stream(stream, DetectorConfig(), bursts=1, seed=0, alphas=(1e-7, 1e-3))
    report = {"config": {"counts": {"alpha": 1e-5}}, "alphas": [1e-7, 1e-3],
              "bursts_per_entity_kind": 1, "seed": 0, "budget_minutes": 1.0, "seconds": 1.0,
              "rows": summarise(result), "sweep": sweep(result), "streams": [result]}
    page = sweep_markdown(report)
    assert page.startswith("# The count model's tail probability (alpha)")
    assert "    nice -n 10 .venv/bin/python -m bench.alerts --alphas 1e-07,0.001 --bursts 1 " \
        "--seed 0 --budget-minutes 1\n" in page
    # The hour of 42 is the stream's only alarm at 1e-3: one episode in two judged days.
    assert [(r["alpha"], r["false_alarms"]) for r in report["sweep"]] == [(1e-7, 0), (1e-3, 1)]
    assert "| synthetic (gold) | 0.001 | " in page and "| 1 | 15.00 |" in page
    assert "- alpha 1e-07: 1 of 1 (worst 0.00)" in page
