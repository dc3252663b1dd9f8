"""Shared fixtures: a migrated store on SQLite and (when configured) PostgreSQL, and a quiet, fast
Prefect test harness (settings from STACK.md). Helpers for real data and input files are in
``tests.helpers``."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Prefect reads its settings on first import, so they are fixed before any test module loads it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="sentrec-prefect-")
for _name, _value in {
    "PREFECT_HOME": _PREFECT_HOME,
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
    # WordPiece training is only reproducible on one thread: with the parallel trainer, ties
    # in the vocabulary can order differently from run to run.
    "TOKENIZERS_PARALLELISM": "false",
    # Wide enough that CLI tables print whole names in captured output.
    "COLUMNS": "200",
    **{f"PREFECT_SERVER_SERVICES_{s}_ENABLED": "false" for s in (
        "SCHEDULER", "LATE_RUNS", "FOREMAN", "REPOSSESSOR", "PAUSE_EXPIRATIONS",
        "CANCELLATION_CLEANUP", "TRIGGERS", "EVENT_PERSISTER")},
}.items():
    os.environ[_name] = _value

from sqlalchemy import Engine, text  # noqa: E402

from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

POSTGRES_URL = os.environ.get("SENTREC_TEST_DATABASE_URL")

BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A freshly migrated store: a SQLite file, or a private schema on PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(eng)
    yield eng
    eng.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for every flow test, with the heartbeat off."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), \
            prefect_test_harness(server_startup_timeout=600):
        yield
