"""The lookup API: recommendations, similar items and alerts, read-only, behind an API key."""

from __future__ import annotations

from pathlib import Path
from threading import Lock
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from sqlalchemy import Engine, text

from domain.settings import Settings
from service.alerts import router as alerts_router
from service.db import RecommendationReader, make_readonly_engine
from service.deps import KeyCache, ReadOnly, require_key
from service.schemas import (
    Health,
    Problem,
    RecommendedItem,
    SimilarItem,
    SimilarItems,
    UserRecommendations,
)
from storage.recsets import active_set_id
from storage.registry import RECOMMENDER

# Ids are free text in the store, but a caller's id is a short token: anything else is a 400
# before it reaches SQL (parameters are bound anyway; this keeps junk out of the logs too).
ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; ``sentrec serve`` runs it with uvicorn."""
    settings = settings or Settings()
    engine = make_readonly_engine(settings.resolved_database_url)
    app = FastAPI(title="sentrec lookup API", version="1",
                  description="Read-only lookups of published recommendations, similar items "
                  "and sentiment alerts. Every /v1 route needs an `X-API-Key` header.",
                  responses={401: {"model": Problem}})
    app.state.engine = engine
    app.state.settings = settings
    app.state.similar = SimilarIndexCache(engine, settings.home)
    app.state.keys = KeyCache()
    app.state.recommendations = RecommendationReader(engine)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """The process is up (no database call)."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"],
             responses={503: {"model": Problem}})
    def readyz(engine: ReadOnly) -> Health:
        """The database answers and a recommendation set is published."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                published = active_set_id(connection=conn)
        except Exception as exc:
            raise HTTPException(status_code=503, detail=f"database not ready: "
                                f"{type(exc).__name__}") from exc
        return Health(status="ok", detail={
            "recommendations": "published" if published else "none published yet"})

    @app.get("/v1/users/{user_id}/recommendations", response_model=UserRecommendations,
             tags=["recommendations"], responses={503: {"model": Problem}},
             dependencies=[Depends(require_key)])
    async def user_recommendations(
        user_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> UserRecommendations:
        """The user's top-k from the active set; unknown users get recent popularity."""
        found = await app.state.recommendations.lookup(user_id, k)
        if found.set_id is None:
            raise HTTPException(status_code=503, detail="no recommendation set is "
                                "published yet; run `sentrec publish`")
        return UserRecommendations(
            user_id=user_id, set_id=found.set_id, cold_start=found.cold_start,
            items=[RecommendedItem(rank=i.rank, item_id=i.item_id, score=i.score,
                                   reason=i.reason) for i in found.items])

    @app.get("/v1/items/{item_id}/similar", response_model=SimilarItems, tags=["items"],
             responses={404: {"model": Problem}, 503: {"model": Problem}},
             dependencies=[Depends(require_key)])
    def similar_items(
        item_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> SimilarItems:
        """Nearest items by the active recommender's item vectors (FAISS)."""
        version, neighbours = app.state.similar.similar(item_id, k)
        return SimilarItems(item_id=item_id, model_version=version,
                            items=[SimilarItem(item_id=i, score=s) for i, s in neighbours])

    app.include_router(alerts_router, dependencies=[Depends(require_key)])
    return app


class SimilarIndexCache:
    """The active recommender's FAISS index, reloaded when another version becomes active."""

    def __init__(self, engine: Engine, home: Path) -> None:
        self._engine = engine
        self._home = home
        self._lock = Lock()
        self._loaded: tuple[int, object] | None = None

    def similar(self, item_id: str, k: int) -> tuple[int, list[tuple[str, float]]]:
        from models.index import IndexMismatchError, ItemIndex, load_index
        from storage.registry import active_version

        active = active_version(engine=self._engine, name=RECOMMENDER)
        if active is None:
            raise HTTPException(status_code=503, detail="no recommender is active yet; run "
                                "`sentrec train recommender`")
        with self._lock:
            if self._loaded is None or self._loaded[0] != active.id:
                path = Path(active.artifact_path).with_suffix(".faiss")
                try:
                    self._loaded = (active.id, load_index(path, model_version_id=active.id))
                except IndexMismatchError as exc:
                    raise HTTPException(status_code=503, detail=str(exc)) from exc
            index = self._loaded[1]
        assert isinstance(index, ItemIndex)
        row = index.row_of(item_id)
        if row is None:
            raise HTTPException(status_code=404, detail=f"item {item_id!r} is not in the "
                                f"catalogue of recommender v{active.version}")
        vector = index.index.reconstruct(row).reshape(1, -1)  # (1, d)
        scores, ids = index.search(vector, k + 1)
        pairs = [(i, float(s)) for i, s in zip(ids[0], scores[0], strict=False) if i != item_id]
        return active.version, pairs[:k]
