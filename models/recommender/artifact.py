"""The recommender's artifacts: one checkpoint (weights, config, item ids and what it was
trained on) and, beside it, the FAISS index of its item vectors.

The index path follows from the checkpoint path (``index_path``): the flows that build it and
the service that reads it both ask here, so the rule exists once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.index import ItemIndex, build_index, load_index, save_index
from models.recommender.sasrec import SASRec, SASRecConfig


def save_recommender(path: Path, *, model: SASRec, item_ids: list[str], source: str,
                     weights: Mapping[str, float], metrics: Mapping[str, float]) -> str:
    """Write the model with its catalogue (dense index i is ``item_ids[i - 1]``); return the
    file's sha256 for the registry."""
    return save_checkpoint(path, model=model.cpu(), config=model.config,
                           extra={"item_ids": list(item_ids), "source": source,
                                  "weights": dict(weights), "metrics": dict(metrics)})


def load_recommender(path: Path | str, *, sha256: str) -> tuple[SASRec, list[str]]:
    """The model (eval mode, CPU) and its item ids, after checking the file's sha256."""
    checkpoint = load_checkpoint(path, sha256=sha256)
    model = SASRec(SASRecConfig(**checkpoint.config))
    model.load_state_dict(checkpoint.state_dict)
    model.eval()
    return model, list(checkpoint.extra["item_ids"])


def index_path(artifact_path: Path | str) -> Path:
    """Where the item index of the checkpoint at ``artifact_path`` lives."""
    return Path(artifact_path).with_suffix(".faiss")


def build_item_index(artifact_path: Path | str, *, sha256: str, model_version_id: int) -> str:
    """Build and save the FAISS index of the model's item vectors at ``index_path``; return
    the index's checksum, which the caller records in the registry for every reader."""
    model, item_ids = load_recommender(artifact_path, sha256=sha256)
    with torch.inference_mode():
        vectors = model.item_vectors()[1:].numpy()  # (N, d): row 0 is padding
    return save_index(build_index(vectors, item_ids, model_version_id=model_version_id),
                      index_path(artifact_path))


def load_item_index(artifact_path: Path | str, *, model_version_id: int, sha256: str | None,
                    **options: Any) -> ItemIndex:
    """The item index of the checkpoint at ``artifact_path`` whose recorded checksum is
    ``sha256`` (see ``models.index.load_index`` for what is checked and the ``options``)."""
    return load_index(index_path(artifact_path), model_version_id=model_version_id,
                      sha256=sha256, **options)
