"""Flow ``score-documents``: score every message and news item the active model has not scored.

The work is planned as chunks (a range of document ids of one kind) and each chunk is a task on
the configured task runner (threads, processes or Dask), so scoring scales out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from prefect import flow, task, unmapped
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import Engine

from domain.errors import NotReadyError
from domain.settings import Settings
from flows.runtime import TASK_OPTIONS, ready_engine, redacted_errors, task_runner
from storage.registry import SENTIMENT, VersionInfo, active_version
from storage.scores import unscored_documents, write_scores


@dataclass(frozen=True)
class ScoringChunk:
    """One chunk of work: a range of documents of one kind, by id."""

    doc_kind: str
    first_id: int
    last_id: int


@dataclass(frozen=True)
class Scoring:
    """What a scoring run did."""

    version: int  # the sentiment model's version number
    scored: int
    chunks: int


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


# The model of one artifact, loaded once per worker process; keyed by its checksum, since
# version ids repeat across stores.
_LOADED: dict[str, Any] = {}


def score_chunk(*, engine: Engine, version: VersionInfo, chunk: ScoringChunk,
                batch_size: int = 64) -> int:
    """Score the chunk's unscored documents with ``version``; returns rows written."""
    from models.sentiment.predict import load_sentiment, score_texts

    if version.sha256 not in _LOADED:
        _LOADED.clear()
        _LOADED[version.sha256] = load_sentiment(version.artifact_path, sha256=version.sha256)
    trained = _LOADED[version.sha256]
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


@task(retries=2, retry_delay_seconds=5, task_run_name="score-{chunk.doc_kind}-{chunk.first_id}",
      **TASK_OPTIONS)
@redacted_errors
def score_one_chunk(settings: Settings, version_id: int, chunk: ScoringChunk) -> int:
    from models.device import use_threads

    use_threads(settings.torch_threads)  # in this worker, which may be another process
    engine = ready_engine(settings)
    version = active_version(engine=engine, name=SENTIMENT)
    if version is None or version.id != version_id:
        # Another model went live mid-run; its own run will score these documents.
        return 0
    return score_chunk(engine=engine, version=version, chunk=chunk)


@flow(name="score-documents", persist_result=False)
@redacted_errors
def score_documents(settings: Settings | None = None, chunk_size: int = 2_000) -> Scoring:
    """Score every message and news item the active model has not scored, a task per chunk."""
    settings = settings or Settings()
    engine = ready_engine(settings)
    version = active_version(engine=engine, name=SENTIMENT)
    if version is None:
        raise NotReadyError("no sentiment model is active: run `sentrec train sentiment` first")
    chunks = plan_scoring(engine=engine, model_version_id=version.id, chunk_size=chunk_size)
    futures = (score_one_chunk.map(unmapped(settings), unmapped(version.id), chunks)
               if chunks else [])
    scored = sum(f.result() for f in futures)
    create_markdown_artifact(
        markdown=f"# Scoring\n\n{scored:,} documents scored by sentiment v{version.version} "
        f"in {len(chunks)} chunks.", key="score-documents")
    return Scoring(version.version, scored, len(chunks))


def run_scoring(settings: Settings, chunk_size: int = 2_000) -> Scoring:
    """Score on the task runner the settings name (threads, processes or Dask)."""
    result: Scoring = score_documents.with_options(task_runner=task_runner(settings))(
        settings=settings, chunk_size=chunk_size)
    return result
