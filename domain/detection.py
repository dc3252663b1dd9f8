"""Surge detection over per-entity window series: four detectors, episodes, severity, evidence.

Every detector reads one series (``domain.windows.SERIES_SCHEMA``, one entity or entity x
topic) and judges each window against the windows before it, never the window itself:

* ``default``: robust z = (share - median of the previous ``baseline_windows`` judged
  windows) / spread, the spread being the binomial spread at this window's volume times the
  overdispersion that the MAD of those windows shows (see ``_robust``); it fires at
  ``z_threshold``, OR when a one-sided CUSUM of that z passes ``cusum_h`` (slow drifts).
* ``zscore``: the plain z against their mean and standard deviation.
* ``ewma``: an EWMA control chart (Roberts 1959) with limits from the trailing mean and std.
* ``cusum``: the robust CUSUM of ``default`` alone (Page 1954).

Only windows with at least ``min_volume`` novel documents are judged or enter a baseline, so a
sparse entity pages nobody; a window needs ``min_baseline_windows`` judged windows before it.

Severity (0-100) = 100 * min(1, r / 2) * min(1, sqrt(volume / (4 * min_volume))), where r is
the firing statistic over its threshold (r = 1 at the threshold): an alert just over the line
on the minimum volume scores 25, one twice over the line on four times the volume scores 100.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from domain.windows import MonitorConfig, aggregate_windows, mark_documents

FloatArray = NDArray[np.float64]
# Scales a MAD to the standard deviation of a normal distribution (Rousseeuw & Croux 1993).
MAD_TO_SIGMA = 1.4826
METRIC = "negative_share"


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of all detectors; defaults are for hourly windows (see bench/alerts.py)."""

    baseline_windows: int = 24  # trailing windows the baseline looks at: one day of hours
    min_baseline_windows: int = 8  # judged windows the baseline needs before it is trusted
    min_volume: int = 10  # novel documents a window needs to be judged or enter a baseline
    z_threshold: float = 3.5  # modified z cut-off of Iglewicz & Hoaglin (1993)
    plain_z_threshold: float = 3.0  # the textbook three-sigma rule
    # Page's CUSUM tuned to a 2-sigma drift (k = half the shift); with h = 5 the in-control
    # run length is ~1e5 windows by Siegmund's approximation, a 2-sigma shift fires in ~6.
    cusum_k: float = 1.0
    cusum_h: float = 5.0
    ewma_lambda: float = 0.3  # EWMA weight of the newest window (Lucas & Saccucci 1990)
    ewma_l: float = 3.0  # EWMA control-limit width in sigmas of the EWMA statistic
    cooldown_windows: int = 3  # quiet windows that end an episode

    def __post_init__(self) -> None:
        if self.min_volume < 1 or not 2 <= self.min_baseline_windows <= self.baseline_windows:
            raise ValueError("need min_volume >= 1 and 2 <= min_baseline_windows <= "
                             f"baseline_windows, got {self}")


@dataclass(frozen=True)
class WindowScores:
    """Per window: baseline, spread, z, statistic over threshold, and whether it was judged."""

    baseline: FloatArray
    spread: FloatArray
    z: FloatArray
    ratio: FloatArray  # the firing statistic divided by its threshold; >= 1 fires
    judged: NDArray[np.bool_]


Detector = Callable[[FloatArray, FloatArray, DetectorConfig], WindowScores]


@dataclass
class AlertRecord:
    """One episode of one detector for one entity (and topic), as the ``alerts`` table holds it."""

    dedup_key: str
    entity: str
    topic: str | None
    window: str
    window_start: datetime
    window_end: datetime
    observed: float
    baseline: float
    z: float
    severity: int
    volume: int
    detector: str
    model_version_id: int | None = None
    metric: str = METRIC
    status: str = "open"
    evidence: list[dict[str, Any]] = field(default_factory=list)


def _binomial_floor(p: float, n: float) -> float:
    # The sampling spread of a share at this volume: keeps sigma > 0 when the baseline is flat.
    return math.sqrt(max(p * (1 - p), 0.01) / max(n, 1.0))


def _robust(share: FloatArray, volume: FloatArray, config: DetectorConfig
            ) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    """Median baseline; spread = binomial spread at this window's volume x overdispersion.

    The overdispersion psi is 1.4826 x the MAD of the baseline windows' residuals divided by
    their own binomial spread (never below 1), a robust form of the multiplicative
    overdispersion of funnel plots (Spiegelhalter 2005, Stat Med 24:1185). Scaling by the
    current window's volume matters: a burst adds documents, which makes its share surer.
    """
    n = share.size
    ok = volume >= config.min_volume
    base, spread, z = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        lo = max(0, i - config.baseline_windows)
        past = np.flatnonzero(ok[lo:i]) + lo
        if past.size < config.min_baseline_windows:
            continue
        base[i] = float(np.median(share[past]))
        # A flat baseline of 0 or 1 would make one document an alarm; 5% keeps some doubt.
        p = min(max(base[i], 0.05), 0.95)
        residuals = (share[past] - base[i]) / np.sqrt(p * (1 - p) / volume[past])
        mad = float(np.median(np.abs(residuals - np.median(residuals))))
        psi = max(1.0, MAD_TO_SIGMA * mad)
        spread[i] = psi * math.sqrt(p * (1 - p) / max(volume[i], 1.0))
        z[i] = (share[i] - base[i]) / spread[i] if ok[i] else np.nan
    return base, spread, z, ok & ~np.isnan(base)


def _cusum(z: FloatArray, judged: NDArray[np.bool_], config: DetectorConfig) -> FloatArray:
    """Page's one-sided CUSUM of standardised values; restarts at zero after each alarm."""
    ratio, s = np.zeros(z.size), 0.0
    for i in np.flatnonzero(judged):
        s = max(0.0, s + float(z[i]) - config.cusum_k)
        ratio[i] = s / config.cusum_h
        if s >= config.cusum_h:
            s = 0.0
    return ratio


def default_detector(share: FloatArray, volume: FloatArray, config: DetectorConfig
                     ) -> WindowScores:
    """Robust z over the trailing median/MAD, or the robust CUSUM, whichever fires."""
    base, spread, z, judged = _robust(share, volume, config)
    ratio = np.maximum(np.nan_to_num(z / config.z_threshold), _cusum(z, judged, config))
    return WindowScores(base, spread, z, np.where(judged, ratio, 0.0), judged)


def cusum_detector(share: FloatArray, volume: FloatArray, config: DetectorConfig
                   ) -> WindowScores:
    """The robust CUSUM alone."""
    base, spread, z, judged = _robust(share, volume, config)
    return WindowScores(base, spread, z, _cusum(z, judged, config), judged)


def _plain(share: FloatArray, volume: FloatArray, config: DetectorConfig
           ) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    n = share.size
    ok = volume >= config.min_volume
    base, spread = np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        lo = max(0, i - config.baseline_windows)
        past = share[lo:i][ok[lo:i]]
        if past.size >= config.min_baseline_windows:
            base[i] = float(past.mean())
            spread[i] = max(float(past.std(ddof=1)), _binomial_floor(base[i], volume[i]))
    return base, spread, ok & ~np.isnan(base)


def zscore_detector(share: FloatArray, volume: FloatArray, config: DetectorConfig
                    ) -> WindowScores:
    """Plain z against the trailing mean and standard deviation."""
    base, spread, judged = _plain(share, volume, config)
    z = np.where(judged, (share - base) / spread, np.nan)
    return WindowScores(base, spread, z, np.nan_to_num(z / config.plain_z_threshold), judged)


def ewma_detector(share: FloatArray, volume: FloatArray, config: DetectorConfig
                  ) -> WindowScores:
    """EWMA chart: fires when the smoothed share passes mean + L * sigma * sqrt(lam / (2 - lam))."""
    base, spread, judged = _plain(share, volume, config)
    lam = config.ewma_lambda
    ratio, smoothed = np.zeros(share.size), math.nan
    for i in np.flatnonzero(judged):
        prior = base[i] if math.isnan(smoothed) else smoothed
        smoothed = lam * share[i] + (1 - lam) * prior
        limit = config.ewma_l * spread[i] * math.sqrt(lam / (2 - lam))
        ratio[i] = (smoothed - base[i]) / limit
    z = np.where(judged, (share - base) / spread, np.nan)
    return WindowScores(base, spread, z, ratio, judged)


class DetectorName(StrEnum):
    """The detectors ``monitor --detector`` and the bench choose from."""

    DEFAULT = "default"
    ZSCORE = "zscore"
    EWMA = "ewma"
    CUSUM = "cusum"


DETECTORS: dict[str, Detector] = {
    DetectorName.DEFAULT: default_detector,
    DetectorName.ZSCORE: zscore_detector,
    DetectorName.EWMA: ewma_detector,
    DetectorName.CUSUM: cusum_detector,
}


def score_series(series: pl.DataFrame, *, detector: str = "default",
                 config: DetectorConfig | None = None) -> pl.DataFrame:
    """Add baseline, spread, band_low/high, z, ratio, judged and fired to every series row.

    The band is baseline +- z_threshold * spread: the range a window can reach unflagged.
    """
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; use one of {', '.join(DETECTORS)}")
    config = config or DetectorConfig()
    parts = []
    for _, group in series.sort("window_start").group_by(["entity", "topic"],
                                                         maintain_order=True):
        share = group["negative_share"].fill_null(0.0).to_numpy().astype(np.float64)
        volume = group["volume"].to_numpy().astype(np.float64)
        scores = DETECTORS[detector](share, volume, config)
        parts.append(group.with_columns(
            pl.Series("baseline", scores.baseline), pl.Series("spread", scores.spread),
            pl.Series("z", scores.z), pl.Series("ratio", scores.ratio),
            pl.Series("judged", scores.judged),
            pl.Series("fired", scores.judged & (scores.ratio >= 1.0)),
        ))
    if not parts:
        return series.with_columns(*(pl.lit(None, pl.Float64).alias(c) for c in (
            "baseline", "spread", "z", "ratio", "band_low", "band_high")),
            pl.lit(False).alias("judged"), pl.lit(False).alias("fired"))
    scored = pl.concat(parts).with_columns(pl.col("baseline", "spread", "z").fill_nan(None))
    return scored.with_columns(
        (pl.col("baseline") - config.z_threshold * pl.col("spread")).clip(0, 1).alias("band_low"),
        (pl.col("baseline") + config.z_threshold * pl.col("spread")).clip(0, 1)
        .alias("band_high"),
    )


def severity(ratio: float, volume: int, config: DetectorConfig) -> int:
    """0-100 from how far over its threshold a detector is and how many documents it saw."""
    weight = min(1.0, math.sqrt(volume / (4 * config.min_volume)))
    return round(100 * min(1.0, max(ratio, 0.0) / 2) * weight)


def dedup_key(entity: str, topic: str | None, detector: str, start: datetime) -> str:
    """entity|topic|detector|episode start; hashed past the column's 256 characters."""
    key = f"{entity}|{topic or '*'}|{detector}|{start.isoformat()}"
    return key if len(key) <= 256 else f"{key[:200]}#{hashlib.sha1(key.encode()).hexdigest()}"


def find_episodes(scored: pl.DataFrame, *, detector: str, window: str,
                  config: DetectorConfig | None = None,
                  model_version_id: int | None = None) -> list[AlertRecord]:
    """Group fired windows into episodes: a fired window within ``cooldown_windows`` of the
    previous one extends its episode (window_end, peak observed/z/severity, summed volume)."""
    config = config or DetectorConfig()
    alerts: list[AlertRecord] = []
    for (entity, topic), group in scored.sort("window_start").group_by(
            ["entity", "topic"], maintain_order=True):
        rows = group.with_row_index("i").filter(pl.col("fired")).to_dicts()
        current: AlertRecord | None = None
        last = -10**9
        for row in rows:
            grade = severity(row["ratio"], row["volume"], config)
            if current is None or row["i"] - last > config.cooldown_windows:
                current = AlertRecord(
                    dedup_key=dedup_key(str(entity), topic, detector, row["window_start"]),
                    entity=str(entity), topic=topic, window=window,
                    window_start=row["window_start"], window_end=row["window_end"],
                    observed=row["negative_share"], baseline=row["baseline"], z=row["z"],
                    severity=grade, volume=row["volume"], detector=detector,
                    model_version_id=model_version_id)
                alerts.append(current)
            else:
                current.window_end = row["window_end"]
                current.observed = max(current.observed, row["negative_share"])
                current.z = max(current.z, row["z"])
                current.severity = max(current.severity, grade)
                current.volume += row["volume"]
            last = row["i"]
    return alerts


def collect_evidence(marked: pl.DataFrame, alert: AlertRecord, *, top_n: int = 5
                     ) -> list[dict[str, Any]]:
    """The alert window's most negative, most novel documents with their highlighted tokens.

    ``marked`` comes from ``mark_documents``; novel documents rank before copies, then by
    p_negative, then earliest first.
    """
    docs = marked.filter(pl.col("entity") == alert.entity,
                         pl.col("created_at") >= alert.window_start,
                         pl.col("created_at") < alert.window_end)
    if alert.topic is not None:
        docs = docs.filter(pl.col("topic") == alert.topic)
    top = docs.sort(["novel", "p_negative", "created_at"], descending=[True, True, False])
    return [{
        "doc_kind": row["doc_kind"], "doc_id": row["doc_id"],
        "created_at": row["created_at"].isoformat(), "text": row["text"],
        "p_negative": row["p_negative"], "score": row["score"], "novel": row["novel"],
        "highlights": json.loads(row["highlights"] or "[]"),
    } for row in top.head(top_n).iter_rows(named=True)]


@dataclass(frozen=True)
class Detection:
    """What one monitoring pass found: the scored series (for charts) and the alerts."""

    series: pl.DataFrame
    alerts: list[AlertRecord]


def detect_alerts(scored: pl.DataFrame, *, monitor: MonitorConfig | None = None,
                  detector: str = "default", config: DetectorConfig | None = None,
                  evidence_top_n: int = 5, model_version_id: int | None = None,
                  start: datetime | None = None, end: datetime | None = None) -> Detection:
    """Scored documents -> window series -> detector -> episodes with evidence."""
    monitor = monitor or MonitorConfig()
    marked = mark_documents(scored, monitor)
    series = score_series(aggregate_windows(marked, monitor, start=start, end=end),
                          detector=detector, config=config)
    alerts = find_episodes(series, detector=detector, window=monitor.window, config=config,
                           model_version_id=model_version_id)
    for alert in alerts:
        alert.evidence = collect_evidence(marked, alert, top_n=evidence_top_n)
    return Detection(series=series, alerts=alerts)
