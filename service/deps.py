"""Dependencies of the API routes: a read-only connection and the API-key check."""

from __future__ import annotations

import time
from collections.abc import Iterator
from threading import Lock
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy import Connection

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

    def check(self, connection: Connection, key: str) -> bool:
        digest = hash_key(key)
        now = time.monotonic()
        with self._lock:
            if self._valid.get(digest, 0.0) > now:
                return True
        if not key_is_valid(connection=connection, key=key):
            return False
        with self._lock:
            self._valid[digest] = now + self._ttl
        return True


def connection(request: Request) -> Iterator[Connection]:
    with request.app.state.engine.connect() as conn:
        yield conn


Conn = Annotated[Connection, Depends(connection)]


def authorized(request: Request, conn: Conn,
               key: Annotated[str | None, Security(api_key_header)]) -> Connection:
    """The request's connection, once its X-API-Key has been checked."""
    if not key or not request.app.state.keys.check(conn, key):
        raise HTTPException(status_code=401, detail="missing or invalid X-API-Key header")
    return conn


Authorized = Annotated[Connection, Depends(authorized)]
