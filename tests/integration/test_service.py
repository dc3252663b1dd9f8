"""The lookup API against a real store: keys, recommendations, cold start, similar items,
alerts, bad parameters, and that it cannot write."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from domain.redaction import pseudonym
from domain.settings import Settings
from models.index import build_index, save_index
from service.app import create_app
from storage.apikeys import create_key
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.recsets import (
    COLD_START_USER,
    activate_set,
    create_set,
    write_recommendations,
)
from storage.registry import promote_if_better, register_version, set_index_sha256
from storage.schema import Alert


@pytest.fixture
def store(tmp_path: Path) -> tuple[Engine, Settings]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    return engine, Settings(home=tmp_path, database_url=url)


def publish(engine: Engine) -> None:
    rows = [("u1", r, f"i{r}", 1.0 / r, None) for r in range(1, 6)]
    rows += [(COLD_START_USER, r, f"pop{r}", 10.0 - r, "recent-popularity")
             for r in range(1, 6)]
    set_id = create_set(engine=engine, model_version_id=None, k=5)
    write_recommendations(engine=engine, set_id=set_id, frame=pl.DataFrame(
        rows, schema=["user_id", "rank", "item_id", "score", "reason"], orient="row"))
    activate_set(engine=engine, set_id=set_id)


def test_every_v1_route_needs_a_valid_key(store: tuple[Engine, Settings]) -> None:
    engine, settings = store
    publish(engine)
    client = TestClient(create_app(settings))
    for url in ("/v1/users/u1/recommendations", "/v1/items/i1/similar", "/v1/alerts"):
        assert client.get(url).status_code == 401
        response = client.get(url, headers={"X-API-Key": "sr_wrong"})
        assert response.status_code == 401
        assert "items" not in response.json()
    assert client.get("/healthz").json() == {"status": "ok", "detail": {}}


def test_recommendations_and_cold_start(store: tuple[Engine, Settings]) -> None:
    engine, settings = store
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="shop")}
    assert client.get("/v1/users/u1/recommendations", headers=key).status_code == 503
    publish(engine)
    body = client.get("/v1/users/u1/recommendations?k=3", headers=key).json()
    assert body["cold_start"] is False
    assert [i["item_id"] for i in body["items"]] == ["i1", "i2", "i3"]
    cold = client.get("/v1/users/stranger/recommendations?k=2", headers=key).json()
    assert cold["cold_start"] is True
    assert [(i["item_id"], i["reason"]) for i in cold["items"]] == [
        ("pop1", "recent-popularity"), ("pop2", "recent-popularity")]
    assert client.get("/readyz").json()["detail"] == {"recommendations": "published"}


def test_readyz_answers_503_until_a_set_is_published(store: tuple[Engine, Settings]) -> None:
    engine, settings = store
    client = TestClient(create_app(settings))
    empty = client.get("/readyz")
    assert empty.status_code == 503
    assert empty.json() == {"detail": "no recommendation set is published yet; run "
                                      "`sentrec publish`"}
    publish(engine)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "detail": {"recommendations": "published"}}


@pytest.mark.parametrize("url", [
    "/v1/users/u1/recommendations?k=0", "/v1/users/u1/recommendations?k=1000",
    "/v1/users/u1/recommendations?k=ten", "/v1/users/x'%20OR%20'1'='1/recommendations",
    "/v1/users/u1;DROP%20TABLE%20events/recommendations", "/v1/alerts?min_severity=101",
    "/v1/alerts?since=yesterday", "/v1/alerts?status=gone", "/v1/alerts?limit=0",
])
def test_bad_parameters_are_client_errors(store: tuple[Engine, Settings], url: str) -> None:
    engine, settings = store
    publish(engine)
    client = TestClient(create_app(settings))
    response = client.get(url, headers={"X-API-Key": create_key(engine=engine, name="t")})
    assert 400 <= response.status_code < 500


def active_recommender_with_index(engine: Engine, tmp_path: Path, *,
                                  record: bool = True) -> Path:
    """An active recommender whose item index is built as publishing builds it; returns the
    index path. ``record=False`` leaves the index's checksum out of the database."""
    artifact = tmp_path / "models" / "recommender-v1.pt"
    version = register_version(engine=engine, name="recommender", eval_set="e",
                               primary_metric="ndcg@10", metrics={"ndcg@10": 0.1}, params={},
                               artifact_path=str(artifact), sha256="0" * 64)
    promote_if_better(engine=engine, version_id=version.id)
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    path = artifact.with_suffix(".faiss")
    digest = save_index(build_index(vectors, ["a", "b", "c", "d"], model_version_id=version.id),
                        path)
    if record:
        set_index_sha256(engine=engine, version_id=version.id, sha256=digest)
    return path


def test_similar_items_come_from_the_active_models_index(store: tuple[Engine, Settings],
                                                         tmp_path: Path) -> None:
    engine, settings = store
    active_recommender_with_index(engine, tmp_path)
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="shop")}
    body = client.get("/v1/items/a/similar?k=2", headers=key).json()
    assert body["model_version"] == 1
    assert [i["item_id"] for i in body["items"]] == ["b", "c"]
    assert client.get("/v1/items/zzz/similar", headers=key).status_code == 404


def test_a_replaced_index_is_refused_even_with_its_checksum_beside_it(
        store: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, settings = store
    path = active_recommender_with_index(engine, tmp_path)
    # Other vectors in the index's place, their own sha256 written into the sidecar: "a" would
    # now be closest to "d".
    save_index(build_index(np.array([[1, 0], [-1, 0], [0, 1], [0.9, 0.1]], dtype=np.float32),
                           ["a", "b", "c", "d"], model_version_id=1), path)
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="shop")}
    response = client.get("/v1/items/a/similar?k=1", headers=key)
    assert response.status_code == 503
    assert response.json()["detail"].startswith(
        "the item index of recommender v1 is refused: its sha256")
    assert str(tmp_path) not in response.text  # no server paths in answers


@pytest.mark.parametrize("garbage", [b"", b'{"sha256": "ab', b"\x00\xff not json"])
def test_a_truncated_or_garbage_sidecar_is_a_503(store: tuple[Engine, Settings],
                                                 tmp_path: Path, garbage: bytes) -> None:
    engine, settings = store
    path = active_recommender_with_index(engine, tmp_path)
    path.with_name(path.name + ".json").write_bytes(garbage)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    key = {"X-API-Key": create_key(engine=engine, name="shop")}
    response = client.get("/v1/items/a/similar", headers=key)
    assert response.status_code == 503
    assert "is refused" in response.json()["detail"]


def test_an_index_without_a_recorded_checksum_is_a_503(store: tuple[Engine, Settings],
                                                       tmp_path: Path) -> None:
    engine, settings = store
    active_recommender_with_index(engine, tmp_path, record=False)
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="shop")}
    response = client.get("/v1/items/a/similar", headers=key)
    assert response.status_code == 503
    assert response.json()["detail"] == (
        "the item index of recommender v1 is refused: no checksum is recorded for it in the "
        "database; rebuild it with `sentrec publish`")


def test_alerts_are_filtered_paginated_and_detailed(store: tuple[Engine, Settings]) -> None:
    engine, settings = store
    now = datetime(2024, 5, 1, tzinfo=UTC)
    evidence = [{"doc_kind": "message", "doc_id": 1, "text": "worst delay ever", "score": -0.9,
                 "highlights": [["worst", 0.6], ["delay", 0.3]],
                 "highlighted_by": "integrated-gradients"}]
    with engine.begin() as connection:
        for n, (entity, severity) in enumerate([("United", 80), ("Delta", 30),
                                                ("United", 55)]):
            connection.execute(insert(Alert), {
                "dedup_key": f"k{n}", "entity": entity, "topic": None, "window": "hour",
                "window_start": now, "window_end": now, "metric": "negative_share",
                "observed": 0.8, "baseline": 0.4, "z": 4.0, "severity": severity,
                "volume": 40, "evidence": json.dumps(evidence), "detector": "robust",
                "model_version_id": None, "status": "open", "created_at": now,
                "updated_at": now})
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="risk")}
    page = client.get("/v1/alerts?entity=United&limit=1", headers=key).json()
    assert page["total"] == 2 and [a["severity"] for a in page["items"]] == [80]
    page = client.get("/v1/alerts?min_severity=50&offset=1", headers=key).json()
    assert [a["severity"] for a in page["items"]] == [55]
    first = page["items"][0]["id"]
    detail = client.get(f"/v1/alerts/{first}", headers=key).json()
    assert detail["evidence"][0]["highlights"][0] == ["worst", 0.6]
    assert detail["evidence"][0]["highlighted_by"] == "integrated-gradients"
    assert client.get("/v1/alerts/999", headers=key).status_code == 404
    # Entity names match whatever their case; a name that matches none says which exist.
    assert client.get("/v1/alerts?entity=united", headers=key).json()["total"] == 2
    none = client.get("/v1/alerts?entity=jetblue", headers=key).json()
    assert (none["total"], none["entities"]) == (0, ["Delta", "United"])
    assert client.get("/v1/alerts", headers=key).json()["entities"] is None


def test_the_service_cannot_write(store: tuple[Engine, Settings]) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    _, settings = store
    app = create_app(settings)
    with pytest.raises(OperationalError, match="readonly"), app.state.engine.begin() as conn:
        conn.execute(text("DELETE FROM events"))


def test_recommendation_reader_on_each_backend(engine: Engine) -> None:
    """The hot read: raw sqlite3 on the event loop for SQLite, the pooled engine elsewhere."""
    import asyncio

    from service.db import RecommendationReader, make_readonly_engine

    readonly = make_readonly_engine(engine.url.render_as_string(hide_password=False)) \
        if engine.dialect.name == "sqlite" else engine
    reader = RecommendationReader(readonly)
    try:
        assert asyncio.run(reader.lookup("u1", 3)).set_id is None
        publish(engine)
        found = asyncio.run(reader.lookup("u1", 3))
        assert not found.cold_start and found.set_id is not None
        assert [(i.rank, i.item_id) for i in found.items] == [(1, "i1"), (2, "i2"), (3, "i3")]
        cold = asyncio.run(reader.lookup("stranger", 2))
        assert cold.cold_start and cold.set_id == found.set_id
        assert [i.reason for i in cold.items] == ["recent-popularity"] * 2
    finally:
        reader.close()


def test_a_user_keyed_by_email_is_found_by_that_email(store: tuple[Engine, Settings]) -> None:
    """The store holds the pseudonym of a PII-holding user id (ingest), so the lookup maps the
    id a caller sends the same way; the answer never holds the email."""
    engine, settings = store
    set_id = create_set(engine=engine, model_version_id=None, k=2)
    write_recommendations(engine=engine, set_id=set_id, frame=pl.DataFrame(
        [(pseudonym("jane.doe@example.com"), 1, "i7", 0.9, None),
         (COLD_START_USER, 1, "pop1", 1.0, "recent-popularity")],
        schema=["user_id", "rank", "item_id", "score", "reason"], orient="row"))
    activate_set(engine=engine, set_id=set_id)
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="shop")}
    response = client.get("/v1/users/jane.doe@example.com/recommendations", headers=key)
    assert response.json()["cold_start"] is False
    assert [i["item_id"] for i in response.json()["items"]] == ["i7"]
    assert response.json()["user_id"] == pseudonym("jane.doe@example.com")
    assert "jane.doe" not in response.text
