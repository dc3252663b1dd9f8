"""Champion/challenger, once for every model family.

A trained model is registered as a candidate; it goes live only if it beats the active version
(the champion) on the same held-out data by more than noise: the champion is scored on the
candidate's held-out items, and a paired bootstrap over those items (``domain.bootstrap``) must
put the whole interval of the margin above 0. The margin and its interval are stored with the
candidate's metrics and in the decision's reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine

from domain.bootstrap import MarginInterval
from domain.settings import Settings
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


@dataclass(frozen=True)
class PromotionRule:
    """How sure the bootstrap must be that a challenger is better (settings
    ``promotion_resamples``, ``promotion_level``)."""

    resamples: int = 1000
    level: float = 0.95

    @classmethod
    def from_settings(cls, settings: Settings) -> PromotionRule:
        return cls(resamples=settings.promotion_resamples, level=settings.promotion_level)


DEFAULT_RULE = PromotionRule()


def register_and_promote(*, engine: Engine, candidate: Candidate,
                         compare: Callable[[VersionInfo], MarginInterval]) -> Promotion:
    """Register ``candidate`` and activate it if it wins beyond noise.

    ``compare(champion)`` scores the champion on the candidate's held-out items and returns the
    paired bootstrap interval of the margin; it is called only when there is a champion.
    """
    champion = active_version(engine=engine, name=candidate.name)
    interval = None if champion is None else compare(champion)
    metrics = candidate.metrics | ({} if interval is None else interval.as_metrics())
    version = register_version(engine=engine, name=candidate.name, eval_set=candidate.eval_set,
                               primary_metric=candidate.primary_metric, metrics=metrics,
                               params=candidate.params, artifact_path=candidate.artifact_path,
                               sha256=candidate.sha256)
    promotion = promote_if_better(engine=engine, version_id=version.id, interval=interval)
    log.info("%s v%d: %s", candidate.name, version.version, promotion.reason)
    return promotion


def labels_eval_set(documents: pl.DataFrame, test_rows: list[int]) -> str:
    """A name for held-out labelled documents (``doc_kind``, ``doc_id`` columns): two runs on
    the same labels share it, so their figures compare directly."""
    keys = sorted(f"{documents['doc_kind'][i]}:{documents['doc_id'][i]}" for i in test_rows)
    digest = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:16]
    return f"labels-80-20-seed0:{len(keys)}:{digest}"
