"""Publishing recommendation sets: whole sets only, atomic activation, retention, API keys."""

from __future__ import annotations

import threading

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from storage.apikeys import create_key, key_is_valid, revoke_key
from storage.recsets import (
    activate_set,
    create_set,
    discard_set,
    recommendations_for,
    write_recommendations,
)
from storage.schema import Recommendation, RecommendationSet


def ranked(tag: str, users: int, k: int) -> pl.DataFrame:
    rows = [(f"u{u}", r + 1, f"{tag}-i{r}", 1.0 / (r + 1), None)
            for u in range(users) for r in range(k)]
    return pl.DataFrame(rows, schema=["user_id", "rank", "item_id", "score", "reason"],
                        orient="row")


def publish(engine: Engine, tag: str, users: int = 50, k: int = 10) -> int:
    set_id = create_set(engine=engine, model_version_id=None, k=k)
    write_recommendations(engine=engine, set_id=set_id, frame=ranked(tag, users, k))
    activate_set(engine=engine, set_id=set_id)
    return set_id


def test_a_building_set_is_invisible_until_activated(engine: Engine) -> None:
    publish(engine, "a")
    building = create_set(engine=engine, model_version_id=None, k=10)
    write_recommendations(engine=engine, set_id=building, frame=ranked("b", 50, 10))
    with engine.connect() as connection:
        items = recommendations_for(connection=connection, user_id="u3", k=3)
    assert [i.item_id for i in items] == ["a-i0", "a-i1", "a-i2"]
    activate_set(engine=engine, set_id=building)
    with engine.connect() as connection:
        items = recommendations_for(connection=connection, user_id="u3", k=3)
    assert [i.item_id for i in items] == ["b-i0", "b-i1", "b-i2"]


def test_readers_during_publishing_see_only_whole_sets(engine: Engine) -> None:
    publish(engine, "s0")
    seen: list[set[str]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            with engine.connect() as connection:
                items = recommendations_for(connection=connection, user_id="u7", k=10)
            seen.append({i.item_id.split("-")[0] for i in items})

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for generation in range(1, 4):
            publish(engine, f"s{generation}", users=200)
    finally:
        stop.set()
        reader.join()
    assert seen and all(len(tags) == 1 for tags in seen)


def test_retention_keeps_the_newest_retired_sets(engine: Engine) -> None:
    ids = [publish(engine, f"g{n}", users=3, k=2) for n in range(5)]
    with engine.connect() as connection:
        kept = connection.execute(select(RecommendationSet.id, RecommendationSet.status)
                                  .order_by(RecommendationSet.id)).all()
        rows = connection.execute(select(func.count()).select_from(Recommendation)).scalar_one()
    assert kept == [(ids[2], "retired"), (ids[3], "retired"), (ids[4], "active")]
    assert rows == 3 * 3 * 2


def test_a_failed_publish_leaves_the_active_set_and_can_be_discarded(engine: Engine) -> None:
    active = publish(engine, "ok")
    broken = create_set(engine=engine, model_version_id=None, k=10)
    write_recommendations(engine=engine, set_id=broken, frame=ranked("half", 10, 10))
    discard_set(engine=engine, set_id=broken)
    with pytest.raises(RuntimeError, match="active and cannot be discarded"):
        discard_set(engine=engine, set_id=active)
    with engine.connect() as connection:
        items = recommendations_for(connection=connection, user_id="u1", k=1)
    assert items[0].item_id == "ok-i0"


def test_api_keys_are_checked_by_hash_and_can_be_revoked(engine: Engine) -> None:
    key = create_key(engine=engine, name="checkout")
    with pytest.raises(ValueError, match="exists already"):
        create_key(engine=engine, name="checkout")
    with engine.connect() as connection:
        assert key_is_valid(connection=connection, key=key)
        assert not key_is_valid(connection=connection, key=key + "x")
        assert not key_is_valid(connection=connection, key="' OR 1=1 --")
        stored = connection.exec_driver_sql("SELECT key_hash FROM api_keys").scalar_one()
    assert key not in stored
    assert revoke_key(engine=engine, name="checkout")
    with engine.connect() as connection:
        assert not key_is_valid(connection=connection, key=key)
