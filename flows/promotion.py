"""Champion/challenger, once for every model family.

A trained model is registered as a candidate; it goes live only if it beats the active version
(the champion) on the same held-out data. When the champion was measured on other data (the
store grew), it is re-scored on the candidate's held-out data first, so the two figures
compare.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine

from storage.registry import (
    Promotion,
    VersionInfo,
    active_version,
    promote_if_better,
    register_version,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """What a training run hands to the registry."""

    name: str  # the model family (storage.registry.SENTIMENT, RECOMMENDER)
    eval_set: str  # names the held-out data the metrics were measured on
    primary_metric: str  # higher is better; champion and challenger are compared on it
    metrics: dict[str, float]
    params: dict[str, Any]
    artifact_path: str
    sha256: str


def register_and_promote(*, engine: Engine, candidate: Candidate,
                         rescore: Callable[[VersionInfo], float]) -> Promotion:
    """Register ``candidate`` and activate it if it wins.

    ``rescore(champion)`` gives the champion's primary metric on the candidate's held-out data;
    it is called only when the champion was evaluated on another set.
    """
    champion = active_version(engine=engine, name=candidate.name)
    version = register_version(engine=engine, name=candidate.name, eval_set=candidate.eval_set,
                               primary_metric=candidate.primary_metric,
                               metrics=candidate.metrics, params=candidate.params,
                               artifact_path=candidate.artifact_path, sha256=candidate.sha256)
    rescored = None
    if champion is not None and champion.eval_set != candidate.eval_set:
        rescored = rescore(champion)
    promotion = promote_if_better(engine=engine, version_id=version.id,
                                  champion_rescored=rescored)
    log.info("%s v%d: %s", candidate.name, version.version, promotion.reason)
    return promotion


def labels_eval_set(documents: pl.DataFrame, test_rows: list[int]) -> str:
    """A name for held-out labelled documents (``doc_kind``, ``doc_id`` columns): two runs on
    the same labels share it, so their figures compare directly."""
    keys = sorted(f"{documents['doc_kind'][i]}:{documents['doc_id'][i]}" for i in test_rows)
    digest = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:16]
    return f"labels-80-20-seed0:{len(keys)}:{digest}"
