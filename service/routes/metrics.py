"""``GET /metrics``: Prometheus text format, no key needed (see ``service.metrics``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Request counts and latencies by route template and status, the active set's id and age,
    and whether this worker holds the item index. Runs in the thread pool: it reads the store."""
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
