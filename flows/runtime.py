"""Process set-up shared by the CLI and the flows: Prefect defaults, engines, logging."""

from __future__ import annotations

import logging
import os
from functools import lru_cache

from sqlalchemy import Engine

from domain.redaction import RedactingFilter
from domain.settings import Settings
from storage.engine import make_engine
from storage.migrate import current_revision, head_revision, upgrade

log = logging.getLogger(__name__)

# Prefect reads these when it is first imported, so they are set before any flow module loads.
# Each is only a default: a value already in the environment wins.
_PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
}


def configure_process(settings: Settings) -> None:
    """Point Prefect at sentrec's home and keep customer text out of every log handler."""
    os.environ.setdefault("PREFECT_HOME", str((settings.home / "prefect").resolve()))
    for name, value in _PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(RedactingFilter())
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine (and connection pool) per database URL in this process."""
    return make_engine(url)


def ready_engine(settings: Settings) -> Engine:
    """The store's engine, with its schema current.

    The default SQLite file is created and migrated on first use so that a new user's first
    command works; any other database must be migrated on purpose with ``sentrec db upgrade``.
    """
    engine = engine_for(settings.resolved_database_url)
    current, head = current_revision(engine), head_revision()
    if current == head:
        return engine
    if settings.database_url is None:
        log.info("migrating %s from %s to %s", engine.url, current or "empty", head)
        upgrade(engine)
        return engine
    raise RuntimeError(
        f"the database {engine.url.render_as_string(hide_password=True)} is at schema "
        f"revision {current or 'none'} and this sentrec needs {head}: run `sentrec db upgrade`"
    )
