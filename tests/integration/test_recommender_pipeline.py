"""Recommender end to end on a real store: train, champion/challenger, publish, serve shape."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from domain.ranking import RankingRules
from domain.records import Stream
from domain.sequences import DEFAULT_EVENT_WEIGHTS
from flows.ingest import ingest_file
from flows.train_recommender import train_recommender
from models.index import load_index
from models.recommender.artifact import build_item_index, load_recommender
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
    path = build_item_index(version.artifact_path, sha256=version.sha256,
                            model_version_id=version.id)
    index = load_index(path, model_version_id=version.id)
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
