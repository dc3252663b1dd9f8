"""API keys of the lookup service: shown once when made, stored only as sha256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from domain.errors import ConflictError
from storage.schema import ApiKey

PREFIX = "sr_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(*, engine: Engine, name: str) -> str:
    """Make a new key called ``name`` and return it; it cannot be shown again."""
    key = PREFIX + secrets.token_urlsafe(32)
    try:
        with engine.begin() as connection:
            connection.execute(insert(ApiKey), {"name": name, "key_hash": hash_key(key),
                                                "prefix": key[:10],
                                                "created_at": datetime.now(UTC)})
    except IntegrityError as exc:
        raise ConflictError(f"an API key named {name!r} exists already; choose another name "
                         "or revoke it first") from exc
    return key


def revoke_key(*, engine: Engine, name: str) -> bool:
    with engine.begin() as connection:
        result = connection.execute(update(ApiKey).where(ApiKey.name == name,
                                                         ApiKey.revoked_at.is_(None))
                                    .values(revoked_at=datetime.now(UTC)))
    return bool(result.rowcount)


def key_is_valid(*, connection: Connection, key: str) -> bool:
    """True for a key that exists and is not revoked (compared by hash)."""
    if not key.startswith(PREFIX):
        return False
    found = connection.execute(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key),
                                                       ApiKey.revoked_at.is_(None))).first()
    return found is not None
