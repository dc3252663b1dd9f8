"""What an operator relies on besides the lookups: docs that work offline."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from domain.settings import Settings
from service.app import create_app
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.recsets import COLD_START_USER, activate_set, create_set, write_recommendations


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

