"""What a window of an entity's mentions is expected to hold, and how surprising its count is.

The volume detectors (all mentions, negative mentions) judge each window against the usual for
that time: media-monitoring practice compares the last hour with the hours before it and a day
with the same weekday (Meltwater compares an hour with the previous 12, a day with the previous
14 days). Here the expectation is seasonal and learnt from the trailing ``history_days``:

    expected = level x hour-of-day factor x weekday factor

* the **level** is the mean count per window over the last ``level_days``, with the hour and
  weekday factors divided out (so a level measured over a weekend is not a low level);
* each **factor** is the window slot's mean over the history divided by the overall mean,
  with ``prior_documents`` documents at the overall rate added to the slot (a Gamma prior
  centred on 1): a slot that saw few documents cannot swing the expectation, while a quiet
  hour seen every day for weeks keeps its low factor; weekday factors wait for
  ``weekday_min_weeks`` weeks;
* a past window counts at most ``cap_ratio`` times its own expectation (plus ``cap_excess``)
  in later baselines, so an earlier burst does not lift the baseline that judges the next one.

Counts of mentions are overdispersed (stories arrive in bunches), so the spread is a negative
binomial's: variance = expected + expected^2 / k, with 1/k estimated by the method of moments
on the trailing windows' residuals, each squared residual clipped at ``clip_sigma`` spreads
(again, past bursts). A window **fires** when its count is in the upper tail beyond
``alpha`` under that model *and* at least ``min_ratio`` times and ``min_excess`` documents above
its expectation: significance alone would page on tiny effects in a busy stream, effect alone
on noise in a quiet one. Nothing is judged before ``min_history_days`` of history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats  # type: ignore[import-untyped]

FloatArray = NDArray[np.float64]
WINDOWS_PER_DAY = {"hour": 24, "day": 1}


@dataclass(frozen=True)
class CountConfig:
    """The count model and when a window fires; defaults hold for hourly and daily windows."""

    history_days: float = 28.0  # the baseline's span: four of each weekday
    level_days: float = 7.0  # the level is the last week's deseasonalised mean
    min_history_days: float = 2.0  # no judgement before two days of history
    prior_documents: float = 10.0  # pseudo-documents at the overall rate added to every slot
    weekday_min_weeks: float = 2.0  # weekday factors only once two weeks are seen
    cap_ratio: float = 3.0  # a past window counts at most 3x its expectation (+ cap_excess)
    cap_excess: float = 5.0
    clip_sigma: float = 5.0  # squared residuals clipped at 5 spreads in the dispersion
    alpha: float = 1e-5  # upper-tail probability under the model at which a window fires
    min_ratio: float = 1.5  # observed / expected a firing window needs
    min_excess: float = 5.0  # observed - expected a firing window needs (documents)
    min_expected: float = 0.05  # floor of an expectation, so an empty slot is not infinitely rare
    max_inverse_dispersion: float = 2.0  # 1/k cap: beyond it a count says nothing anyway

    def __post_init__(self) -> None:
        if not 0 < self.min_history_days <= self.history_days or not 0 < self.alpha < 1:
            raise ValueError(f"need 0 < min_history_days <= history_days and 0 < alpha < 1, "
                             f"got {self}")


@dataclass(frozen=True)
class CountJudgement:
    """Per window: observed and expected count, 1/k, upper-tail probability, and whether it
    was judged and fired. Arrays are parallel to the counts; unjudged windows hold NaN
    (and p = 1)."""

    observed: FloatArray
    expected: FloatArray
    inverse_dispersion: FloatArray
    p_value: FloatArray
    judged: NDArray[np.bool_]
    fired: NDArray[np.bool_]


def judge_counts(counts: FloatArray, starts: NDArray[np.datetime64], window: str,
                 config: CountConfig | None = None) -> CountJudgement:
    """Judge every window of one series (contiguous windows of length ``window``, oldest
    first) against the expectation its own trailing history gives."""
    config = config or CountConfig()
    per_day = WINDOWS_PER_DAY[window]
    y = np.asarray(counts, dtype=np.float64)
    n = y.size
    hours = _hour_of_day(starts) if per_day > 1 else np.zeros(n, dtype=np.int64)
    slots = _weekday(starts) * 24 + hours  # (n,) in 0..167
    spans = (max(1, round(config.history_days * per_day)),
             max(1, round(config.level_days * per_day)))
    first = max(1, round(config.min_history_days * per_day))
    judged = np.arange(n) >= first
    # Pass 1 on the raw counts; pass 2 on counts capped at a multiple of pass 1's expectation.
    rough = _expected(y, slots, hours, spans, per_day, config)
    capped = np.where(judged, np.minimum(y, config.cap_ratio * rough + config.cap_excess), y)
    expected = np.where(judged, _expected(capped, slots, hours, spans, per_day, config), np.nan)
    inverse = _inverse_dispersion(y, expected, spans[0], config)
    p_value = np.ones(n)
    p_value[judged] = _upper_tail(y[judged], expected[judged], inverse[judged])
    fired = judged & fires(y, expected, p_value, config)
    return CountJudgement(y, expected, inverse, p_value, judged, fired)


def fires(observed: FloatArray, expected: FloatArray, p_value: FloatArray,
          config: CountConfig) -> NDArray[np.bool_]:
    """The firing rule: upper-tail probability below ``alpha`` and an effect of ``min_ratio``
    and ``min_excess`` (an unjudged window, expected NaN, never fires). Only this step reads
    ``alpha``, so a sweep over it re-applies the rule to one judgement's p-values."""
    with np.errstate(invalid="ignore"):
        fired = (p_value < config.alpha) & (observed >= config.min_ratio * expected) & \
            (observed - expected >= config.min_excess)
    return np.asarray(fired, dtype=np.bool_)


def _hour_of_day(starts: NDArray[np.datetime64]) -> NDArray[np.int64]:
    hours = starts.astype("datetime64[h]").astype(np.int64)
    return np.asarray(hours % 24, dtype=np.int64)


def _weekday(starts: NDArray[np.datetime64]) -> NDArray[np.int64]:
    days = starts.astype("datetime64[D]").astype(np.int64)
    return np.asarray((days + 3) % 7, dtype=np.int64)  # 1970-01-01 was a Thursday: Monday = 0


def _trailing(values: FloatArray, span: int) -> FloatArray:
    """For each window i, the sum of ``values[i - span:i]`` along axis 0 (the window itself
    never counts)."""
    total = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    n = values.shape[0]
    ends = np.arange(n)
    return np.asarray(total[ends] - total[np.maximum(ends - span, 0)], dtype=np.float64)


def _expected(y: FloatArray, slots: NDArray[np.int64], hours: NDArray[np.int64],
              spans: tuple[int, int], per_day: int, config: CountConfig) -> FloatArray:
    """Every window's expectation from its trailing history, all windows at once: per
    (weekday, hour) slot, trailing counts of windows and sums of counts (n, 7, 24)."""
    n = y.size
    onehot = np.zeros((n, 168))
    onehot[np.arange(n), slots] = 1.0
    seen = _trailing(onehot, spans[0]).reshape(n, 7, 24)
    sums = _trailing(onehot * y[:, None], spans[0]).reshape(n, 7, 24)
    recent_seen = _trailing(onehot, spans[1]).reshape(n, 7, 24)
    recent_sum = _trailing(y, spans[1])
    total_seen = seen.sum(axis=(1, 2))
    overall = sums.sum(axis=(1, 2)) / np.maximum(total_seen, 1.0)  # (n,) per window
    hour_factor = np.ones((n, 24))
    if per_day > 1:
        hour_factor = _shrunk(sums.sum(axis=1), seen.sum(axis=1), overall[:, None],
                              config.prior_documents)
    deseasoned = (sums / hour_factor[:, None, :]).sum(axis=2)  # (n, 7)
    day_factor = _shrunk(deseasoned, seen.sum(axis=2), overall[:, None],
                         config.prior_documents)
    weekly = total_seen / (7 * per_day) >= config.weekday_min_weeks
    day_factor[~weekly] = 1.0
    season = hour_factor[:, None, :] * day_factor[:, :, None]  # (n, 7, 24)
    level = recent_sum / np.maximum((recent_seen * season).sum(axis=(1, 2)), 1e-9)
    weekday, hour = slots // 24, slots % 24
    rows = np.arange(n)
    mu = level * hour_factor[rows, hour] * day_factor[rows, weekday]
    return np.asarray(np.maximum(mu, config.min_expected), dtype=np.float64)


def _shrunk(sums: FloatArray, seen: FloatArray, overall: FloatArray,
            prior: float) -> FloatArray:
    """Slot means over the overall mean with ``prior`` pseudo-documents at the overall rate
    added to every slot: the posterior mean of a Gamma-Poisson rate with a prior at 1."""
    expected = seen * overall
    return np.asarray((sums + prior) / (expected + prior), dtype=np.float64)


def _inverse_dispersion(y: FloatArray, mu: FloatArray, span: int,
                        config: CountConfig) -> FloatArray:
    """1/k of the negative binomial for every window, by the method of moments over its
    trailing judged windows: sum((y - mu)^2 - mu) / sum(mu^2), each squared residual clipped at
    ``clip_sigma`` spreads (past bursts would otherwise make every surge look ordinary). The
    spread is first taken generously (1/k = 0.5), then from that first estimate."""
    known = ~np.isnan(mu)
    m = np.where(known, mu, 0.0)
    enough = _trailing(known.astype(np.float64), span) >= 24
    estimate = np.full(y.size, 0.5)
    for _ in range(2):
        bound = config.clip_sigma ** 2 * m * (1.0 + estimate * m)
        moment = np.where(known, np.minimum((y - m) ** 2, bound) - m, 0.0)
        ratio = _trailing(moment, span) / np.maximum(_trailing(m ** 2, span), 1e-9)
        estimate = np.where(enough, np.clip(ratio, 0.0, config.max_inverse_dispersion), 0.5)
    return np.asarray(estimate, dtype=np.float64)


def _upper_tail(y: FloatArray, mu: FloatArray, inverse: FloatArray) -> FloatArray:
    """P(Y >= y) under a negative binomial with mean ``mu`` and 1/k = ``inverse`` (Poisson
    where 1/k is 0)."""
    k = 1.0 / np.maximum(inverse, 1e-6)
    tail = np.where(inverse < 1e-6, stats.poisson.sf(y - 1, mu),
                    stats.nbinom.sf(y - 1, k, k / (k + mu)))
    return np.asarray(np.where(y <= 0, 1.0, tail), dtype=np.float64)


def firing_count(judgement: CountJudgement, config: CountConfig) -> FloatArray:
    """Per judged window, the smallest count that would have fired (the top of the usual band
    a chart draws); NaN where the window was not judged."""
    judged = judgement.judged
    mu = np.where(judged, judgement.expected, 1.0)
    inverse = np.where(judged, judgement.inverse_dispersion, 0.0)
    k = 1.0 / np.maximum(inverse, 1e-6)
    tail = np.where(inverse < 1e-6, stats.poisson.isf(config.alpha, mu),
                    stats.nbinom.isf(config.alpha, k, k / (k + mu))) + 1.0
    needed = np.maximum.reduce([tail, config.min_ratio * mu, mu + config.min_excess])
    return np.asarray(np.where(judged, needed, np.nan), dtype=np.float64)
