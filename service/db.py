"""Read-only database access for the lookup service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from storage.engine import make_engine


def make_readonly_engine(url: str) -> Engine:
    """An engine that cannot write: SQLite opened read-only, PostgreSQL in read-only sessions.

    For PostgreSQL in production, also connect as a role that holds only SELECT grants.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        # A URI filename with mode=ro makes SQLite refuse every write on this connection.
        return make_engine(f"sqlite:///file:{database}?mode=ro&uri=true", pool_size=32,
                           max_overflow=16)
    engine = make_engine(url, pool_size=32, max_overflow=16)
    event.listen(engine, "connect", _read_only_session)
    return engine


def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi_connection.autocommit = autocommit
