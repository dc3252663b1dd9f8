"""FAISS index of a model's item vectors, saved with the model version and id map it serves.

Inner product over the vectors as the model scores them. The structure follows the catalogue:

- up to ``EXACT_MAX`` items: ``IndexFlatIP`` (exact; a full scan is cheap at this size);
- up to ``IVF_MAX`` items: ``IVF{nlist},Flat`` with nlist = 4 sqrt(n), searched with
  ``nprobe`` lists (FAISS guidelines on choosing an index: 4-16 sqrt(n) lists);
- beyond: ``HNSW32`` (graph search; no training, memory grows with n).

Each is wrapped in ``IndexIDMap2`` so results are row numbers of the id map. The id map is saved
beside the index in a sidecar (``path`` + ``.json``) with the model version and the index file's
sha256, so the sidecar pins everything the index serves. ``save_index`` returns the sidecar's
sha256: that is the index's checksum, recorded in the database (``model_versions.index_sha256``).
``load_index`` refuses an index unless the sidecar matches the recorded checksum and the index
file matches the sidecar; a checksum written next to a file can be rewritten with it, so the
sidecar's own word is never enough.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from domain.readers import file_sha256

log = logging.getLogger(__name__)

EXACT_MAX = 100_000  # measured in bench/rec_quality.py: exact search is fast enough below this
IVF_MAX = 2_000_000
# Query batches smaller than FAISS's BLAS threshold take a slow per-query path; 1M x 64 search
# went from 25 s to 5.3 s with the threshold at 20 instead of the default 128,000 (STACK.md).
BLAS_THRESHOLD = 20
_REBUILD = "rebuild it with `sentrec publish`"


def _tune_faiss() -> None:
    """Set FAISS's process-wide BLAS threshold; called by whatever builds or loads an index,
    so that importing this module changes nothing."""
    faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD


class IndexMismatchError(RuntimeError):
    """An index that is missing, altered, stale or built for another model version.

    ``problem`` says what is wrong without the server's paths, for answers to API clients.
    """

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass
class ItemIndex:
    """A searchable index with the item ids its rows stand for."""

    index: Any
    item_ids: list[str]
    model_version_id: int
    kind: str
    # What the rows stand for beyond their ids (the support index's cases), saved in the
    # sidecar so that the recorded checksum covers it too.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rows = {item_id: row for row, item_id in enumerate(self.item_ids)}

    def row_of(self, item_id: str) -> int | None:
        """The row of an item id, or None for an id outside the catalogue."""
        return self._rows.get(item_id)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[list[str]]]:
        """Top ``k`` items per query row: (scores (Q, k), item ids per query)."""
        scores, rows = self.search_rows(queries, k)
        ids = [[self.item_ids[r] for r in row if r >= 0] for row in rows]
        return scores, ids

    def search_rows(self, queries: np.ndarray, k: int,
                    among: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows per query row, (scores (Q, k), rows (Q, k), -1 where fewer), only
        ``among`` the given rows when named: filtered inside the search, so a small subset
        still gets its k nearest (FAISS ``IDSelectorBatch``)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if among is None:
            return self.index.search(queries, min(k, len(self.item_ids)))  # type: ignore[no-any-return]
        chosen = np.asarray(among, dtype=np.int64)
        params = faiss.SearchParameters()
        params.sel = faiss.IDSelectorBatch(chosen)
        return self.index.search(queries, min(k, max(1, len(chosen))),  # type: ignore[no-any-return]
                                 params=params)


def index_kind(n_items: int) -> str:
    """The structure used for a catalogue of ``n_items`` (thresholds in the module docstring)."""
    if n_items <= EXACT_MAX:
        return "flat"
    if n_items <= IVF_MAX:
        return "ivf"
    return "hnsw"


def build_index(vectors: np.ndarray, item_ids: list[str], *, model_version_id: int,
                kind: str | None = None, nprobe: int = 32, use_gpu: bool = True) -> ItemIndex:
    """Index ``vectors`` (one row per item id) for inner-product search."""
    _tune_faiss()
    if vectors.shape[0] != len(item_ids):
        raise ValueError(f"{vectors.shape[0]} vectors for {len(item_ids)} item ids")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    kind = kind or index_kind(n)
    if kind == "flat":
        inner: Any = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = max(1, int(4 * math.sqrt(n)))
        inner = faiss.index_factory(dim, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        inner.train(vectors)
        inner.nprobe = nprobe
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    else:
        raise ValueError(f"unknown index kind {kind!r}; use flat, ivf or hnsw")
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(vectors, np.arange(n, dtype=np.int64))
    if use_gpu:
        index = _to_gpu(index)
    return ItemIndex(index=index, item_ids=list(item_ids), model_version_id=model_version_id,
                     kind=kind)


def _to_gpu(index: Any) -> Any:
    """Move the index to the GPU when faiss-gpu is installed and a GPU is present."""
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        return index
    log.info("moving the item index to GPU 0")
    return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)


def save_index(item_index: ItemIndex, path: Path) -> str:
    """Write the index and its sidecar (``path`` + ``.json``); return the checksum to record
    (the sidecar's sha256, which covers the index file through the sha256 inside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    index = item_index.index
    if hasattr(faiss, "index_gpu_to_cpu") and faiss.get_num_gpus() > 0:
        index = faiss.index_gpu_to_cpu(index)
    faiss.write_index(index, str(path))
    sidecar = {"sha256": file_sha256(path), "model_version_id": item_index.model_version_id,
               "kind": item_index.kind, "item_ids": item_index.item_ids,
               "extra": item_index.extra}
    _sidecar(path).write_text(json.dumps(sidecar))
    return file_sha256(_sidecar(path))


def load_index(path: Path, *, model_version_id: int, sha256: str | None,
               use_gpu: bool = True) -> ItemIndex:
    """Load the index of ``model_version_id`` whose recorded checksum is ``sha256``.

    Refuses, with ``IndexMismatchError``, an index with no recorded checksum, a sidecar that is
    not the recorded one (replaced, reordered, truncated), an index file that is not the one
    the sidecar names, and an index built for another version. FAISS does not validate a file
    it reads, so all of this is checked before it reads one.
    """
    if sha256 is None:
        raise IndexMismatchError(path, f"no checksum is recorded for it in the database; "
                                 f"{_REBUILD}")
    sidecar_path = _sidecar(path)
    if not path.exists() or not sidecar_path.exists():
        raise IndexMismatchError(path, f"the index or its sidecar {sidecar_path.name} is "
                                 f"missing; {_REBUILD}")
    _require_sha256(path, sidecar_path, sha256)
    meta = _read_sidecar(path)
    _require_sha256(path, path, str(meta["sha256"]))
    if meta["model_version_id"] != model_version_id:
        raise IndexMismatchError(path, f"built for model version {meta['model_version_id']}, "
                                 f"but version {model_version_id} is active; {_REBUILD}")
    _tune_faiss()
    index = faiss.read_index(str(path))
    if index.ntotal != len(meta["item_ids"]):
        raise IndexMismatchError(path, f"{index.ntotal} vectors but {len(meta['item_ids'])} "
                                 f"ids in the sidecar; {_REBUILD}")
    if use_gpu:
        index = _to_gpu(index)
    return ItemIndex(index=index, item_ids=list(meta["item_ids"]),
                     model_version_id=model_version_id, kind=str(meta["kind"]),
                     extra=dict(meta.get("extra") or {}))


def _require_sha256(path: Path, file: Path, expected: str) -> None:
    digest = file_sha256(file)
    if digest != expected:
        raise IndexMismatchError(path, f"its sha256 ({file.name}: {digest[:12]}…) "
                                 f"does not match the recorded {expected[:12]}…; it was "
                                 f"altered or is from another build: {_REBUILD}")


def _read_sidecar(path: Path) -> dict[str, Any]:
    """The sidecar's fields; read only once its checksum matched the recorded one."""
    try:
        meta = json.loads(_sidecar(path).read_bytes())
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or not {"sha256", "model_version_id", "kind",
                                          "item_ids"} <= meta.keys():
        raise IndexMismatchError(path, "its sidecar does not hold the index's sha256, model "
                                 f"version, kind and id map; {_REBUILD}")
    return meta


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


