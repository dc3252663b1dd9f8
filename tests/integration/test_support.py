"""The support assistant end to end: threads ingested, indexed, then asked through the
registry-checked index, by the API (key rules, privacy) and by ``sentrec suggest``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from domain.records import Stream
from domain.settings import Settings
from flows.index_conversations import index_conversation_pairs, index_due
from flows.ingest import ingest_file
from service.app import create_app
from storage.apikeys import create_key
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.registry import SUPPORT_INDEX, active_version
from storage.schema import Message
from tests.helpers import support_threads_file

PII_EMAIL = "jane.roe@example.com"
PII_PHONE = "+44 20 7946 0958"


def test_index_pipeline_registers_a_live_checked_index(engine: Engine, tmp_path: Path) -> None:
    assert index_due(engine) is False
    ingest_file(engine=engine, stream=Stream.MESSAGES, fmt="twcs",
                path=support_threads_file(tmp_path / "twcs.csv"))
    assert index_due(engine) is True
    built = index_conversation_pairs(engine=engine, index_dir=tmp_path / "support")
    live = active_version(engine=engine, name=SUPPORT_INDEX)
    assert live is not None and live.version == built.version == 1
    assert (built.pairs, built.brands) == (6, 3)
    assert live.index_sha256 is not None and live.artifact_path == built.path
    assert index_due(engine) is False


@pytest.fixture
def indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Engine, Settings]:
    """A SQLite store under SENTREC_HOME with the sample threads indexed."""
    home = tmp_path / "home"
    monkeypatch.setenv("SENTREC_HOME", str(home))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    settings = Settings()
    home.mkdir()
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    ingest_file(engine=engine, stream=Stream.MESSAGES, fmt="twcs",
                path=support_threads_file(tmp_path / "twcs.csv"))
    index_conversation_pairs(engine=engine, index_dir=home / "support")
    return engine, settings


def test_route_needs_a_key_and_answers_with_grouped_cases(
        indexed: tuple[Engine, Settings]) -> None:
    engine, settings = indexed
    client = TestClient(create_app(settings))
    body = {"text": "I lost my suitcase", "entity": "delta", "k": 2}
    assert client.post("/v1/support/suggest", json=body).status_code == 401
    assert client.post("/v1/support/suggest", json=body,
                       headers={"X-API-Key": "sr_wrong"}).status_code == 401
    key = {"X-API-Key": create_key(engine=engine, name="desk")}
    answer = client.post("/v1/support/suggest", json=body, headers=key).json()
    assert (answer["entity"], answer["emotion"]) == ("Delta", None)
    assert answer["suggestions"][0]["reply"].startswith("Sorry about your bag!")
    assert len(answer["suggestions"][0]["cases"]) == 2
    unknown = client.post("/v1/support/suggest", json=body | {"entity": "Ryanair"},
                          headers=key)
    assert unknown.status_code == 404
    assert "known entities: AppleSupport, Delta, SpotifyCares" in unknown.json()["detail"]
    assert "/v1/support/suggest" in client.get("/openapi.json").json()["paths"]


def test_oversized_or_bad_bodies_are_refused_without_echoing_them(
        indexed: tuple[Engine, Settings]) -> None:
    engine, settings = indexed
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="desk")}
    long = client.post("/v1/support/suggest", json={"text": PII_EMAIL * 1_000}, headers=key)
    assert long.status_code == 413
    bad = client.post("/v1/support/suggest", json={"text": f"mail {PII_EMAIL}", "k": 99},
                      headers=key)
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("k: Input should be less than or equal to 20")
    assert PII_EMAIL not in bad.text


def test_pii_in_a_query_is_never_stored_logged_or_returned(
        indexed: tuple[Engine, Settings], caplog: pytest.LogCaptureFixture) -> None:
    engine, settings = indexed
    client = TestClient(create_app(settings))
    key = {"X-API-Key": create_key(engine=engine, name="desk")}
    with engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(Message)).scalar_one()
    caplog.set_level(logging.DEBUG)
    answer = client.post("/v1/support/suggest", headers=key, json={
        "text": f"my bag is lost, call {PII_PHONE} or mail {PII_EMAIL}"})
    assert answer.status_code == 200
    for secret in (PII_EMAIL, PII_PHONE):
        assert secret not in caplog.text and secret not in answer.text
        assert secret.encode() not in (settings.home / "sentrec.db").read_bytes()
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Message)).scalar_one() \
            == before


def test_suggest_before_any_index_is_a_one_line_hint(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.cli import app

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["suggest", "my bag is lost"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: no support case index yet: run `sentrec index-conversations` after ingesting "
        "answered threads (`sentrec demo` does both)"]


def test_suggest_prints_replies_and_names_known_entities(
        indexed: tuple[Engine, Settings]) -> None:
    from flows.cli import app

    runner = CliRunner()
    found = runner.invoke(app, ["suggest", "my iphone battery is dying", "--entity",
                                "APPLESUPPORT", "--k", "1"])
    assert found.exit_code == 0, found.output
    assert "emotion: no sentiment model is live yet" in found.output
    assert "Let's look at your battery" in found.output
    assert "Sorry about your bag" not in found.output
    unknown = runner.invoke(app, ["suggest", "hello", "--entity", "Ryanair"])
    assert unknown.exit_code == 2
    assert "known entities: AppleSupport, Delta, SpotifyCares" in unknown.output
