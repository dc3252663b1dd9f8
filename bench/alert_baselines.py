"""The textbook detectors the product's is compared with, on all three signals of a series.

Each baseline watches the negative count, the total count and the negative share of one
entity's windows and fires when any of them does, so that it is judged on the same footing as
the product's combined detector (whatever fired):

* ``zscore``, ``ewma``, ``cusum``: on the share, the product's own share detectors of those
  names (``domain.detection``); on each count, the same rule over the trailing
  ``baseline_windows`` windows (mean and standard deviation, the std floored at one document
  so that a flat history is not infinitely sure), with the thresholds of ``DetectorConfig``;
* ``seasonal-naive``: the forecast is the mean of the same window yesterday and last week
  (same hour for hourly windows, Hyndman & Athanasopoulos, FPP3 5.2); a count fires 3
  Poisson sigmas above it, a share (at ``min_volume`` documents or more) 3 binomial sigmas
  above the forecast share.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from numpy.typing import NDArray

from domain.detection import DetectorConfig, score_series

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
BASELINES = ("zscore", "ewma", "cusum", "seasonal-naive")
SEASONAL_SIGMAS = 3.0


def _trailing_stats(y: FloatArray, config: DetectorConfig) -> tuple[FloatArray, FloatArray]:
    """Mean and std (ddof=1, floored at 1) of the previous ``baseline_windows`` values; NaN
    before ``min_baseline_windows`` of them exist."""
    span, n = config.baseline_windows, y.size
    ends = np.arange(n)
    starts = np.maximum(ends - span, 0)
    sums = np.concatenate([[0.0], np.cumsum(y)])
    squares = np.concatenate([[0.0], np.cumsum(y * y)])
    seen = (ends - starts).astype(np.float64)
    total, total_sq = sums[ends] - sums[starts], squares[ends] - squares[starts]
    enough = seen >= config.min_baseline_windows
    mean = np.where(enough, total / np.maximum(seen, 1.0), np.nan)
    variance = (total_sq - seen * np.nan_to_num(mean) ** 2) / np.maximum(seen - 1, 1.0)
    std = np.sqrt(np.maximum(variance, 0.0))
    return mean, np.where(enough, np.maximum(std, 1.0), np.nan)


def _count_z(y: FloatArray, config: DetectorConfig) -> tuple[FloatArray, FloatArray]:
    mean, std = _trailing_stats(y, config)
    return (y - mean) / std, std


def zscore_counts(y: FloatArray, config: DetectorConfig) -> BoolArray:
    z, _ = _count_z(y, config)
    return np.nan_to_num(z) >= config.plain_z_threshold


def ewma_counts(y: FloatArray, config: DetectorConfig) -> BoolArray:
    """The product's EWMA chart rule applied to a count."""
    z, _ = _count_z(y, config)
    lam, limit = config.ewma_lambda, config.ewma_l * math.sqrt(config.ewma_lambda /
                                                               (2 - config.ewma_lambda))
    fired, smoothed = np.zeros(y.size, bool), 0.0
    for i in np.flatnonzero(~np.isnan(z)):
        smoothed = lam * z[i] + (1 - lam) * smoothed  # EWMA of the standardised count
        fired[i] = smoothed >= limit
    return fired


def cusum_counts(y: FloatArray, config: DetectorConfig) -> BoolArray:
    """Page's one-sided CUSUM of the standardised count, reset after each alarm."""
    z, _ = _count_z(y, config)
    fired, s = np.zeros(y.size, bool), 0.0
    for i in np.flatnonzero(~np.isnan(z)):
        s = max(0.0, s + float(z[i]) - config.cusum_k)
        if s >= config.cusum_h:
            fired[i], s = True, 0.0
    return fired


def _seasonal_forecast(y: FloatArray, per_day: int) -> FloatArray:
    """Mean of the value one day and one week before; NaN until a week is seen."""
    forecast = np.full(y.size, np.nan)
    day, week = per_day, 7 * per_day
    forecast[week:] = (y[week - day:-day] + y[:-week]) / 2
    return forecast


def seasonal_counts(y: FloatArray, per_day: int) -> BoolArray:
    forecast = _seasonal_forecast(y, per_day)
    limit = forecast + SEASONAL_SIGMAS * np.sqrt(np.maximum(forecast, 1.0))
    return np.nan_to_num(y - limit, nan=-1.0) > 0


def seasonal_share(share: FloatArray, volume: FloatArray, per_day: int,
                   config: DetectorConfig) -> BoolArray:
    """The share against the mean share of the same window yesterday and last week."""
    ok = volume >= config.min_volume
    forecast = _seasonal_forecast(np.where(ok, share, np.nan), per_day)
    p = np.clip(forecast, 0.05, 0.95)
    limit = forecast + SEASONAL_SIGMAS * np.sqrt(p * (1 - p) / np.maximum(volume, 1.0))
    return ok & (np.nan_to_num(share - limit, nan=-1.0) > 0)


COUNT_RULES = {"zscore": zscore_counts, "ewma": ewma_counts, "cusum": cusum_counts}


def baseline_fired(series: pl.DataFrame, name: str, config: DetectorConfig, window: str
                   ) -> BoolArray:
    """Per window of one entity's series (``SERIES_SCHEMA``, time order): did baseline
    ``name`` fire on any of the three signals."""
    negatives = series["negatives"].to_numpy().astype(np.float64)
    volume = series["volume"].to_numpy().astype(np.float64)
    if name == "seasonal-naive":
        per_day = 24 if window == "hour" else 1
        share = series["negative_share"].fill_null(0.0).to_numpy().astype(np.float64)
        return np.asarray(seasonal_counts(negatives, per_day) | seasonal_counts(volume, per_day)
                          | seasonal_share(share, volume, per_day, config))
    share_fired = score_series(series, detector=name, config=config, window=window)["fired"]
    rule = COUNT_RULES[name]
    return np.asarray(share_fired.to_numpy() | rule(negatives, config) | rule(volume, config))
