"""Scoring and publishing on a real local Dask cluster give what the default runner gives."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import delete, select

from domain.records import Stream
from domain.settings import Settings
from flows.ingest import ingest_file
from flows.runtime import ready_engine
from storage.schema import Recommendation, RecommendationSet, SentimentScore
from tests.helpers import events_file, labelled_file


@pytest.fixture
def trained(tmp_path: Path) -> Settings:
    from flows.train_recommender import train_recommender
    from flows.train_sentiment import train_sentiment

    settings = Settings(home=tmp_path / "home", max_workers=2)
    engine = ready_engine(settings)
    ingest_file(engine=engine, stream=Stream.EVENTS, path=events_file(tmp_path / "e.csv"))
    ingest_file(engine=engine, stream=Stream.MESSAGES, path=labelled_file(tmp_path / "m.csv"))
    train_recommender(engine=engine, models_dir=settings.home / "models", max_minutes=0.1,
                      config={"d_model": 16, "d_ff": 32, "max_len": 10})
    train_sentiment(engine=engine, models_dir=settings.home / "models", max_minutes=0.1)
    return settings


def active_recommendations(settings: Settings) -> pl.DataFrame:
    with ready_engine(settings).connect() as connection:
        rows = connection.execute(
            select(Recommendation.user_id, Recommendation.rank, Recommendation.item_id,
                   Recommendation.score)
            .join(RecommendationSet, RecommendationSet.id == Recommendation.set_id)
            .where(RecommendationSet.status == "active")
            .order_by(Recommendation.user_id, Recommendation.rank)).all()
    return pl.DataFrame([tuple(r) for r in rows], orient="row",
                        schema=["user_id", "rank", "item_id", "score"])


def scores(settings: Settings) -> pl.DataFrame:
    with ready_engine(settings).connect() as connection:
        rows = connection.execute(
            select(SentimentScore.doc_id, SentimentScore.p_negative, SentimentScore.score)
            .order_by(SentimentScore.doc_id)).all()
    return pl.DataFrame([tuple(r) for r in rows], orient="row",
                        schema=["doc_id", "p_negative", "score"])


def test_dask_cluster_gives_the_default_runners_results(prefect_harness: None,
                                                        trained: Settings) -> None:
    from flows.publish_recommendations import run_publish
    from flows.score_documents import run_scoring

    dask = trained.model_copy(update={"task_runner": "dask"})
    published = run_publish(trained, k=5, batch_users=7)
    threads_recs = active_recommendations(trained)
    run_scoring(trained, chunk_size=16)
    threads_scores = scores(trained)
    with ready_engine(trained).begin() as connection:
        connection.execute(delete(SentimentScore))

    run_publish(dask, k=5, batch_users=7)
    dask_recs = active_recommendations(dask)
    run_scoring(dask, chunk_size=16)
    dask_scores = scores(dask)

    assert threads_recs.height == 41 * 5  # 40 users and the cold-start list
    assert published.users == 40 and published.rows == 40 * 5
    assert threads_recs.select("user_id", "rank", "item_id").equals(
        dask_recs.select("user_id", "rank", "item_id"))
    assert threads_scores.height == 60
    assert threads_scores["doc_id"].equals(dask_scores["doc_id"])
    assert (threads_scores["score"] - dask_scores["score"]).abs().max() < 1e-5  # type: ignore[operator]
