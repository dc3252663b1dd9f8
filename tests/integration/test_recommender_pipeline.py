"""Recommender end to end on a real store: train, champion/challenger, publish, serve shape."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from domain.ranking import RankingRules
from domain.readers import file_sha256
from domain.records import Stream
from domain.sequences import DEFAULT_EVENT_WEIGHTS
from domain.settings import Settings
from flows.ingest import ingest_file
from flows.train_recommender import train_recommender
from models.index import load_index
from models.recommender.artifact import build_item_index, index_path, load_recommender
from models.recommender.publish import recent_popularity, recommend_batch
from storage.events import load_sequences, version_weights
from storage.registry import active_version
from tests.helpers import events_file


def test_train_publish_batch_and_cold_start(engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine=engine, stream=Stream.EVENTS, path=events_file(tmp_path / "e.csv"))
    outcome = train_recommender(engine=engine, models_dir=tmp_path / "models", max_minutes=0.2,
                                config={"d_model": 16, "d_ff": 32, "max_len": 10})
    assert outcome.promotion.promoted
    assert 0.0 <= outcome.metrics["test_ndcg@10"] <= 1.0
    version = active_version(engine=engine, name="recommender")
    assert version is not None and version.params["source"] == "canonical"
    assert version.params["weights"] == DEFAULT_EVENT_WEIGHTS
    digest = build_item_index(version.artifact_path, sha256=version.sha256,
                              model_version_id=version.id)
    index = load_index(index_path(version.artifact_path), model_version_id=version.id,
                       sha256=digest)
    model, item_ids = load_recommender(version.artifact_path, sha256=version.sha256)
    seqs = load_sequences(engine=engine, source="canonical",
                          weights=version_weights(version.params))
    frame = recommend_batch(model=model, index=index, seqs=seqs, item_ids=item_ids, start=0,
                            end=5, k=10, rules=RankingRules(exclude=frozenset({"i0"})))
    assert frame["user_id"].n_unique() == 5
    for user, group in frame.group_by("user_id"):
        seen = {seqs.item_ids[i - 1] for i in seqs.items[seqs.user_ids.index(user[0])]}
        assert group["rank"].to_list() == list(range(1, 11))
        assert not set(group["item_id"]) & seen  # seen items are never recommended
        assert "i0" not in set(group["item_id"])
        assert group["score"].is_sorted(descending=True)
    popular = recent_popularity(seqs, 3)
    assert len(popular) == 3 and popular[0][1] >= popular[-1][1]


def test_publishing_records_the_index_checksum_the_service_checks(prefect_harness: None,
                                                                  tmp_path: Path) -> None:
    from flows.publish_recommendations import publish_recommendations
    from flows.runtime import ready_engine
    from service.app import create_app
    from storage.apikeys import create_key

    settings = Settings(home=tmp_path / "home")
    engine = ready_engine(settings)
    ingest_file(engine=engine, stream=Stream.EVENTS, path=events_file(tmp_path / "e.csv"))
    train_recommender(engine=engine, models_dir=settings.home / "models", max_minutes=0.1,
                      config={"d_model": 16, "d_ff": 32, "max_len": 10})
    publish_recommendations(settings=settings, k=5)
    version = active_version(engine=engine, name="recommender")
    assert version is not None and version.index_sha256 is not None
    index = index_path(version.artifact_path)
    assert version.index_sha256 == file_sha256(index.with_name(index.name + ".json"))

    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="shop")}
    similar = client.get("/v1/items/i3/similar?k=4", headers=key)
    assert similar.status_code == 200
    assert len(similar.json()["items"]) == 4
