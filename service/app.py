"""The lookup API: recommendations, similar items and alerts, read-only, behind an API key."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from domain.settings import Settings
from service.access import ObserveRequests
from service.db import RecommendationReader, make_readonly_engine
from service.deps import KeyCache, require_key
from service.docs import add_offline_docs
from service.metrics import ServiceMetrics
from service.routes import alerts, health, items, metrics, recommendations, support
from service.schemas import Problem
from service.support import SupportAssistant


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; ``sentrec serve`` runs it with uvicorn."""
    settings = settings or Settings()
    engine = make_readonly_engine(settings.resolved_database_url)
    app = FastAPI(title="sentrec lookup API", version="1",
                  description="Read-only lookups of published recommendations, similar items "
                  "and sentiment alerts, and suggested replies to a customer's message. "
                  "Every /v1 route needs an `X-API-Key` header.",
                  responses={401: {"model": Problem}}, docs_url=None, redoc_url=None)
    service_metrics = ServiceMetrics(engine)
    app.state.engine = engine
    app.state.settings = settings
    app.state.metrics = service_metrics
    app.state.similar = items.SimilarIndexCache(engine, on_load=service_metrics.index_loaded)
    app.state.support = SupportAssistant(engine, settings.home / "models")
    app.state.keys = KeyCache()
    app.state.recommendations = RecommendationReader(engine)
    # The hot route first: Starlette tries routes in order.
    for router in (recommendations.router, items.router, alerts.router, support.router):
        app.include_router(router, dependencies=[Depends(require_key)])
    app.include_router(health.router)
    app.include_router(metrics.router)
    add_offline_docs(app)
    app.add_middleware(ObserveRequests, metrics=service_metrics)
    return app
