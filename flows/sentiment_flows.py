"""Flows ``train-sentiment`` and ``score-documents``."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact

from domain.settings import Settings
from flows.runtime import ready_engine
from flows.sentiment import ScoringChunk, plan_scoring, score_chunk, train_sentiment
from storage.registry import SENTIMENT, active_version


@flow(name="train-sentiment")
def train_sentiment_flow(settings: Settings | None = None, profile: str = "fast",
                         seed: int = 0, max_minutes: float | None = None) -> dict[str, Any]:
    """Train a sentiment model on the store's labels; it goes live only if it beats the active
    one on the same held-out documents."""
    settings = settings or Settings()
    outcome = train_sentiment(engine=ready_engine(settings), models_dir=settings.home / "models",
                              profile=profile, seed=seed, max_minutes=max_minutes)
    lines = [f"# Sentiment {profile} v{outcome.version.version}", "",
             f"Trained on {outcome.train_size:,} labelled documents, evaluated on "
             f"{outcome.test_size:,} held out (80/20 stratified, seed 0).", "",
             "| metric | value |", "|---|---:|",
             *[f"| {k} | {v:.4f} |" for k, v in sorted(outcome.metrics.items())], "",
             f"**{'Promoted' if outcome.promotion.promoted else 'Not promoted'}**: "
             f"{outcome.promotion.reason}."]
    create_markdown_artifact(markdown="\n".join(lines), key="train-sentiment",
                             description=f"sentiment v{outcome.version.version}")
    get_run_logger().info("sentiment v%d: %s", outcome.version.version,
                          outcome.promotion.reason)
    return {"version": outcome.version.version, "promoted": outcome.promotion.promoted,
            "reason": outcome.promotion.reason, "metrics": outcome.metrics,
            "train_size": outcome.train_size, "test_size": outcome.test_size}


@task(retries=2, retry_delay_seconds=5, task_run_name="score-{chunk.doc_kind}-{chunk.first_id}")
def score_one_chunk(settings: Settings, version_id: int, chunk: ScoringChunk) -> int:
    engine = ready_engine(settings)
    version = active_version(engine=engine, name=SENTIMENT)
    if version is None or version.id != version_id:
        # Another model went live mid-run; its own run will score these documents.
        return 0
    return score_chunk(engine=engine, version=version, chunk=chunk)


@flow(name="score-documents")
def score_documents(settings: Settings | None = None, chunk_size: int = 2_000) -> dict[str, Any]:
    """Score every message and news item the active model has not scored, a task per chunk."""
    settings = settings or Settings()
    engine = ready_engine(settings)
    version = active_version(engine=engine, name=SENTIMENT)
    if version is None:
        raise RuntimeError("no sentiment model is active: run `sentrec train sentiment` first")
    chunks = plan_scoring(engine=engine, model_version_id=version.id, chunk_size=chunk_size)
    futures = (score_one_chunk.map(unmapped(settings), unmapped(version.id), chunks)
               if chunks else [])
    scored = sum(f.result() for f in futures)
    create_markdown_artifact(
        markdown=f"# Scoring\n\n{scored:,} documents scored by sentiment v{version.version} "
        f"in {len(chunks)} chunks.", key="score-documents")
    return {"version": version.version, "scored": scored, "chunks": len(chunks)}


def run_scoring(settings: Settings, chunk_size: int = 2_000) -> dict[str, Any]:
    """Score on the task runner the settings name (threads, processes or Dask)."""
    from flows.runtime import task_runner

    result: dict[str, Any] = score_documents.with_options(task_runner=task_runner(settings))(
        settings=settings, chunk_size=chunk_size)
    return result
