"""Bring your own counts: the detectors on a series another listening tool aggregated.

A series file (CSV, JSON Lines or Parquet) has one row per entity and window:
``entity, window_start, volume`` with an optional ``negative`` (negative mentions), or
``entity, window_start, value`` for a single count watched as volume. Windows are hours or
days (inferred from the smallest gap between an entity's windows); a window missing from the
file had no mentions. The same signals as ``sentrec monitor`` then judge it: volume, and with
negatives the negative volume and the negative share.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl

from domain.detection import DetectorConfig, DetectorName, score_series
from domain.episodes import AlertRecord, find_episodes
from domain.errors import MalformedFileError
from domain.readers import LINE, read_any
from domain.records import UTC_TIME
from domain.windows import SERIES_SCHEMA, Window


def read_series(path: Path, *, window: Window | None = None) -> pl.DataFrame:
    """The file as ``SERIES_SCHEMA`` rows, every entity on a full grid of windows; a bad row
    is an error naming its line and field."""
    table = read_any(path)
    table.require(["entity", "window_start"])
    counts = "volume" if "volume" in table.header else "value" if "value" in table.header \
        else None
    if counts is None:
        raise MalformedFileError(path, "the series needs a volume or a value column",
                                 line=1, field="volume",
                                 hint="Columns: entity, window_start, volume [, negative]")
    frame = table.frame.with_columns(
        pl.col("entity").str.strip_chars(),
        pl.coalesce(pl.col("window_start").str.strip_chars().str.to_datetime(
            time_unit="us", time_zone="UTC", strict=False),
            pl.col("window_start").str.strip_chars().str.to_date(strict=False)
            .cast(pl.Datetime("us")).dt.replace_time_zone("UTC")).alias("start"),
        pl.col(counts).str.strip_chars().cast(pl.Int64, strict=False).alias("volume"),
        (pl.col("negative").str.strip_chars().cast(pl.Int64, strict=False)
         if "negative" in table.header else pl.lit(0, pl.Int64)).alias("negatives"),
    )
    _check(path, frame, counts, has_negative="negative" in table.header)
    step = _step(frame, window)
    grid = frame.group_by("entity").agg(pl.datetime_ranges(
        pl.col("start").min(), pl.col("start").max(), interval=step, time_unit="us",
        time_zone="UTC").alias("window_start")).explode("window_start")
    counted = frame.group_by("entity", "start").agg(pl.col("volume").sum(),
                                                    pl.col("negatives").sum())
    series = grid.join(counted, left_on=["entity", "window_start"],
                       right_on=["entity", "start"], how="left").with_columns(
        pl.col("volume", "negatives").fill_null(0))
    share = pl.when(pl.col("volume") > 0).then(pl.col("negatives") / pl.col("volume"))
    return series.with_columns(
        pl.lit(None, pl.String).alias("topic"),
        (pl.col("window_start") + step).cast(UTC_TIME).alias("window_end"),
        pl.col("volume").alias("documents"),
        (share if "negative" in table.header else pl.lit(None, pl.Float64))
        .alias("negative_share"),
        pl.lit(None, pl.Float64).alias("mean_score"),
    ).select(list(SERIES_SCHEMA)).cast(pl.Schema(SERIES_SCHEMA)).sort("entity",
                                                                      "window_start")


def _check(path: Path, frame: pl.DataFrame, counts: str, *, has_negative: bool) -> None:
    """The first bad row, named by line and field."""
    checks = [
        (pl.col("entity").is_null() | (pl.col("entity") == ""), "entity", "no entity name"),
        (pl.col("start").is_null(), "window_start", "not an ISO 8601 time or date"),
        (pl.col("volume").is_null() | (pl.col("volume") < 0), counts,
         "not a whole number of mentions >= 0"),
    ]
    if has_negative:
        checks += [
            (pl.col("negatives").is_null() | (pl.col("negatives") < 0), "negative",
             "not a whole number of mentions >= 0"),
            (pl.col("negatives") > pl.col("volume"), "negative",
             "more negative mentions than mentions"),
        ]
    for failed, field, problem in checks:
        bad = frame.filter(failed.fill_null(True))
        if bad.height:
            raise MalformedFileError(path, problem, line=int(bad[LINE][0]), field=field,
                                     hint="Fix the row or leave it out")


def _step(frame: pl.DataFrame, window: Window | None) -> timedelta:
    if window is not None:
        return timedelta(hours=1) if window is Window.HOUR else timedelta(days=1)
    gaps = frame.sort("entity", "start").select(
        pl.col("start").diff().over("entity").alias("gap")).drop_nulls()["gap"]
    positive = gaps.filter(gaps > timedelta(0))
    smallest = positive.min() if positive.len() else timedelta(days=1)
    return timedelta(hours=1) if smallest < timedelta(days=1) else timedelta(days=1)  # type: ignore[operator]


def detect_series(series: pl.DataFrame, *, config: DetectorConfig | None = None
                  ) -> list[AlertRecord]:
    """Alarms (episodes) on a series from ``read_series``, most recent last."""
    scored = score_series(series, detector=DetectorName.DEFAULT, config=config)
    window = "day" if series.height and (series["window_end"][0] - series["window_start"][0]
                                         ) >= timedelta(days=1) else "hour"
    alarms = find_episodes(scored, detector=DetectorName.DEFAULT, window=window,
                           config=config)
    return sorted(alarms, key=lambda a: (a.window_start, a.entity))
