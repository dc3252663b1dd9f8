"""Secrets stay in the environment: never in deployment or flow-run parameters; ``deploy``
refuses to start without a server that stays up or a database it can reach."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from domain.settings import Settings
from storage.engine import make_engine
from tests.conftest import POSTGRES_URL

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "S3cretPw-probe"


def sentrec(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SENTREC_"))}
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=300,
                          env={**clean, "SENTREC_HOME": str(home), "PYTHONPATH": str(REPO),
                               **env})


def test_deployments_carry_no_settings_and_no_secret(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    from flows.daily import deployments

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path))
    monkeypatch.setenv("SENTREC_DATABASE_URL",
                       f"postgresql://sentrec:{PASSWORD}@db.internal:5432/sentrec")
    items = deployments(Settings())
    assert {d.name: d.parameters for d in items} == {"daily": {}, "monitor": {}}
    assert all(PASSWORD not in d.model_dump_json() for d in items)


def test_a_settings_dump_never_shows_the_password() -> None:
    settings = Settings(database_url=f"postgresql://sentrec:{PASSWORD}@db:5432/sentrec")
    assert PASSWORD not in settings.model_dump_json()
    assert PASSWORD not in repr(settings)
    assert settings.resolved_database_url.endswith(f":{PASSWORD}@db:5432/sentrec")


def test_deploy_refuses_without_a_prefect_server(tmp_path: Path) -> None:
    result = sentrec(tmp_path / "home", "deploy")
    assert result.returncode == 2
    assert result.stdout.strip().startswith(
        "error: deploy needs a Prefect server that stays up: start one with `prefect server "
        "start` and set PREFECT_API_URL")


def test_deploy_refuses_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    result = sentrec(tmp_path / "home", "deploy",
                     PREFECT_API_URL="http://127.0.0.1:9/api",
                     SENTREC_DATABASE_URL=f"postgresql://sentrec:{PASSWORD}@127.0.0.1:1/x")
    assert result.returncode == 2
    assert "error: cannot reach the database" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.skipif(POSTGRES_URL is None, reason="needs SENTREC_TEST_DATABASE_URL")
def test_a_flow_run_keeps_no_password_in_prefects_state(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    user, _, rest = POSTGRES_URL.removeprefix("postgresql://").partition("@")
    url = f"postgresql://{user.split(':')[0]}:{PASSWORD}@{rest}?options=-csearch_path%3D{schema}"
    home = tmp_path / "home"
    events = tmp_path / "e.csv"
    events.write_text("event_id,user_id,item_id,kind,occurred_at\ne1,u1,i1,view,2024-01-01\n",
                      encoding="utf-8")
    try:
        assert sentrec(home, "db", "upgrade", SENTREC_DATABASE_URL=url).returncode == 0
        ingested = sentrec(home, "ingest", "events", str(events), SENTREC_DATABASE_URL=url)
        assert ingested.returncode == 0, ingested.stdout + ingested.stderr
        found = [p.name for p in (home / "prefect").rglob("*")
                 if p.is_file() and PASSWORD.encode() in p.read_bytes()]
        assert found == []
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
