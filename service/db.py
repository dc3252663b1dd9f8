"""Read-only database access for the lookup service."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from storage.engine import make_engine
from storage.recsets import Lookup, lookup, sql_fetch


def make_readonly_engine(url: str) -> Engine:
    """An engine that cannot write: SQLite opened read-only, PostgreSQL in read-only sessions.

    For PostgreSQL in production, also connect as a role that holds only SELECT grants.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A URI filename with mode=ro makes SQLite refuse every write on this connection.
        return make_engine(f"sqlite:///file:{parsed.database or ''}?mode=ro&uri=true",
                           pool_size=32, max_overflow=16)
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


class RecommendationReader:
    """The hot read of the service: one user's list from the active set.

    On SQLite the read is an indexed lookup of tens of microseconds, less than handing a
    request to a worker thread and back, so it runs on the event loop over one read-only
    ``sqlite3`` connection per worker process (each statement sees the latest committed set).
    Other databases are read through the pooled engine in the thread pool, so a slow network
    round trip never stalls the loop.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite: sqlite3.Connection | None = None
        path = (engine.url.database or "").removeprefix("file:")
        if engine.url.get_backend_name() == "sqlite" and path not in ("", ":memory:"):
            # Readers never wait on a writer in WAL mode; the short timeout only covers
            # SQLite's brief recovery locks, so a stuck lock cannot stall the event loop.
            self._sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0,
                                           isolation_level=None, check_same_thread=False)

    async def lookup(self, user_id: str, k: int) -> Lookup:
        if self._sqlite is not None:
            return lookup(self._fetch_sqlite, user_id=user_id, k=k)
        return await run_in_threadpool(self._lookup_engine, user_id, k)

    def _fetch_sqlite(self, sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        assert self._sqlite is not None
        return self._sqlite.execute(sql, params).fetchall()

    def _lookup_engine(self, user_id: str, k: int) -> Lookup:
        with self._engine.connect() as connection:
            return lookup(sql_fetch(connection), user_id=user_id, k=k)

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
