"""Alerts in the store.

One episode is one row: ``upsert_alerts`` inserts an alert whose ``dedup_key`` is new and, for a
key already stored, grows the episode (window_end, observed, z, severity, volume take the larger
value; evidence, signals, reason and baseline are replaced) unless it was resolved: a resolved
episode is closed and a later surge starts a new one with a new key. Acknowledging keeps
updates flowing. Judged again under another model, an episode records a revision instead of
changing silently; one found only in old windows is backfill and never pages.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from domain.episodes import AlertRecord
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.records import as_utc
from storage.schema import Alert, AlertRevision

STATUSES = ("open", "acknowledged", "resolved")


class AlertNotFoundError(NotFoundError):
    """No alert has the id that was asked for."""


@dataclass(frozen=True)
class StoredAlert:
    """An alert as stored, with its id, status and evidence decoded."""

    id: int
    dedup_key: str
    entity: str
    topic: str | None
    window: str
    window_start: datetime
    window_end: datetime
    metric: str
    observed: float
    baseline: float
    z: float
    severity: int
    volume: int
    evidence: list[dict[str, Any]]
    detector: str
    model_version_id: int | None
    status: str
    created_at: datetime
    updated_at: datetime
    negatives: int = 0
    signals: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    terms: list[dict[str, Any]] = field(default_factory=list)
    topics: list[dict[str, Any]] = field(default_factory=list)
    backfill: bool = False
    revisions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class UpsertSummary:
    """What ``upsert_alerts`` did: new episodes (and how many of them are backfill), grown
    ones, ones judged again under another model (a revision each), resolved ones left alone."""

    inserted: int
    updated: int
    skipped_resolved: int
    revised: int = 0
    backfill: int = 0


def _greater(column: Any, value: Any) -> ColumnElement[Any]:
    """The larger of a column and a value, on SQLite and PostgreSQL alike."""
    return case((column >= value, column), else_=literal(value, column.type))


def upsert_alerts(*, engine: Engine, alerts: Sequence[AlertRecord],
                  now: datetime | None = None,
                  horizon: timedelta = timedelta(days=2)) -> UpsertSummary:
    """Insert new episodes and grow open (or acknowledged) ones, in one transaction.

    An episode whose windows all ended more than ``horizon`` before ``now`` is **backfill**:
    history found by a late or repeated run, stored but never paged. An episode judged again
    under another sentiment model keeps its status (nothing re-opens by itself) and records a
    revision with its old and new severity and reason; under the same model it grows.
    """
    inserted = updated = skipped = revised = backfill = 0
    now = now or datetime.now(UTC)
    cutoff = now - horizon
    dialect_insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with engine.begin() as connection:
        for alert in alerts:
            values = _row_values(alert) | {"backfill": alert.window_end < cutoff}
            new_id = connection.execute(
                dialect_insert(Alert).values(**values, created_at=now, updated_at=now)
                .on_conflict_do_nothing(index_elements=["dedup_key"]).returning(Alert.id)
            ).scalar_one_or_none()
            if new_id is not None:
                inserted += 1
                backfill += values["backfill"]
                continue
            current = connection.execute(
                select(Alert.id, Alert.status, Alert.model_version_id, Alert.severity,
                       Alert.reason, Alert.backfill).where(Alert.dedup_key == alert.dedup_key)
            ).one()
            if current.status == "resolved":
                skipped += 1
                continue
            rejudged = None not in (alert.model_version_id, current.model_version_id) and \
                alert.model_version_id != current.model_version_id
            changes = {k: values[k] for k in ("baseline", "evidence", "signals", "reason",
                                              "changes", "model_version_id")}
            changes |= {"window_end": _greater(Alert.window_end, alert.window_end),
                        "volume": _greater(Alert.volume, alert.volume),
                        "negatives": alert.negatives, "updated_at": now,
                        "backfill": bool(current.backfill) and alert.window_end < cutoff}
            if rejudged:
                changes |= {"severity": alert.severity, "observed": alert.observed,
                            "z": alert.z}
                if (alert.severity, alert.reason) != (current.severity, current.reason):
                    connection.execute(insert(AlertRevision), {
                        "alert_id": current.id, "model_version_id": alert.model_version_id,
                        "old_severity": current.severity, "new_severity": alert.severity,
                        "old_reason": current.reason, "new_reason": alert.reason, "at": now})
                    revised += 1
            else:
                changes |= {"severity": _greater(Alert.severity, alert.severity),
                            "observed": _greater(Alert.observed, alert.observed),
                            "z": _greater(Alert.z, alert.z)}
            connection.execute(update(Alert).where(Alert.id == current.id).values(**changes))
            updated += 1
    return UpsertSummary(inserted, updated, skipped, revised, backfill)


def _row_values(alert: AlertRecord) -> dict[str, Any]:
    return {"dedup_key": alert.dedup_key, "entity": alert.entity, "topic": alert.topic,
            "window": alert.window, "window_start": alert.window_start,
            "window_end": alert.window_end, "metric": alert.metric,
            "observed": alert.observed, "baseline": alert.baseline, "z": alert.z,
            "severity": alert.severity, "volume": alert.volume,
            "evidence": json.dumps(alert.evidence, default=str), "detector": alert.detector,
            "model_version_id": alert.model_version_id, "status": alert.status,
            "negatives": alert.negatives, "signals": json.dumps(alert.signals, default=str),
            "reason": alert.reason or None,
            "changes": json.dumps({"terms": alert.terms, "topics": alert.topics})}


def _connect(engine: Engine | None, connection: Connection | None) -> Any:
    if (engine is None) == (connection is None):
        raise TypeError("pass exactly one of engine= or connection=")
    return connection if connection is not None else engine.connect()  # type: ignore[union-attr]


def _filters(entity: str | None, since: datetime | None, min_severity: int | None,
             status: str | None) -> list[ColumnElement[bool]]:
    if status is not None and status not in STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    where: list[ColumnElement[bool]] = []
    if entity is not None:  # names are matched whatever their case: "jetblue" finds JetBlue
        where.append(func.lower(Alert.entity) == entity.lower())
    if since is not None:
        where.append(Alert.window_end >= as_utc(since))
    if min_severity is not None:
        where.append(Alert.severity >= min_severity)
    if status is not None:
        where.append(Alert.status == status)
    return where


def list_alerts(*, engine: Engine | None = None, connection: Connection | None = None,
                entity: str | None = None, since: datetime | None = None,
                min_severity: int | None = None, status: str | None = None,
                limit: int = 100, offset: int = 0) -> list[StoredAlert]:
    """Alerts, most severe first, then latest first; ``since`` keeps episodes still running
    at or after that time (window_end >= since)."""
    query = select(Alert).where(*_filters(entity, since, min_severity, status))\
        .order_by(Alert.severity.desc(), Alert.window_end.desc(), Alert.id)\
        .limit(limit).offset(offset)
    bind = _connect(engine, connection)
    try:
        return [_stored(dict(row)) for row in bind.execute(query).mappings()]
    finally:
        if connection is None:
            bind.close()


def count_alerts(*, connection: Connection, entity: str | None = None,
                 since: datetime | None = None, min_severity: int | None = None,
                 status: str | None = None) -> int:
    """How many alerts ``list_alerts`` would page through with the same filters."""
    return int(connection.execute(
        select(func.count()).select_from(Alert)
        .where(*_filters(entity, since, min_severity, status))).scalar_one())


def get_alert(*, engine: Engine, alert_id: int) -> StoredAlert | None:
    """One alert with its revisions (oldest first)."""
    with engine.connect() as connection:
        row = connection.execute(select(Alert).where(Alert.id == alert_id)).mappings().first()
        if row is None:
            return None
        revisions = [{"model_version_id": r.model_version_id, "old_severity": r.old_severity,
                      "new_severity": r.new_severity, "old_reason": r.old_reason,
                      "new_reason": r.new_reason, "at": as_utc(r.at)}
                     for r in connection.execute(select(AlertRevision).where(
                         AlertRevision.alert_id == alert_id).order_by(AlertRevision.id))]
    return dataclasses.replace(_stored(dict(row)), revisions=revisions)


def alert_entities(*, connection: Connection) -> list[str]:
    """The entity names alerts exist for, to say which there are when a filter finds none."""
    return sorted(connection.execute(select(Alert.entity).distinct()).scalars())


def acknowledge_alert(*, engine: Engine, alert_id: int) -> StoredAlert:
    """Mark an open alert as seen; acknowledging twice is harmless, a resolved one is an error."""
    return _set_status(engine, alert_id, "acknowledged", allowed=("open", "acknowledged"))


def resolve_alert(*, engine: Engine, alert_id: int) -> StoredAlert:
    """Close an episode; the next surge of the entity becomes a new alert."""
    return _set_status(engine, alert_id, "resolved", allowed=STATUSES)


def _set_status(engine: Engine, alert_id: int, status: str,
                allowed: tuple[str, ...]) -> StoredAlert:
    with engine.begin() as connection:
        current = connection.execute(select(Alert.status).where(Alert.id == alert_id))\
            .scalar_one_or_none()
        if current is None:
            raise AlertNotFoundError(f"no alert has id {alert_id}; list them with "
                                     "`sentrec alerts`")
        if current not in allowed:
            raise ConflictError(f"alert {alert_id} is {current} and cannot become {status}")
        connection.execute(update(Alert).where(Alert.id == alert_id)
                           .values(status=status, updated_at=datetime.now(UTC)))
    alert = get_alert(engine=engine, alert_id=alert_id)
    assert alert is not None
    return alert


def _stored(row: dict[str, Any]) -> StoredAlert:
    for name in ("window_start", "window_end", "created_at", "updated_at"):
        row[name] = as_utc(row[name])
    row["evidence"] = json.loads(row["evidence"] or "[]")
    row["signals"] = json.loads(row["signals"] or "[]")
    changes = json.loads(row.pop("changes") or "{}")
    row["terms"], row["topics"] = changes.get("terms", []), changes.get("topics", [])
    row["negatives"] = row["negatives"] or 0
    row["reason"] = row["reason"] or ""
    row["backfill"] = bool(row["backfill"])
    return StoredAlert(**row)
