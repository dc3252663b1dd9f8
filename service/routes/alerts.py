"""Alert routes of the lookup API (read-only), over the store's own alert queries."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam

from service.deps import ReadOnly
from service.schemas import (
    AlertDetail,
    AlertOut,
    AlertPage,
    EvidenceDocument,
    Problem,
    Revision,
)
from storage.alerts import StoredAlert, alert_entities, count_alerts, get_alert, list_alerts

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertPage)
def alerts_page(
    engine: ReadOnly,
    entity: Annotated[str | None, Query(max_length=128, description="Entity name, in any "
                                        "case.")] = None,
    since: Annotated[datetime | None, Query(description="Alerts whose window ends at or after "
                                             "this time (ISO 8601).")] = None,
    min_severity: Annotated[int, Query(ge=0, le=100)] = 0,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> AlertPage:
    """Alerts, most severe and latest first, filtered and paginated."""
    with engine.connect() as connection:
        total = count_alerts(connection=connection, entity=entity, since=since,
                             min_severity=min_severity, status=status)
        page = list_alerts(connection=connection, entity=entity, since=since,
                           min_severity=min_severity, status=status, limit=limit,
                           offset=offset)
        known = None
        if entity is not None and total == 0:
            known = alert_entities(connection=connection)
    return AlertPage(items=[_out(a) for a in page], total=total, limit=limit, offset=offset,
                     entities=known)


@router.get("/{alert_id}", response_model=AlertDetail, responses={404: {"model": Problem}})
def alert_detail(engine: ReadOnly,
                 alert_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)]) -> AlertDetail:
    """One alert with the documents that show it."""
    alert = get_alert(engine=engine, alert_id=alert_id)
    if alert is None:
        raise HTTPException(status_code=404, detail=f"no alert with id {alert_id}")
    return AlertDetail(**_out(alert).model_dump(), terms=alert.terms, topics=alert.topics,
                       revisions=[Revision.model_validate(r) for r in alert.revisions],
                       evidence=[EvidenceDocument.model_validate(e) for e in alert.evidence])


def _out(alert: StoredAlert) -> AlertOut:
    return AlertOut.model_validate(asdict(alert))
