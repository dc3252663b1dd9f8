"""Training on the store's labels, champion/challenger, and scoring every document once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from domain.records import Stream
from flows.ingest import ingest_file
from flows.score_documents import plan_scoring, score_chunk
from flows.train_sentiment import train_sentiment
from storage.registry import active_version
from storage.schema import SentimentScore
from tests.helpers import labelled_file


def test_train_promote_and_score_each_document_once(engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine=engine, stream=Stream.MESSAGES, path=labelled_file(tmp_path / "l.csv"))
    outcome = train_sentiment(engine=engine, models_dir=tmp_path / "models", max_minutes=0.3)
    assert outcome.promotion.promoted and outcome.test_size == 12
    assert set(outcome.metrics) >= {"accuracy", "macro_f1", "ece", "ece_uncalibrated",
                                    "temperature", "epochs_run", "best_epoch", "steps"}
    version = active_version(engine=engine, name="sentiment")
    assert version is not None and Path(version.artifact_path).exists()
    chunks = plan_scoring(engine=engine, model_version_id=version.id, chunk_size=25)
    assert len(chunks) == 3
    written = sum(score_chunk(engine=engine, version=version, chunk=c) for c in chunks)
    assert written == 60
    assert plan_scoring(engine=engine, model_version_id=version.id, chunk_size=25) == []
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(SentimentScore)).scalar()
        row = connection.execute(select(SentimentScore).limit(1)).mappings().one()
    assert count == 60
    assert abs(row["p_negative"] + row["p_neutral"] + row["p_positive"] - 1) < 1e-4
    assert abs(row["score"] - (row["p_positive"] - row["p_negative"])) < 1e-6
    assert all(isinstance(word, str) for word, _ in json.loads(row["highlights"]))
    # The same labels again: a challenger is compared on the same held-out set.
    again = train_sentiment(engine=engine, models_dir=tmp_path / "models", max_minutes=0.3,
                            seed=1)
    assert again.version.eval_set == outcome.version.eval_set
    # Promoted exactly when the whole interval of the margin is above 0.
    assert again.promotion.promoted == (again.metrics["margin_low"] > 0)
    assert "95% interval" in again.promotion.reason
    assert "over 12 documents" in again.promotion.reason


def test_a_tiny_budget_stops_training_and_says_so(engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine=engine, stream=Stream.MESSAGES, path=labelled_file(tmp_path / "l.csv"))
    outcome = train_sentiment(engine=engine, models_dir=tmp_path / "models", max_minutes=1e-4)
    assert outcome.stop_reason == "time budget"
    assert (outcome.metrics["steps"], outcome.metrics["epochs_run"]) == (1, 1)
    assert outcome.version.params["stop_reason"] == "time budget"


def test_a_model_trained_in_one_folder_scores_from_another(engine: Engine, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ingest_file(engine=engine, stream=Stream.MESSAGES, path=labelled_file(tmp_path / "l.csv"))
    monkeypatch.chdir(tmp_path)
    train_sentiment(engine=engine, models_dir=Path(".sentrec/models"), max_minutes=0.1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    version = active_version(engine=engine, name="sentiment")
    assert version is not None
    chunks = plan_scoring(engine=engine, model_version_id=version.id, chunk_size=100)
    assert sum(score_chunk(engine=engine, version=version, chunk=c) for c in chunks) == 60


def test_a_relative_home_is_read_as_an_absolute_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.settings import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SENTREC_HOME", "relative-home")
    assert Settings().home == tmp_path / "relative-home"
