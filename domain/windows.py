"""Scored documents per entity (and topic) by UTC window: volume, negative share, mean score.

The input is one row per scored document (``SCORED_SCHEMA``; ``storage.alerts.scored_documents``
builds it). Two rules shape every number here:

* **Novelty.** A retweet ("RT @user: ...") or a near-duplicate of an earlier document of the same
  entity counts once: near-duplicates are texts equal after normalisation (lower case, no URLs,
  no @handles, no punctuation, spaces collapsed). Short normalised texts ("thanks!") are left
  alone, because different people write them independently; retweets are copies whatever
  their length. ``volume``, ``negatives``, ``negative_share`` and ``mean_score`` count novel
  documents only; ``documents`` counts all of them.
* **Explicit empty windows.** Every entity (or entity x topic) gets every window of the period,
  with ``volume = 0`` and null share and score where nothing was written, so a trailing
  baseline sees the quiet hours instead of skipping them.

A document is negative when ``p_negative`` is the largest of the three probabilities (ties go
to negative), or, with ``negative_rule="score"``, when ``score < score_threshold``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import polars as pl

from domain.records import UTC_TIME

SCORED_SCHEMA: dict[str, pl.DataType] = {
    "doc_kind": pl.String(),  # "message" or "news"
    "doc_id": pl.Int64(),  # messages.id or news.id
    "entity": pl.String(),
    "topic": pl.String(),  # null when no topic model assigned one
    "created_at": UTC_TIME,
    "score": pl.Float64(),  # p_positive - p_negative
    "p_negative": pl.Float64(),
    "p_neutral": pl.Float64(),
    "p_positive": pl.Float64(),
    "text": pl.String(),
    "highlights": pl.String(),  # JSON [[token, weight], ...] as stored in sentiment_scores
}
class Window(StrEnum):
    """The window lengths series are cut into, aligned to UTC."""

    HOUR = "hour"
    DAY = "day"


WINDOWS: dict[str, str] = {Window.HOUR: "1h", Window.DAY: "1d"}  # polars durations
NEGATIVE_RULES = ("argmax", "score")
SERIES_SCHEMA: dict[str, pl.DataType] = {
    "entity": pl.String(),
    "topic": pl.String(),
    "window_start": UTC_TIME,
    "window_end": UTC_TIME,
    "documents": pl.Int64(),
    "volume": pl.Int64(),
    "negatives": pl.Int64(),
    "negative_share": pl.Float64(),
    "mean_score": pl.Float64(),
}
_RETWEET = r"^\s*rt\s+@\w+:?"
# A trailing credit of the outlet a headline was copied from: " - Reuters", " | CNBC".
_SOURCE_CREDIT = r"\s+[-|\u2013\u2014]\s+[\p{L}][\p{L} .&']{1,30}$"
# A truncated text must keep this many words to be matched to the story it begins.
_TRUNCATED_MIN_WORDS = 6


@dataclass(frozen=True)
class MonitorConfig:
    """How documents become window series."""

    window: str = "hour"  # "hour" or "day", both aligned to UTC
    negative_rule: str = "argmax"  # "argmax" of the probabilities, or "score" < threshold
    score_threshold: float = -0.5  # used by negative_rule="score"
    # Normalised texts shorter than this are never near-duplicates (retweets always are).
    min_duplicate_chars: int = 20
    by_topic: bool = False  # one series per entity x topic instead of per entity

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {', '.join(WINDOWS)}, not {self.window!r}")
        if self.negative_rule not in NEGATIVE_RULES:
            raise ValueError(f"negative_rule must be one of {', '.join(NEGATIVE_RULES)}, "
                             f"not {self.negative_rule!r}")


def to_utc(values: pl.Series) -> pl.Series:
    """Times as UTC: zoned times are converted, naive ones read as UTC, ISO text parsed.

    Text may carry its own offset ("2024-03-10 01:30:00-05:00"); text without one is UTC.
    """
    if values.dtype == pl.String:
        text = values.str.strip_chars().str.replace(r"^(\d{4}-\d\d-\d\d)T", "${1} ")\
            .str.replace(r"[Zz]$", "+00:00")
        parsed = text.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
        bad = values.is_not_null() & parsed.is_null()
        if bad.any():
            raise ValueError(f"created_at has text that is not an ISO 8601 time, e.g. "
                             f"{values.filter(bad)[0]!r}")
        return parsed.cast(UTC_TIME)
    if not isinstance(values.dtype, pl.Datetime):
        raise ValueError(f"created_at must be a datetime or ISO text, not {values.dtype}")
    if values.dtype.time_zone is None:
        values = values.dt.replace_time_zone("UTC")
    return values.dt.convert_time_zone("UTC").cast(UTC_TIME)


def mark_documents(scored: pl.DataFrame, config: MonitorConfig | None = None) -> pl.DataFrame:
    """Add ``created_at`` in UTC, ``negative``, ``is_retweet``, ``text_key`` and the story
    columns: ``story`` (the row number of its first document), ``first_seen``, ``copies``
    (documents of the story), ``novelty`` (1 for the first, 1/2 for the next copy, ...) and
    ``novel`` (the first document of its story).

    A story is the documents of one entity whose normalised texts are equal, the normalised
    text leaving out a retweet's "RT @user:", URLs, @handles, punctuation and a trailing
    source credit ("- Reuters", "| CNBC"); a text cut short with an ellipsis joins the earlier
    story it is the beginning of (truncated retweets). Short texts ("thanks!") never join a
    story of others, since people write them independently; retweets always do. Rows come back
    in time order.
    """
    config = config or MonitorConfig()
    missing = sorted(set(SCORED_SCHEMA) - set(scored.columns))
    if missing:
        raise ValueError(f"scored documents lack columns {missing}; see SCORED_SCHEMA")
    text = pl.col("text").fill_null("").str.to_lowercase()
    plain = (text.str.replace(_RETWEET, "").str.replace_all(r"https?://\S+", " ")
             .str.replace_all(r"@\w+", " ").str.replace_all(r"&amp;", " ").str.strip_chars())
    key = (plain.str.replace(_SOURCE_CREDIT, "").str.replace_all(r"[^\p{L}\p{N}]+", " ")
           .str.strip_chars())
    if config.negative_rule == "argmax":
        negative = (pl.col("p_negative") >= pl.col("p_neutral")) & \
            (pl.col("p_negative") >= pl.col("p_positive"))
    else:
        negative = pl.col("score") < config.score_threshold
    marked = scored.with_columns(
        pl.Series("created_at", to_utc(scored["created_at"])),
        negative.fill_null(False).alias("negative"),
        text.str.contains(_RETWEET).alias("is_retweet"),
        key.alias("text_key"),
        plain.str.contains(r"(\u2026|\.\.\.)$").alias("_truncated"),
    ).sort(["created_at", "doc_kind", "doc_id"], nulls_last=True).with_row_index("_row")
    may_repeat = marked["is_retweet"] | \
        (marked["text_key"].str.len_chars() >= config.min_duplicate_chars)
    first_of_key = marked.select(pl.col("_row").first().over(["entity", "text_key"])
                                 ).to_series()
    story = [first if joins else row for row, first, joins in zip(
        marked["_row"].to_list(), first_of_key.to_list(), may_repeat.to_list(), strict=True)]
    _join_truncated(marked, story, may_repeat.to_list())
    marked = marked.with_columns(pl.Series("story", story, dtype=pl.UInt32))
    order = pl.int_range(pl.len()).over("story")
    return marked.with_columns(
        pl.col("created_at").min().over("story").alias("first_seen"),
        pl.len().over("story").cast(pl.Int64).alias("copies"),
        (1.0 / (order + 1)).alias("novelty"),
        (order == 0).alias("novel"),
    ).drop("_row", "_truncated")


def _join_truncated(marked: pl.DataFrame, story: list[int], may_repeat: list[bool]) -> None:
    """A text ending in an ellipsis joins the earliest earlier story of its entity whose text
    starts with its words (the cut-off last word left out); ``story`` is updated in place.

    Story heads are looked up by prefix in each entity's sorted keys (binary search), so this
    costs O(log n) per truncated text.
    """
    cut = marked.filter(pl.col("_truncated")).select("_row", "entity", "text_key")
    if cut.is_empty():
        return
    heads: dict[str, tuple[list[str], list[int]]] = {}
    for row, entity, key in marked.select("_row", "entity", "text_key").iter_rows():
        if story[row] == row:
            heads.setdefault(entity, ([], []))[0].append(key)
            heads[entity][1].append(row)
    index = {entity: sorted(zip(keys, rows, strict=True))
             for entity, (keys, rows) in heads.items()}
    moved: dict[int, int] = {}
    for row, entity, key in cut.iter_rows():
        words = key.split(" ")[:-1]
        if len(words) < _TRUNCATED_MIN_WORDS or not may_repeat[row] or entity not in index:
            continue
        prefix = " ".join(words) + " "
        pairs = index[entity]
        candidates = []
        for key_, head in pairs[bisect.bisect_left(pairs, (prefix, -1)):]:
            if not key_.startswith(prefix):
                break
            if head < row:
                candidates.append(head)
        if candidates:
            moved[story[row]] = min(candidates)
    for member, first in enumerate(story):
        if first in moved:
            story[member] = moved[first]


def window_grid(start: datetime, end: datetime, window: str) -> pl.Series:
    """Window starts from the window holding ``start`` up to the one holding ``end``."""
    every = WINDOWS[window]
    bounds = to_utc(pl.Series([start, end])).dt.truncate(every)
    return pl.datetime_range(bounds[0], bounds[1], every, time_unit="us", time_zone="UTC",
                             eager=True).alias("window_start")


def aggregate_windows(scored: pl.DataFrame, config: MonitorConfig | None = None, *,
                      start: datetime | None = None,
                      end: datetime | None = None) -> pl.DataFrame:
    """One row per entity (x topic) and window from ``start`` to ``end`` (default: the data's).

    Documents outside ``[start, end]`` are dropped; columns are ``SERIES_SCHEMA``.
    """
    config = config or MonitorConfig()
    marked = scored if "novel" in scored.columns else mark_documents(scored, config)
    marked = marked.filter(pl.col("entity").is_not_null())
    if start is not None:
        marked = marked.filter(pl.col("created_at") >= to_utc(pl.Series([start]))[0])
    if end is not None:
        marked = marked.filter(pl.col("created_at") <= to_utc(pl.Series([end]))[0])
    if marked.is_empty() and (start is None or end is None):
        return pl.DataFrame(schema=SERIES_SCHEMA)
    first = start if start is not None else marked["created_at"].min()
    last = end if end is not None else marked["created_at"].max()
    grid = window_grid(first, last, config.window)  # type: ignore[arg-type]
    keys = ["entity", "topic"]
    if not config.by_topic:
        marked = marked.with_columns(pl.lit(None, pl.String).alias("topic"))
    counts = marked.with_columns(
        pl.col("created_at").dt.truncate(WINDOWS[config.window]).alias("window_start"),
    ).group_by([*keys, "window_start"]).agg(
        pl.len().cast(pl.Int64).alias("documents"),
        pl.col("novel").sum().cast(pl.Int64).alias("volume"),
        (pl.col("novel") & pl.col("negative")).sum().cast(pl.Int64).alias("negatives"),
        pl.col("score").filter(pl.col("novel")).mean().alias("mean_score"),
    )
    series = (marked.select(keys).unique().join(grid.to_frame(), how="cross")
              .join(counts, on=[*keys, "window_start"], how="left", nulls_equal=True)
              .with_columns(pl.col("documents", "volume", "negatives").fill_null(0)))
    return series.with_columns(
        pl.col("window_start").dt.offset_by(WINDOWS[config.window]).alias("window_end"),
        pl.when(pl.col("volume") > 0).then(pl.col("negatives") / pl.col("volume"))
        .alias("negative_share"),
    ).select(list(SERIES_SCHEMA)).cast(pl.Schema(SERIES_SCHEMA))\
        .sort(["entity", "topic", "window_start"], nulls_last=True)
