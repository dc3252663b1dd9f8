"""Dependencies of the API routes: a read-only connection and the API-key check."""

from __future__ import annotations

import time
from threading import Lock
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from storage.apikeys import hash_key, key_is_valid

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="A key made with `sentrec apikey create NAME`.")


class KeyCache:
    """Valid key hashes remembered for a short time, so a lookup costs no extra query.

    A revoked key stops working within ``ttl_seconds``.
    """

    def __init__(self, ttl_seconds: float = 30.0) -> None:
        self._ttl = ttl_seconds
        self._valid: dict[str, float] = {}
        self._lock = Lock()

    async def check(self, engine: Engine, key: str) -> bool:
        digest = hash_key(key)
        now = time.monotonic()
        with self._lock:
            if self._valid.get(digest, 0.0) > now:
                return True
        if not await run_in_threadpool(self._in_store, engine, key):
            return False
        with self._lock:
            self._valid[digest] = now + self._ttl
        return True

    @staticmethod
    def _in_store(engine: Engine, key: str) -> bool:
        with engine.connect() as connection:
            return key_is_valid(connection=connection, key=key)


async def require_key(request: Request,
                      key: Annotated[str | None, Security(api_key_header)]) -> None:
    """Refuse a request without a valid X-API-Key before any data is read.

    A remembered key costs a hash and no thread hand-off; only a new one reads the store.
    """
    if not key or not await request.app.state.keys.check(request.app.state.engine, key):
        raise HTTPException(status_code=401, detail="missing or invalid X-API-Key header")


def engine_of(request: Request) -> Engine:
    """The service's read-only engine.

    Routes open and close their connection inside their own body: a generator dependency
    holding a pooled connection across FastAPI's thread hand-offs can exhaust the pool under
    load (every worker thread waits for a connection that a finished request still holds).
    """
    engine: Engine = request.app.state.engine
    return engine


ReadOnly = Annotated[Engine, Depends(engine_of)]
