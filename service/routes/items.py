"""``GET /v1/items/{item_id}/similar``: nearest items by the active recommender's vectors."""

from __future__ import annotations

from threading import Lock
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from sqlalchemy import Engine

from service.schemas import ID_PATTERN, Problem, SimilarItem, SimilarItems
from storage.registry import RECOMMENDER, active_version

router = APIRouter(prefix="/v1/items", tags=["items"])


class SimilarIndexCache:
    """The active recommender's FAISS index, reloaded when another version becomes active."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = Lock()
        self._loaded: tuple[int, object] | None = None

    def similar(self, item_id: str, k: int) -> tuple[int, list[tuple[str, float]]]:
        from models.index import IndexMismatchError, ItemIndex
        from models.recommender.artifact import load_item_index

        active = active_version(engine=self._engine, name=RECOMMENDER)
        if active is None:
            raise HTTPException(status_code=503, detail="no recommender is active yet; run "
                                "`sentrec train recommender`")
        with self._lock:
            if self._loaded is None or self._loaded[0] != active.id:
                try:
                    self._loaded = (active.id, load_item_index(active.artifact_path,
                                                               model_version_id=active.id))
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


@router.get("/{item_id}/similar", response_model=SimilarItems,
            responses={404: {"model": Problem}, 503: {"model": Problem}})
def similar_items(
    request: Request,
    item_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SimilarItems:
    """Nearest items by the active recommender's item vectors (FAISS)."""
    version, neighbours = request.app.state.similar.similar(item_id, k)
    return SimilarItems(item_id=item_id, model_version=version,
                        items=[SimilarItem(item_id=i, score=s) for i, s in neighbours])
