"""Bursts of real documents injected into one entity's window series, and the detectors'
answer to each.

A burst **moves** real documents of the same entity, taken far from the burst window (more
than ``baseline_windows + MAX_DELAY`` windows away) and only texts without copies (a moved
original would hand its novelty to a copy), into one window. Moving instead of copying keeps
every moved document novel, so the edit can be made on the window series itself: each moved
document leaves its own window and joins the burst window (``apply_burst``; the smoke test
checks this equals re-aggregating the moved documents). Kinds, for a window of ``n`` novel
documents of which ``m`` are negative:

* ``negative_volume_x{f}``: ``ceil((f - 1) m)`` negative documents, so the window holds f
  times its negatives;
* ``share_x{f}``: negative documents until the window's negative share is f times the
  entity's usual share (the median over the previous ``baseline_windows`` windows with
  ``min_volume`` documents; skipped where f times it passes 0.95);
* ``buzz_x{f}``: ``ceil((f - 1) n)`` documents of any sentiment, so the window holds f times
  its documents.

A burst window holds at least ``min_volume`` novel documents (smaller windows are below what
any detector can tell from noise, and the product judges no share there), lies after the first
``min_history_days`` of the stream, and no detector fired within ``MAX_DELAY`` windows of it on
the un-injected stream (its alarm would be the stream's own, not the burst's). Every detector
is causal (a window is judged on the windows before it), so a replay is scored only up to
``MAX_DELAY`` windows after the burst.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np
import polars as pl
from numpy.typing import NDArray

from bench.alert_baselines import BASELINES, baseline_fired
from domain.counts import fires
from domain.detection import DetectorConfig, DetectorName, score_series

KINDS: dict[str, tuple[str, float]] = {
    "negative_volume_x1.5": ("negative_volume", 1.5),
    "negative_volume_x2": ("negative_volume", 2.0),
    "negative_volume_x3": ("negative_volume", 3.0),
    "share_x1.5": ("share", 1.5),
    "share_x2": ("share", 2.0),
    "share_x3": ("share", 3.0),
    "buzz_x2": ("buzz", 2.0),
    "buzz_x3": ("buzz", 3.0),
}
DETECTORS = ("product", *BASELINES)
MAX_DELAY = 3  # windows after the burst window in which a detection still counts
PRODUCT_SIGNALS = ("negatives_fired", "volume_fired", "share_fired")
STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class Burst:
    """Documents (by ``doc_id``) moved into window ``index`` of an entity's series."""

    kind: str
    index: int
    doc_ids: list[int]
    negatives: int  # how many of them are negative


def fired_by(series: pl.DataFrame, config: DetectorConfig, window: str
             ) -> tuple[dict[str, NDArray[np.bool_]], pl.DataFrame]:
    """Per detector, whether each window of one entity's series fired; and the product's
    scored series (its signal columns)."""
    scored = score_series(series, detector=DetectorName.DEFAULT, config=config, window=window)
    fired = {"product": scored["fired"].to_numpy()}
    for name in BASELINES:
        fired[name] = baseline_fired(series, name, config, window)
    return fired, scored


def product_fired_at(scored: pl.DataFrame, config: DetectorConfig, alpha: float
                     ) -> NDArray[np.bool_]:
    """The product's fired windows had the count model's tail probability been ``alpha``: the
    share signal as scored, the two count signals' p-values through ``domain.counts.fires``
    again (alpha changes nothing else, so one scoring serves every alpha of a sweep)."""
    counts = replace(config.counts, alpha=alpha)
    fired = scored["share_fired"].to_numpy().astype(np.bool_)
    for observed, prefix in (("volume", "volume"), ("negatives", "negatives")):
        fired = fired | fires(scored[observed].to_numpy().astype(np.float64),
                              scored[f"expected_{prefix}"].to_numpy().astype(np.float64),
                              scored[f"{prefix}_p"].to_numpy().astype(np.float64), counts)
    return fired


def usual_share(series: pl.DataFrame, index: int, config: DetectorConfig) -> float | None:
    """The entity's median negative share over the windows before ``index`` that hold
    ``min_volume`` documents (at most ``baseline_windows`` back)."""
    past = series.slice(max(0, index - config.baseline_windows),
                        index - max(0, index - config.baseline_windows))
    shares = past.filter(pl.col("volume") >= config.min_volume)["negative_share"]
    if shares.len() < config.min_baseline_windows:
        return None
    return float(shares.median())  # type: ignore[arg-type]


def burst_size(kind: str, row: dict[str, int], usual: float | None) -> tuple[int, bool]:
    """How many documents a burst of ``kind`` moves into a window, and whether they must be
    negative; 0 where the kind cannot be made there."""
    signal, factor = KINDS[kind]
    n, m = row["volume"], row["negatives"]
    if signal == "negative_volume":
        return math.ceil((factor - 1) * m), True
    if signal == "buzz":
        return math.ceil((factor - 1) * n), False
    if usual is None or factor * usual > 0.95 or usual <= 0:
        return 0, True
    target = factor * usual
    return max(0, math.ceil((target * n - m) / (1 - target))), True


def eligible_windows(series: pl.DataFrame, clean: dict[str, NDArray[np.bool_]],
                     config: DetectorConfig, window: str) -> NDArray[np.int64]:
    """Indices of windows a burst may land in (see the module docstring)."""
    any_fired = np.zeros(series.height, bool)
    for fired in clean.values():
        any_fired |= fired
    near = np.convolve(any_fired, np.ones(2 * MAX_DELAY + 1), "same") > 0
    per_day = 24 if window == "hour" else 1
    first = round(config.counts.min_history_days * per_day)
    ok = (series["volume"].to_numpy() >= config.min_volume) & ~near
    ok[:first] = False
    return np.flatnonzero(ok)


def plan_bursts(series: pl.DataFrame, docs: pl.DataFrame, candidates: NDArray[np.int64],
                kind: str, config: DetectorConfig, window: str, rng: np.random.Generator,
                limit: int) -> list[Burst]:
    """Up to ``limit`` bursts of ``kind`` at random candidate windows of one entity.

    ``docs`` are the entity's marked documents (``mark_documents``).
    """
    movable = docs.filter(pl.len().over("text_key") == 1)
    far = STEP[window] * (config.baseline_windows + MAX_DELAY + 1)
    bursts: list[Burst] = []
    for index in rng.permutation(candidates):
        row = series.row(int(index), named=True)
        k, negative = burst_size(kind, row, usual_share(series, int(index), config))
        pool = movable.filter((pl.col("created_at") - row["window_start"]).abs() > far)
        if negative:
            pool = pool.filter(pl.col("negative"))
        if k < 1 or pool.height < k:
            continue
        moved = pool.sample(k, seed=int(rng.integers(1 << 31)))
        bursts.append(Burst(kind, int(index), moved["doc_id"].to_list(),
                            int(moved["negative"].sum())))
        if len(bursts) == limit:
            break
    return bursts


def apply_burst(series: pl.DataFrame, docs: pl.DataFrame, burst: Burst, window: str
                ) -> pl.DataFrame:
    """The series with the burst's documents moved from their own windows into its window
    (``mean_score`` is left as it was: no detector reads it)."""
    moved = docs.filter(pl.col("doc_id").is_in(burst.doc_ids)).select(
        pl.col("created_at").dt.truncate("1h" if window == "hour" else "1d")
        .alias("window_start"), pl.col("negative").cast(pl.Int64).alias("n_neg"))
    left = moved.group_by("window_start").agg(pl.len().cast(pl.Int64).alias("out"),
                                              pl.col("n_neg").sum().alias("out_neg"))
    target = series["window_start"][burst.index]
    edited = series.join(left, on="window_start", how="left").with_columns(
        pl.col("out", "out_neg").fill_null(0)).with_columns(
        (pl.col("volume") - pl.col("out") +
         pl.when(pl.col("window_start") == target).then(len(burst.doc_ids)).otherwise(0))
        .alias("volume"),
        (pl.col("negatives") - pl.col("out_neg") +
         pl.when(pl.col("window_start") == target).then(burst.negatives).otherwise(0))
        .alias("negatives"),
        (pl.col("documents") - pl.col("out") +
         pl.when(pl.col("window_start") == target).then(len(burst.doc_ids)).otherwise(0))
        .alias("documents"))
    return edited.with_columns(
        pl.when(pl.col("volume") > 0).then(pl.col("negatives") / pl.col("volume"))
        .alias("negative_share")).select(series.columns)


def replay(series: pl.DataFrame, docs: pl.DataFrame, burst: Burst, config: DetectorConfig,
           window: str, alphas: Sequence[float] = ()) -> dict[str, object]:
    """Windows from the burst to each detector's first alarm (None: missed within
    ``MAX_DELAY``), the same for the product at each of ``alphas``, and which of the
    product's signals fired in the burst window."""
    edited = apply_burst(series, docs, burst, window).head(burst.index + MAX_DELAY + 1)
    fired, scored = fired_by(edited, config, window)
    delays = {name: _first(fired[name][burst.index:]) for name in DETECTORS}
    at = scored.row(burst.index, named=True)
    return {"delays": delays,
            "alpha_delays": {repr(a): _first(product_fired_at(scored, config, a)[burst.index:])
                             for a in alphas},
            "product_signals": [s for s in PRODUCT_SIGNALS if at.get(s)]}


def _first(fired: NDArray[np.bool_]) -> int | None:
    hits = np.flatnonzero(fired)
    return int(hits[0]) if hits.size else None


def episodes(fired: NDArray[np.bool_], cooldown: int) -> int:
    """Runs of fired windows, a gap of more than ``cooldown`` quiet windows ending one: the
    product's episode rule (``domain.episodes.find_episodes``) applied to any detector."""
    hits = np.flatnonzero(fired)
    return int(hits.size and 1 + np.sum(np.diff(hits) > cooldown))
