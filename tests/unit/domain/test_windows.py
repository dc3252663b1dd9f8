"""Window aggregation: exact volumes, negative shares and mean scores; empty windows explicit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from domain.windows import SCORED_SCHEMA, MonitorConfig, aggregate_windows

NEG, NEU, POS = (0.8, 0.1, 0.1), (0.2, 0.6, 0.2), (0.1, 0.2, 0.7)


def doc(doc_id: int, entity: str, when: str, probs: tuple[float, float, float],
        text: str | None = None, topic: str | None = None) -> dict[str, Any]:
    p_neg, p_neu, p_pos = probs
    return {"doc_kind": "message", "doc_id": doc_id, "entity": entity, "topic": topic,
            "created_at": datetime.fromisoformat(when).replace(tzinfo=UTC),
            "score": p_pos - p_neg, "p_negative": p_neg, "p_neutral": p_neu,
            "p_positive": p_pos, "text": text or f"distinct message number {doc_id} here",
            "highlights": "[]"}


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCORED_SCHEMA)


def by_window(series: pl.DataFrame, entity: str) -> list[tuple[int, int, int, float | None]]:
    rows = series.filter(pl.col("entity") == entity).sort("window_start")
    return [(r["window_start"].hour, r["volume"], r["negatives"], r["negative_share"])
            for r in rows.iter_rows(named=True)]


def test_hourly_counts_shares_and_scores_are_exact() -> None:
    docs = frame([
        doc(1, "acme", "2024-05-01 10:05", NEG), doc(2, "acme", "2024-05-01 10:50", POS),
        doc(3, "acme", "2024-05-01 10:59:59", NEG), doc(4, "acme", "2024-05-01 12:00", NEU),
        doc(5, "zeta", "2024-05-01 11:30", NEG),
    ])
    series = aggregate_windows(docs)
    assert by_window(series, "acme") == [(10, 3, 2, 2 / 3), (11, 0, 0, None), (12, 1, 0, 0.0)]
    assert by_window(series, "zeta") == [(10, 0, 0, None), (11, 1, 1, 1.0), (12, 0, 0, None)]
    acme10 = series.filter(pl.col("entity") == "acme").sort("window_start").row(0, named=True)
    assert acme10["mean_score"] == pytest.approx((-0.7 + 0.6 - 0.7) / 3)
    assert acme10["window_end"] == datetime(2024, 5, 1, 11, tzinfo=UTC)


def test_score_rule_counts_documents_below_the_threshold() -> None:
    docs = frame([doc(1, "acme", "2024-05-01 10:00", (0.45, 0.5, 0.05)),
                  doc(2, "acme", "2024-05-01 10:10", (0.5, 0.2, 0.3))])
    argmax = aggregate_windows(docs)
    score = aggregate_windows(docs, MonitorConfig(negative_rule="score", score_threshold=-0.3))
    assert argmax["negatives"].to_list() == [1]  # only doc 2 has p_negative as its largest
    assert score["negatives"].to_list() == [1]  # only doc 1 has score -0.4 < -0.3


def test_daily_windows_are_utc_days_and_the_given_period_is_filled() -> None:
    docs = frame([doc(1, "acme", "2024-05-01 23:59", NEG), doc(2, "acme", "2024-05-02 00:01",
                                                                POS)])
    series = aggregate_windows(docs, MonitorConfig(window="day"),
                               start=datetime(2024, 4, 30, tzinfo=UTC),
                               end=datetime(2024, 5, 3, 12, tzinfo=UTC))
    assert series["window_start"].dt.day().to_list() == [30, 1, 2, 3]
    assert series["volume"].to_list() == [0, 1, 1, 0]
    assert series["negatives"].to_list() == [0, 1, 0, 0]


def test_entity_by_topic_series_cover_every_window() -> None:
    docs = frame([doc(1, "acme", "2024-05-01 10:00", NEG, topic="delivery"),
                  doc(2, "acme", "2024-05-01 11:00", POS, topic="refund"),
                  doc(3, "acme", "2024-05-01 11:30", NEG, topic="refund")])
    series = aggregate_windows(docs, MonitorConfig(by_topic=True))
    assert series.select("topic", "volume", "negatives").rows() == [
        ("delivery", 1, 1), ("delivery", 0, 0), ("refund", 0, 0), ("refund", 2, 1)]


def test_unknown_window_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="window must be one of hour, day"):
        MonitorConfig(window="week")


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match=r"lack columns \['highlights'"):
        aggregate_windows(frame([doc(1, "a", "2024-05-01 10:00", NEG)]).drop("highlights"))


def test_a_story_counts_once_across_truncated_retweets_and_sources() -> None:
    from domain.windows import mark_documents

    story = "Acme recalls two million phones after battery fires in three countries"
    rows = [
        {**doc(1, "acme", "2024-05-01T09:00:00", NEG), "text": f"{story} - Reuters"},
        {**doc(2, "acme", "2024-05-01T09:20:00", NEG), "text": f"{story} | CNBC"},
        {**doc(3, "acme", "2024-05-01T09:40:00", NEG),
         "text": "RT @newsbot: Acme recalls two million phones after battery fires in thr…"},
        {**doc(4, "acme", "2024-05-01T10:05:00", NEG), "text": story},
        # Same opening, another story: two customers, two complaints.
        {**doc(5, "acme", "2024-05-01T10:10:00", NEG),
         "text": "Acme recalls two million phones after battery fires, and mine is one"},
    ]
    marked = mark_documents(frame(rows)).sort("doc_id")
    assert marked["novel"].to_list() == [True, False, False, False, True]
    assert marked["copies"].to_list() == [4, 4, 4, 4, 1]
    first = datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert marked["first_seen"].to_list()[:4] == [first] * 4
    assert marked["novelty"].to_list() == [1.0, 0.5, pytest.approx(1 / 3), 0.25, 1.0]
