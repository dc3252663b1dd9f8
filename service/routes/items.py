"""``GET /v1/items/{item_id}/similar``: nearest items by the active recommender's vectors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from threading import Lock
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from sqlalchemy import Engine

from service.schemas import ID_PATTERN, Problem, SimilarItem, SimilarItems
from service.support import file_stamp
from storage.registry import RECOMMENDER, VersionInfo, active_version

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/items", tags=["items"])


class SimilarIndexCache:
    """The active recommender's FAISS index, checked against the checksum the registry
    recorded for it when it is loaded.

    It is loaded again when another version becomes active, when publishing records a new
    checksum, or when the index files change on disk. A refused index is remembered the same
    way, so it costs one checksum and not one per request: hashing a large index on every call
    would stall the service. ``on_load`` hears whether an index is now loaded (the metrics).
    """

    def __init__(self, engine: Engine, on_load: Callable[[bool], None] | None = None) -> None:
        self._engine = engine
        self._on_load = on_load
        self._lock = Lock()
        self._key: tuple[Any, ...] | None = None
        self._outcome: Any = None  # the loaded ItemIndex, or the refusal's message

    def similar(self, item_id: str, k: int) -> tuple[int, list[tuple[str, float]]]:
        from models.index import ItemIndex
        from models.recommender.artifact import index_path

        active = active_version(engine=self._engine, name=RECOMMENDER)
        if active is None:
            raise HTTPException(status_code=503, detail="no recommender is active yet; run "
                                "`sentrec train recommender`")
        path = index_path(active.artifact_path)
        key = (active.id, active.index_sha256, file_stamp(path),
               file_stamp(path.with_name(path.name + ".json")))
        with self._lock:
            if key != self._key:
                self._outcome = self._load(active)
                self._key = key
                if self._on_load is not None:
                    self._on_load(isinstance(self._outcome, ItemIndex))
            index = self._outcome
        if not isinstance(index, ItemIndex):
            raise HTTPException(status_code=503, detail=str(index))
        row = index.row_of(item_id)
        if row is None:
            raise HTTPException(status_code=404, detail=f"item {item_id!r} is not in the "
                                f"catalogue of recommender v{active.version}")
        vector = index.index.reconstruct(row).reshape(1, -1)  # (1, d)
        scores, ids = index.search(vector, k + 1)
        pairs = [(i, float(s)) for i, s in zip(ids[0], scores[0], strict=False) if i != item_id]
        return active.version, pairs[:k]

    @staticmethod
    def _load(active: VersionInfo) -> Any:
        """The version's index, or why it is refused (without the server's paths)."""
        from models.index import IndexMismatchError
        from models.recommender.artifact import load_item_index

        try:
            return load_item_index(active.artifact_path, model_version_id=active.id,
                                   sha256=active.index_sha256)
        except IndexMismatchError as exc:
            log.warning("item index refused: %s", exc)
            return f"the item index of recommender v{active.version} is refused: {exc.problem}"


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
