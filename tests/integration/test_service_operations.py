"""What an operator relies on besides the lookups: docs that work offline, Prometheus metrics
without a key, and one access line per request that never holds the key."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from domain.settings import Settings
from models.index import build_index, save_index
from service.app import create_app
from storage.apikeys import create_key
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.recsets import COLD_START_USER, activate_set, create_set, write_recommendations
from storage.registry import promote_if_better, register_version, set_index_sha256


@pytest.fixture
def store(tmp_path: Path) -> tuple[Engine, Settings]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    return engine, Settings(home=tmp_path, database_url=url)


def publish(engine: Engine) -> int:
    set_id = create_set(engine=engine, model_version_id=None, k=2)
    write_recommendations(engine=engine, set_id=set_id, frame=pl.DataFrame(
        [(user, r, f"i{r}", 1.0, None) for user in ("u1", COLD_START_USER) for r in (1, 2)],
        orient="row", schema=["user_id", "rank", "item_id", "score", "reason"]))
    activate_set(engine=engine, set_id=set_id)
    return set_id


def test_docs_load_only_local_assets_and_each_answers(store: tuple[Engine, Settings]) -> None:
    _, settings = store
    client = TestClient(create_app(settings))
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]*)"', page.text) + re.findall(r"url: '([^']*)'",
                                                                          page.text)
    assert sorted(urls) == ["/docs/assets/favicon-32x32.png", "/docs/assets/swagger-ui-bundle.js",
                            "/docs/assets/swagger-ui.css", "/openapi.json"]
    assert "http://" not in page.text and "https://" not in page.text
    assert '"validatorUrl": null' in page.text  # Swagger UI would ask validator.swagger.io
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert client.get("/redoc").status_code == 404  # ReDoc's script only comes from a CDN


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page by name and sorted labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def requests(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], route: str,
             status: str, suffix: str = "_total") -> float:
    name = ("sentrec_http_requests" if suffix == "_total"
            else "sentrec_http_request_duration_seconds") + suffix
    return values.get((name, (("method", "GET"), ("route", route), ("status", status))), 0.0)


def test_metrics_need_no_key_and_count_by_route_template(store: tuple[Engine, Settings]) -> None:
    engine, settings = store
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="shop")}
    empty = client.get("/metrics")
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("text/plain; version=")
    values = samples(empty.text)
    assert values[("sentrec_active_set_id", ())] == 0
    assert ("sentrec_active_set_age_seconds", ()) not in values
    assert values[("sentrec_item_index_loaded", ())] == 0

    set_id = publish(engine)
    for user in ("u1", "alice-7", "bob"):
        assert client.get(f"/v1/users/{user}/recommendations", headers=key).status_code == 200
    assert client.get("/v1/users/u1/recommendations").status_code == 401
    assert client.get("/v1/users/u1/recommendations?k=0", headers=key).status_code == 422
    assert client.get("/nowhere").status_code == 404
    page = client.get("/metrics").text
    values = samples(page)
    route = "/v1/users/{user_id}/recommendations"
    assert [requests(values, route, s) for s in ("200", "401", "422")] == [3, 1, 1]
    assert requests(values, route, "200", "_count") == 3
    assert requests(values, "unmatched", "404") == 1
    assert requests(values, "/metrics", "200") == 1
    assert values[("sentrec_active_set_id", ())] == set_id
    assert 0 <= values[("sentrec_active_set_age_seconds", ())] < 60
    assert "alice-7" not in page and "bob" not in page  # labels are templates, never ids


def test_the_index_gauge_follows_the_similar_items_route(store: tuple[Engine, Settings],
                                                         tmp_path: Path) -> None:
    engine, settings = store
    artifact = tmp_path / "recommender.pt"
    version = register_version(engine=engine, name="recommender", eval_set="e",
                               primary_metric="ndcg", metrics={"ndcg": 0.1}, params={},
                               artifact_path=str(artifact), sha256="0" * 64)
    promote_if_better(engine=engine, version_id=version.id)
    index = artifact.with_suffix(".faiss")
    digest = save_index(build_index(np.eye(3, dtype=np.float32), ["i1", "i2", "i3"],
                                    model_version_id=version.id), index)
    set_index_sha256(engine=engine, version_id=version.id, sha256=digest)
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="shop")}
    loaded = ("sentrec_item_index_loaded", ())
    assert samples(client.get("/metrics").text)[loaded] == 0
    assert client.get("/v1/items/i1/similar", headers=key).status_code == 200
    assert samples(client.get("/metrics").text)[loaded] == 1
    index.write_bytes(b"not the recorded index")
    assert client.get("/v1/items/i1/similar", headers=key).status_code == 503
    assert samples(client.get("/metrics").text)[loaded] == 0


def test_one_access_line_per_request_and_never_the_key(store: tuple[Engine, Settings],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    engine, settings = store
    publish(engine)
    key = create_key(engine=engine, name="shop")
    client = TestClient(create_app(settings))
    with caplog.at_level(logging.INFO, logger="service.access"):
        client.get("/v1/users/u1/recommendations?k=2", headers={"X-API-Key": key})
        client.get("/v1/users/u1/recommendations", headers={"X-API-Key": "sr_wrong"})
        client.get("/v1/users/ann@example.com/recommendations", headers={"X-API-Key": key})
        client.get("/v1/users/x%0AGET%20/forged%20200/recommendations")
    lines = [r.getMessage() for r in caplog.records if r.name == "service.access"]
    assert len(lines) == 4
    assert re.fullmatch(r"GET /v1/users/u1/recommendations\?k=2 200 \d+\.\d\d ms", lines[0])
    assert re.fullmatch(r"GET /v1/users/u1/recommendations 401 \d+\.\d\d ms", lines[1])
    assert re.fullmatch(r"GET /v1/users/\[EMAIL\]/recommendations 200 \d+\.\d\d ms", lines[2])
    assert lines[3].startswith(r"GET /v1/users/x\nGET /forged 200/recommendations 404 ")
    assert "\n" not in "".join(lines)
    assert key not in caplog.text and "sr_wrong" not in caplog.text
