"""The alert store: one row per episode however often it is upserted, filters and status
changes, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from domain.episodes import AlertRecord, dedup_key
from storage.alerts import (
    AlertNotFoundError,
    acknowledge_alert,
    get_alert,
    list_alerts,
    resolve_alert,
    upsert_alerts,
)
from storage.schema import (
    Alert,
)

T0 = datetime(2024, 5, 1, 9, tzinfo=UTC)


def alert(entity: str = "acme", hours: int = 1, severity: int = 40, start: datetime = T0,
          observed: float = 0.7) -> AlertRecord:
    return AlertRecord(
        dedup_key=dedup_key(entity, None, "default", start), entity=entity, topic=None,
        window="hour", window_start=start, window_end=start + timedelta(hours=hours),
        observed=observed, baseline=0.3, z=4.2, severity=severity, volume=20 * hours,
        detector="default", evidence=[{"doc_id": 1, "text": "late again",
                                       "highlights": [["late", 0.6]]}])


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Alert)).scalar_one())


def test_upserting_an_episode_twice_updates_its_one_row(engine: Engine) -> None:
    first = upsert_alerts(engine=engine, alerts=[alert()])
    grown = dataclasses.replace(alert(hours=3, severity=65, observed=0.9),
                                evidence=[{"doc_id": 2}])
    second = upsert_alerts(engine=engine, alerts=[grown])
    assert (first.inserted, second.inserted, second.updated) == (1, 0, 1)
    assert count(engine) == 1
    [stored] = list_alerts(engine=engine)
    assert stored.window_end == T0 + timedelta(hours=3)
    assert (stored.severity, stored.observed, stored.volume) == (65, 0.9, 60)
    assert stored.evidence == [{"doc_id": 2}] and stored.status == "open"
    assert stored.window_start == T0 and stored.window_start.tzinfo is not None


def test_a_shorter_rerun_never_shrinks_an_episode(engine: Engine) -> None:
    upsert_alerts(engine=engine, alerts=[alert(hours=3, severity=65)])
    upsert_alerts(engine=engine, alerts=[alert(hours=1, severity=30)])
    [stored] = list_alerts(engine=engine)
    assert (stored.window_end, stored.severity) == (T0 + timedelta(hours=3), 65)


def test_filters_order_and_pages(engine: Engine) -> None:
    upsert_alerts(engine=engine, alerts=[
        alert("acme", severity=30), alert("zeta", severity=80),
        alert("acme", severity=55, start=T0 + timedelta(days=2)),
    ])
    assert [(a.entity, a.severity) for a in list_alerts(engine=engine)] == [
        ("zeta", 80), ("acme", 55), ("acme", 30)]
    assert [a.severity for a in list_alerts(engine=engine, entity="acme")] == [55, 30]
    assert [a.severity for a in list_alerts(engine=engine, min_severity=50)] == [80, 55]
    assert [a.severity for a in list_alerts(engine=engine, since=T0 + timedelta(days=1))] == [55]
    assert [a.severity for a in list_alerts(engine=engine, limit=1, offset=1)] == [55]
    with engine.connect() as connection:
        assert len(list_alerts(connection=connection, entity="zeta")) == 1
    with pytest.raises(ValueError, match="status must be one of"):
        list_alerts(engine=engine, status="closed")


def test_acknowledge_then_resolve(engine: Engine) -> None:
    upsert_alerts(engine=engine, alerts=[alert()])
    alert_id = list_alerts(engine=engine)[0].id
    assert acknowledge_alert(engine=engine, alert_id=alert_id).status == "acknowledged"
    assert [a.id for a in list_alerts(engine=engine, status="acknowledged")] == [alert_id]
    assert list_alerts(engine=engine, status="open") == []
    upsert_alerts(engine=engine, alerts=[alert(hours=2)])  # still grows while acknowledged
    stored = get_alert(engine=engine, alert_id=alert_id)
    assert stored is not None and stored.status == "acknowledged" and stored.volume == 40
    assert resolve_alert(engine=engine, alert_id=alert_id).status == "resolved"
    summary = upsert_alerts(engine=engine, alerts=[alert(hours=5)])
    assert summary.skipped_resolved == 1 and count(engine) == 1
    assert get_alert(engine=engine, alert_id=alert_id).volume == 40  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="is resolved and cannot become acknowledged"):
        acknowledge_alert(engine=engine, alert_id=alert_id)
    with pytest.raises(AlertNotFoundError, match="no alert has id 999"):
        acknowledge_alert(engine=engine, alert_id=999)
    assert get_alert(engine=engine, alert_id=999) is None


def versions(engine: Engine, n: int) -> list[int]:
    from storage.registry import register_version

    return [register_version(engine=engine, name="sentiment", eval_set="e",
                             primary_metric="macro_f1", metrics={"macro_f1": 0.8}, params={},
                             artifact_path="/x.pt", sha256="0" * 64).id for _ in range(n)]


def test_rescoring_under_a_new_model_records_a_revision_and_reopens_nothing(
        engine: Engine) -> None:
    old, new = versions(engine, 2)
    first = dataclasses.replace(alert(severity=59), model_version_id=old,
                                reason="negative share 70% vs 30%")
    upsert_alerts(engine=engine, alerts=[first], now=T0 + timedelta(hours=2))
    [stored] = list_alerts(engine=engine)
    acknowledge_alert(engine=engine, alert_id=stored.id)
    again = dataclasses.replace(alert(severity=71), model_version_id=new,
                                reason="negative share 78% vs 30%")
    summary = upsert_alerts(engine=engine, alerts=[again], now=T0 + timedelta(hours=3))
    assert (summary.updated, summary.revised) == (1, 1)
    shown = get_alert(engine=engine, alert_id=stored.id)
    assert shown is not None
    assert (shown.status, shown.severity, shown.model_version_id) == ("acknowledged", 71, new)
    assert [(r["old_severity"], r["new_severity"], r["model_version_id"], r["old_reason"])
            for r in shown.revisions] == [(59, 71, new, "negative share 70% vs 30%")]
    # The same model growing the episode is no revision.
    grown = dataclasses.replace(alert(hours=2, severity=75), model_version_id=new,
                                reason="negative share 78% vs 30%")
    assert upsert_alerts(engine=engine, alerts=[grown]).revised == 0


def test_an_episode_older_than_the_horizon_is_backfill_and_stays_so(engine: Engine) -> None:
    late = T0 + timedelta(days=30)
    summary = upsert_alerts(engine=engine, alerts=[alert(), alert("zed", start=late)],
                            now=late + timedelta(hours=3), horizon=timedelta(days=2))
    assert (summary.inserted, summary.backfill) == (2, 1)
    flags = {a.entity: a.backfill for a in list_alerts(engine=engine)}
    assert flags == {"acme": True, "zed": False}


def test_the_entity_filter_ignores_case_and_names_what_exists(engine: Engine) -> None:
    from storage.alerts import alert_entities

    upsert_alerts(engine=engine, alerts=[alert("JetBlue"), alert("United")])
    assert [a.entity for a in list_alerts(engine=engine, entity="jetblue")] == ["JetBlue"]
    with engine.connect() as connection:
        assert alert_entities(connection=connection) == ["JetBlue", "United"]


def test_signals_reason_and_what_changed_are_kept(engine: Engine) -> None:
    record = dataclasses.replace(
        alert(), negatives=14, reason="negative mentions 14 vs 5 usual for a Wednesday 09:00",
        signals=[{"signal": "negative volume", "observed": 14.0, "expected": 5.0}],
        terms=[{"term": "refund", "z": 3.1, "window_count": 6, "baseline_count": 0}],
        topics=[{"topic": "billing", "window_share": 0.6, "baseline_share": 0.1,
                 "window_count": 6}])
    upsert_alerts(engine=engine, alerts=[record])
    [stored] = list_alerts(engine=engine)
    assert (stored.negatives, stored.reason, stored.signals, stored.terms, stored.topics) == (
        14, record.reason, record.signals, record.terms, record.topics)
