"""Surge signals over per-entity window series: each window judged against the ones before it.

Every series (``domain.windows.SERIES_SCHEMA``, one entity or entity x topic) is judged on
three signals, each against the windows before it, never the window itself:

* **negative volume** and **volume**: the window's (negative) documents against the usual for
  that hour and weekday, with a negative-binomial spread (``domain.counts``); the default
  detector only, since the others exist to compare with on the share;
* **negative share**, by the detector named:

  * ``default``: robust z = (share - median of the previous ``baseline_windows`` judged
    windows) / spread, the spread being the binomial spread at this window's volume times the
    overdispersion that the MAD of those windows shows (see ``_robust``); it fires at
    ``z_threshold``, OR when a one-sided CUSUM of that z passes ``cusum_h`` (slow drifts);
  * ``zscore``: the plain z against their mean and standard deviation;
  * ``ewma``: an EWMA control chart (Roberts 1959) with limits from the trailing mean and std;
  * ``cusum``: the robust CUSUM of ``default`` alone (Page 1954).

Only windows with at least ``min_volume`` novel documents are judged on the share or enter
its baseline, and the count signals need an effect of ``min_ratio`` and ``min_excess``, so a
sparse entity pages nobody. ``domain.episodes`` turns fired windows into alerts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

import numpy as np
import polars as pl
from numpy.typing import NDArray

from domain.counts import CountConfig, firing_count, judge_counts
from domain.settings import Settings

FloatArray = NDArray[np.float64]
# Scales a MAD to the standard deviation of a normal distribution (Rousseeuw & Croux 1993).
MAD_TO_SIGMA = 1.4826
METRIC = "negative_share"


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of all detectors; hourly defaults (bench/alerts.py measures them)."""

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
    # The volume signals' seasonal count model and firing rule (domain.counts).
    counts: CountConfig = field(default_factory=CountConfig)

    def __post_init__(self) -> None:
        if self.min_volume < 1 or not 2 <= self.min_baseline_windows <= self.baseline_windows:
            raise ValueError("need min_volume >= 1 and 2 <= min_baseline_windows <= "
                             f"baseline_windows, got {self}")


def detector_config(settings: Settings) -> DetectorConfig:
    """The thresholds the settings ask for: the one place every detection path (monitoring,
    the daily flow, the report, ``sentrec detect``) builds its configuration from."""
    return DetectorConfig(counts=CountConfig(alpha=settings.alert_alpha))


@dataclass(frozen=True)
class WindowScores:
    """Per window: baseline, spread, z, statistic over threshold, and whether it was judged."""

    baseline: FloatArray
    spread: FloatArray
    z: FloatArray
    ratio: FloatArray  # the firing statistic divided by its threshold; >= 1 fires
    judged: NDArray[np.bool_]


Detector = Callable[[FloatArray, FloatArray, DetectorConfig], WindowScores]


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


class Signal(StrEnum):
    """What an episode can rest on, in the order its reason names them."""

    NEGATIVE_VOLUME = "negative volume"  # more negative documents than usual for the time
    VOLUME = "volume"  # more documents than usual for the time (buzz)
    NEGATIVE_SHARE = "negative share"  # a larger share of the documents negative


def window_of(series: pl.DataFrame) -> str:
    """The window length of a series: "hour" or "day", from its first window."""
    if series.is_empty():
        return "hour"
    length = series["window_end"][0] - series["window_start"][0]
    return "day" if length >= timedelta(days=1) else "hour"


def score_series(series: pl.DataFrame, *, detector: str = DetectorName.DEFAULT,
                 config: DetectorConfig | None = None, window: str | None = None
                 ) -> pl.DataFrame:
    """Judge every window of every (entity, topic) series on each signal.

    Added columns: for the share, ``baseline``, ``spread``, ``band_low``/``band_high``
    (baseline +- z_threshold x spread), ``z``, ``ratio`` (statistic over threshold) and
    ``share_fired``; for the counts (the default detector only), ``expected_volume``,
    ``volume_p``, ``volume_fired``, ``expected_negatives``, ``negatives_p``,
    ``negatives_band`` (the count that would fire) and ``negatives_fired``; ``judged`` and
    ``fired`` (any signal), and ``strength`` (the strongest signal over its threshold).
    """
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; use one of {', '.join(DETECTORS)}")
    config = config or DetectorConfig()
    window = window or window_of(series)
    counted = detector == DetectorName.DEFAULT
    parts = []
    for _, group in series.sort("window_start").group_by(["entity", "topic"],
                                                         maintain_order=True):
        share = group["negative_share"].fill_null(0.0).to_numpy().astype(np.float64)
        volume = group["volume"].to_numpy().astype(np.float64)
        scores = DETECTORS[detector](share, volume, config)
        share_fired = scores.judged & (scores.ratio >= 1.0)
        columns = [pl.Series("baseline", scores.baseline), pl.Series("spread", scores.spread),
                   pl.Series("z", scores.z), pl.Series("ratio", scores.ratio),
                   pl.Series("share_fired", share_fired)]
        fired, judged, strength = share_fired, scores.judged, np.where(scores.judged,
                                                                       scores.ratio, 0.0)
        if counted:
            starts = group["window_start"].dt.replace_time_zone(None).to_numpy()
            negatives = group["negatives"].to_numpy().astype(np.float64)
            mentions = judge_counts(volume, starts, window, config.counts)
            negative = judge_counts(negatives, starts, window, config.counts)
            columns += [
                pl.Series("expected_volume", mentions.expected),
                pl.Series("volume_p", mentions.p_value),
                pl.Series("volume_fired", mentions.fired),
                pl.Series("expected_negatives", negative.expected),
                pl.Series("negatives_p", negative.p_value),
                pl.Series("negatives_band", firing_count(negative, config.counts)),
                pl.Series("negatives_fired", negative.fired)]
            fired = fired | mentions.fired | negative.fired
            judged = judged | mentions.judged
            for counts in (mentions, negative):
                strength = np.maximum(strength, np.where(
                    counts.fired, np.log(counts.p_value) / np.log(config.counts.alpha), 0.0))
        parts.append(group.with_columns(*columns, pl.Series("judged", judged),
                                        pl.Series("fired", fired),
                                        pl.Series("strength", strength)))
    if not parts:
        return series.with_columns(
            *(pl.lit(None, pl.Float64).alias(c) for c in (
                "baseline", "spread", "z", "ratio", "band_low", "band_high", "strength")),
            *(pl.lit(False).alias(c) for c in ("judged", "fired", "share_fired")))
    scored = pl.concat(parts, how="diagonal").with_columns(
        pl.col("baseline", "spread", "z").fill_nan(None))
    return scored.with_columns(
        (pl.col("baseline") - config.z_threshold * pl.col("spread")).clip(0, 1).alias("band_low"),
        (pl.col("baseline") + config.z_threshold * pl.col("spread")).clip(0, 1)
        .alias("band_high"),
    )
