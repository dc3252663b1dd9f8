"""Training and scoring sentiment as plain functions (the Prefect flows call these).

Training uses every labelled document in the store, split 80/20 stratified with seed 0; the
held-out fifth is the evaluation set on which challenger and champion are compared.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from storage.registry import (
    SENTIMENT,
    Promotion,
    VersionInfo,
    active_version,
    promote_if_better,
)
from storage.registry import register_version as register
from storage.scores import labelled_documents, unscored_documents, write_scores

log = logging.getLogger(__name__)

PRIMARY_METRIC = "macro_f1"


@dataclass(frozen=True)
class TrainOutcome:
    version: VersionInfo
    promotion: Promotion
    metrics: dict[str, float]
    train_size: int
    test_size: int


def train_sentiment(*, engine: Engine, models_dir: Path, profile: str = "fast", seed: int = 0,
                    origins: list[str] | None = None,
                    max_minutes: float | None = None) -> TrainOutcome:
    """Train ``profile`` on the store's labels, register it, promote it if it wins."""
    import torch

    from models.sentiment_train import (
        ACCURATE_FIT,
        FAST_FIT,
        evaluate_texts,
        label_ids,
        stratified_split,
        train_accurate,
        train_fast,
    )

    documents = labelled_documents(engine=engine, origins=origins)
    if documents.height < 30:
        raise ValueError(f"only {documents.height} labelled documents in the store; ingest a "
                         "labelled set first (e.g. `sentrec ingest news Sentences_50Agree.txt`)")
    texts = documents["text"].to_list()
    labels = label_ids(documents["label"].to_list())
    train_rows, test_rows = stratified_split(labels, test_fraction=0.2, seed=0)
    fit = FAST_FIT if profile != "accurate" else ACCURATE_FIT
    if max_minutes is not None:
        fit = type(fit)(**{**fit.__dict__, "max_seconds": max_minutes * 60})
    train_texts = [texts[i] for i in train_rows]
    train_labels = [labels[i] for i in train_rows]
    test_texts = [texts[i] for i in test_rows]
    test_labels = [labels[i] for i in test_rows]
    torch.manual_seed(seed)
    if profile == "fast":
        trained = train_fast(train_texts, train_labels, seed=seed, fit=fit)
    elif profile == "accurate":
        trained = train_accurate(train_texts, train_labels, seed=seed, fit=fit)
    else:
        raise ValueError(f"unknown sentiment profile {profile!r}; use fast or accurate")
    metrics = evaluate_texts(trained, test_texts, test_labels)
    eval_set = _eval_set(documents, test_rows)
    path, sha256 = _save(trained, models_dir, profile)
    version = register(engine=engine, name=SENTIMENT, eval_set=eval_set,
                       primary_metric=PRIMARY_METRIC, metrics=metrics,
                       params={"profile": profile, "seed": seed, "train_size": len(train_rows),
                               "origins": sorted(documents["origin"].unique().to_list())},
                       artifact_path=str(path), sha256=sha256)
    promotion = promote_if_better(engine=engine, version_id=version.id,
                                  champion_rescored=_rescore_champion(
                                      engine, eval_set, test_texts, test_labels))
    log.info("sentiment %s v%d: %s", profile, version.version, promotion.reason)
    return TrainOutcome(version, promotion, metrics, len(train_rows), len(test_rows))


def _eval_set(documents: pl.DataFrame, test_rows: list[int]) -> str:
    """A name for the held-out documents: two runs on the same labels share it."""
    keys = sorted(f"{documents['doc_kind'][i]}:{documents['doc_id'][i]}" for i in test_rows)
    digest = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:16]
    return f"labels-80-20-seed0:{len(keys)}:{digest}"


def _rescore_champion(engine: Engine, eval_set: str, texts: list[str],
                      labels: list[int]) -> float | None:
    """The champion's macro-F1 on today's held-out set, when it was measured on another."""
    from models.sentiment_infer import load_sentiment
    from models.sentiment_train import evaluate_texts

    champion = active_version(engine=engine, name=SENTIMENT)
    if champion is None or champion.eval_set == eval_set:
        return None
    trained = load_sentiment(champion.artifact_path, sha256=champion.sha256)
    return evaluate_texts(trained, texts, labels)[PRIMARY_METRIC]


def _save(trained: Any, models_dir: Path, profile: str) -> tuple[Path, str]:
    from models.sentiment_infer import save_sentiment

    models_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = models_dir / f"sentiment-{profile}-{stamp}.pt"
    return path, save_sentiment(trained, path)


@dataclass(frozen=True)
class ScoringChunk:
    """One chunk of work: a range of documents of one kind, by id."""

    doc_kind: str
    first_id: int
    last_id: int


def plan_scoring(*, engine: Engine, model_version_id: int,
                 chunk_size: int) -> list[ScoringChunk]:
    """Chunks covering every document the version has not scored yet."""
    chunks: list[ScoringChunk] = []
    after: tuple[str, int] | None = None
    while True:
        page = unscored_documents(engine=engine, model_version_id=model_version_id,
                                  limit=chunk_size, after=after)
        if page.is_empty():
            return chunks
        for kind in page["doc_kind"].unique(maintain_order=True).to_list():
            ids = page.filter(pl.col("doc_kind") == kind)["doc_id"]
            chunks.append(ScoringChunk(kind, int(ids.min()), int(ids.max())))  # type: ignore[arg-type]
        after = (page["doc_kind"][-1], int(page["doc_id"][-1]))


_LOADED: dict[int, Any] = {}


def score_chunk(*, engine: Engine, version: VersionInfo, chunk: ScoringChunk,
                batch_size: int = 64) -> int:
    """Score the chunk's unscored documents with ``version``; returns rows written."""
    from models.sentiment_infer import load_sentiment, score_texts

    if version.id not in _LOADED:
        _LOADED.clear()
        _LOADED[version.id] = load_sentiment(version.artifact_path, sha256=version.sha256)
    trained = _LOADED[version.id]
    page = unscored_documents(engine=engine, model_version_id=version.id,
                              limit=chunk.last_id - chunk.first_id + 1,
                              after=(chunk.doc_kind, chunk.first_id - 1))
    page = page.filter((pl.col("doc_kind") == chunk.doc_kind) &
                       (pl.col("doc_id") <= chunk.last_id))
    page = page.filter(pl.col("text").str.strip_chars().str.len_chars() > 0)
    if page.is_empty():
        return 0
    scores = score_texts(trained, page["text"].to_list(), batch_size=batch_size)
    frame = page.select("doc_kind", "doc_id").with_columns(
        pl.lit(version.id, pl.Int64).alias("model_version_id"),
        pl.Series("p_negative", scores.probs[:, 0].astype(float)),
        pl.Series("p_neutral", scores.probs[:, 1].astype(float)),
        pl.Series("p_positive", scores.probs[:, 2].astype(float)),
        pl.Series("score", scores.score.astype(float)),
        pl.Series("highlights", [json.dumps([[w, round(float(x), 4)] for w, x in h])
                                 for h in scores.highlights]),
        pl.Series("sentences", scores.windows.astype(int)),
        pl.lit(datetime.now(UTC)).alias("scored_at"),
    )
    return write_scores(engine=engine, scores=frame)
