"""Alert routes of the lookup API (read-only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from sqlalchemy import func, select

from service.deps import ReadOnly
from service.schemas import AlertDetail, AlertOut, AlertPage, EvidenceDocument, Problem
from storage.schema import Alert

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertPage)
def list_alerts(
    engine: ReadOnly,
    entity: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[datetime | None, Query(description="Alerts whose window ends at or after "
                                             "this time (ISO 8601).")] = None,
    min_severity: Annotated[int, Query(ge=0, le=100)] = 0,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> AlertPage:
    """Alerts, most severe and newest first, filtered and paginated."""
    where = [Alert.severity >= min_severity]
    if entity is not None:
        where.append(Alert.entity == entity)
    if since is not None:
        where.append(Alert.window_end >= since)
    if status is not None:
        where.append(Alert.status == status)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(Alert).where(*where)
                             ).scalar_one()
        rows = conn.execute(select(Alert).where(*where)
                            .order_by(Alert.severity.desc(), Alert.window_start.desc(),
                                      Alert.id)
                            .limit(limit).offset(offset)).mappings().all()
    return AlertPage(items=[AlertOut.model_validate(dict(r)) for r in rows],
                     total=total, limit=limit, offset=offset)


@router.get("/{alert_id}", response_model=AlertDetail, responses={404: {"model": Problem}})
def get_alert(engine: ReadOnly,
              alert_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)]) -> AlertDetail:
    """One alert with the documents that show it."""
    with engine.connect() as conn:
        row = conn.execute(select(Alert).where(Alert.id == alert_id)).mappings().first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"no alert with id {alert_id}")
    base = AlertOut.model_validate(dict(row)).model_dump()
    evidence = [EvidenceDocument.model_validate(e) for e in json.loads(row["evidence"] or "[]")]
    return AlertDetail(**base, evidence=evidence)
