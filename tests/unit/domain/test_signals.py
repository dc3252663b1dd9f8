"""The three signals an episode can rest on: negative volume and total volume against the
usual for that hour and weekday, and the negative share. One episode per entity whatever
fired, with a reason an analyst reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from domain.detection import score_series
from domain.episodes import AlertRecord, find_episodes
from domain.windows import SERIES_SCHEMA

START = datetime(2024, 4, 1, tzinfo=UTC)  # a Monday


def windows(volumes: list[int], negatives: list[int], *, step: timedelta = timedelta(hours=1),
            entity: str = "acme") -> pl.DataFrame:
    rows = [{"entity": entity, "topic": None, "window_start": START + i * step,
             "window_end": START + (i + 1) * step, "documents": v, "volume": v,
             "negatives": n, "negative_share": n / v if v else None, "mean_score": 0.0}
            for i, (v, n) in enumerate(zip(volumes, negatives, strict=True))]
    return pl.DataFrame(rows, schema=SERIES_SCHEMA)


def episodes(frame: pl.DataFrame, window: str = "hour") -> list[AlertRecord]:
    return find_episodes(score_series(frame, window=window), detector="default",
                         window=window)


CALM = 24 * 21 + 15  # three weeks, then Monday 15:00


def test_more_negative_mentions_at_the_same_share_is_an_alert() -> None:
    volumes, negatives = [100] * CALM + [200, 100], [30] * CALM + [60, 30]
    [alert] = episodes(windows(volumes, negatives))
    assert alert.window_start == START + timedelta(hours=CALM)
    assert [s["signal"] for s in alert.signals] == ["negative volume", "volume"]
    assert alert.reason == ("negative mentions 60 vs 30 usual for a Monday 15:00 (2.0x); "
                            "mentions 200 vs 100 usual for a Monday 15:00 (2.0x)")
    assert alert.negatives == 60 and alert.volume == 200


def test_a_share_shift_at_the_usual_volume_names_the_share() -> None:
    volumes, negatives = [100] * CALM + [100], [30] * CALM + [71]
    [alert] = episodes(windows(volumes, negatives))
    assert [s["signal"] for s in alert.signals] == ["negative volume", "negative share"]
    assert alert.reason.endswith("negative share 71% vs 30%")


def test_a_buzz_without_more_negatives_names_only_the_volume() -> None:
    volumes, negatives = [100] * CALM + [220], [30] * CALM + [33]
    [alert] = episodes(windows(volumes, negatives))
    assert [s["signal"] for s in alert.signals] == ["volume"]
    assert alert.reason == "mentions 220 vs 100 usual for a Monday 15:00 (2.2x)"


def test_signals_firing_in_neighbouring_windows_are_one_episode_with_one_key() -> None:
    volumes, negatives = [100] * CALM + [220, 100], [30] * CALM + [33, 75]
    alerts = episodes(windows(volumes, negatives))
    assert len(alerts) == 1
    assert alerts[0].window_end == START + timedelta(hours=CALM + 2)
    assert {s["signal"] for s in alerts[0].signals} == {"volume", "negative volume",
                                                       "negative share"}
    assert alerts[0].dedup_key == f"acme|*|default|{alerts[0].window_start.isoformat()}"


def test_a_sparse_entity_pages_nobody_on_volume_either() -> None:
    volumes = [2] * CALM + [8]
    assert episodes(windows(volumes, [1] * CALM + [6])) == []


def test_daily_windows_compare_with_the_usual_for_that_weekday() -> None:
    history = [100 if (d % 7) >= 5 else 400 for d in range(68)]  # ends on a Friday
    day = timedelta(days=1)
    saturday = windows([*history, 260], [v // 4 for v in history] + [65], step=day)
    [alert] = episodes(saturday, window="day")
    assert alert.window_start == START + timedelta(days=68)
    # The usual Saturday is 100 mentions and 25 negative ones; a few pseudo-documents of the
    # average day keep a slot's factor from resting on four Saturdays alone.
    assert alert.reason == ("negative mentions 65 vs 27 usual for a Saturday (2.4x); "
                            "mentions 260 vs 102 usual for a Saturday (2.6x)")
    weeks = [100 if (d % 7) >= 5 else 400 for d in range(70)]  # ends on a Sunday
    monday = windows([*weeks, 260], [v // 4 for v in weeks] + [65], step=day)
    assert episodes(monday, window="day") == []  # 260 is a quiet Monday
