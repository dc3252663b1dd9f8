"""The seasonal count model behind the volume detectors: what a window is expected to hold for
its hour and weekday, how widely counts spread, and which windows are surprising."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from domain.counts import CountConfig, judge_counts

START = datetime(2024, 4, 1)  # a Monday, UTC (numpy times carry no zone)


def hours(n: int) -> np.ndarray:
    return np.array([START + timedelta(hours=i) for i in range(n)], dtype="datetime64[us]")


def daily_shape(n: int, day: float, night: float) -> np.ndarray:
    """Expected counts that are ``day`` from 08:00 to 20:00 and ``night`` otherwise."""
    hour = np.arange(n) % 24
    return np.where((hour >= 8) & (hour < 20), day, night)


def test_a_doubled_window_after_three_calm_weeks_fires_in_that_window_only() -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(40, size=24 * 21).astype(float)
    counts[-5] = 80
    judged = judge_counts(counts, hours(len(counts)), "hour")
    assert np.flatnonzero(judged.fired).tolist() == [len(counts) - 5]
    assert judged.expected[-5] == pytest.approx(40, rel=0.1)


def test_a_calm_month_with_a_strong_daily_rhythm_fires_nothing() -> None:
    rng = np.random.default_rng(1)
    counts = rng.poisson(daily_shape(24 * 30, day=60, night=6)).astype(float)
    judged = judge_counts(counts, hours(len(counts)), "hour")
    assert not judged.fired.any()
    # Daytime is expected to be busy: the model learnt the hour-of-day profile.
    assert judged.expected[-12] == pytest.approx(60, rel=0.15)  # 12:00
    assert judged.expected[-22] == pytest.approx(6, rel=0.3)  # 02:00


def test_a_night_surge_fires_though_it_is_quieter_than_any_afternoon() -> None:
    rng = np.random.default_rng(2)
    counts = rng.poisson(daily_shape(24 * 21, day=60, night=6)).astype(float)
    night = len(counts) - 21  # 03:00 of the last day
    counts[night] = 30  # 5x a night, half an afternoon
    judged = judge_counts(counts, hours(len(counts)), "hour")
    assert np.flatnonzero(judged.fired).tolist() == [night]


def test_overdispersed_counts_are_not_mistaken_for_surges() -> None:
    rng = np.random.default_rng(3)
    k = 4.0  # negative binomial: variance = mean + mean^2 / 4
    means = daily_shape(24 * 28, day=50, night=10)
    counts = rng.negative_binomial(k, k / (k + means)).astype(float)
    judged = judge_counts(counts, hours(len(counts)), "hour")
    assert judged.fired.sum() <= 1
    assert 1 / 8 < np.nanmedian(judged.inverse_dispersion[-24 * 7:]) < 1 / 2


def test_a_past_burst_does_not_raise_the_baseline_that_judges_the_next_one() -> None:
    rng = np.random.default_rng(4)
    counts = rng.poisson(30, size=24 * 21).astype(float)
    counts[24 * 14: 24 * 14 + 3] = 200  # a surge a week ago
    counts[-3] = 75
    judged = judge_counts(counts, hours(len(counts)), "hour")
    assert judged.fired[-3]
    assert judged.expected[-3] == pytest.approx(30, rel=0.15)


def test_a_weekday_rhythm_is_learnt_once_two_weeks_are_seen() -> None:
    rng = np.random.default_rng(5)
    days = np.arange(24 * 35) // 24
    weekend = (days % 7) >= 5
    counts = rng.poisson(np.where(weekend, 8, 40)).astype(float)
    judged = judge_counts(counts, hours(len(counts)), "hour")
    assert not judged.fired.any()
    assert judged.expected[-30] == pytest.approx(8, rel=0.3)  # a Saturday hour
    assert judged.expected[-24 * 3] == pytest.approx(40, rel=0.15)  # a Friday hour


def test_a_sparse_series_pages_nobody() -> None:
    counts = np.zeros(24 * 21)
    counts[::37] = 1
    counts[-1] = 4  # four documents where one is rare
    judged = judge_counts(counts, hours(len(counts)), "hour")
    assert not judged.fired.any()


def test_nothing_is_judged_before_two_days_of_history() -> None:
    counts = np.full(24 * 5, 20.0)
    counts[30] = 200
    judged = judge_counts(counts, hours(len(counts)), "hour")
    assert not judged.judged[:48].any() and judged.judged[48:].all()
    assert not judged.fired[30]


def test_daily_windows_use_a_weekday_profile() -> None:
    rng = np.random.default_rng(6)
    days = np.arange(70)
    counts = rng.poisson(np.where(days % 7 >= 5, 100, 400)).astype(float)
    counts[-2] = 250  # a Saturday at 2.5x its usual
    starts = np.array([START + timedelta(days=int(d)) for d in days], dtype="datetime64[us]")
    judged = judge_counts(counts, starts, "day")
    assert np.flatnonzero(judged.fired).tolist() == [len(counts) - 2]


def test_the_thresholds_are_settings() -> None:
    rng = np.random.default_rng(7)
    counts = rng.poisson(40, size=24 * 21).astype(float)
    counts[-5] = 80  # 2x: significant, but under a 2.1x effect floor
    assert judge_counts(counts, hours(len(counts)), "hour").fired[-5]
    strict = CountConfig(min_ratio=2.1)
    assert not judge_counts(counts, hours(len(counts)), "hour", strict).fired[-5]
