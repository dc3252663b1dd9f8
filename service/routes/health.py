"""``GET /healthz`` and ``GET /readyz``: liveness and readiness, no key needed."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import text

from service.deps import ReadOnly
from service.schemas import Health, Problem
from storage.recsets import active_set_id

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up (no database call)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Problem}})
def readyz(engine: ReadOnly) -> Health:
    """The database answers and a recommendation set is published: until then the
    recommendations route answers 503, so a load balancer should not send traffic here."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            published = active_set_id(connection=conn)
    except Exception as exc:
        raise HTTPException(status_code=503, detail=f"database not ready: "
                            f"{type(exc).__name__}") from exc
    if published is None:
        raise HTTPException(status_code=503, detail="no recommendation set is published yet; "
                            "run `sentrec publish`")
    return Health(status="ok", detail={"recommendations": "published"})
