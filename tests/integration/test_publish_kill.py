"""A publisher killed midway leaves the previous set active and readable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
from sqlalchemy import func, select

from storage.engine import make_engine
from storage.migrate import upgrade
from storage.recsets import activate_set, create_set, recommendations_for, write_recommendations
from storage.schema import Recommendation, RecommendationSet

REPO = Path(__file__).resolve().parent.parent

SLOW_PUBLISHER = """
import sys, time
import polars as pl
from storage.engine import make_engine
from storage.recsets import activate_set, create_set, write_recommendations
engine = make_engine(sys.argv[1])
set_id = create_set(engine=engine, model_version_id=None, k=3)
for batch in range(50):
    rows = [(f"u{u}", r, f"new{r}", 1.0, None) for u in range(batch * 10, batch * 10 + 10)
            for r in range(1, 4)]
    write_recommendations(engine=engine, set_id=set_id, frame=pl.DataFrame(
        rows, orient="row", schema=["user_id", "rank", "item_id", "score", "reason"]))
    time.sleep(0.2)
activate_set(engine=engine, set_id=set_id)
"""


def test_killing_a_publisher_keeps_the_previous_set(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    old = create_set(engine=engine, model_version_id=None, k=3)
    write_recommendations(engine=engine, set_id=old, frame=pl.DataFrame(
        [("u1", r, f"old{r}", 1.0, None) for r in range(1, 4)], orient="row",
        schema=["user_id", "rank", "item_id", "score", "reason"]))
    activate_set(engine=engine, set_id=old)
    publisher = subprocess.Popen([sys.executable, "-c", SLOW_PUBLISHER, url], cwd=REPO,
                                 env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    building_rows = 0
    while building_rows == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        with engine.connect() as connection:
            building_rows = connection.execute(
                select(func.count()).select_from(Recommendation)
                .where(Recommendation.set_id != old)).scalar_one()
    publisher.send_signal(signal.SIGKILL)
    publisher.wait(timeout=30)
    assert building_rows > 0, "the publisher never wrote a row"
    with engine.connect() as connection:
        statuses = dict(connection.execute(select(RecommendationSet.id,
                                                  RecommendationSet.status)).all())
        items = recommendations_for(connection=connection, user_id="u1", k=3)
    assert statuses[old] == "active"
    assert sorted(s for i, s in statuses.items() if i != old) == ["building"]
    assert [i.item_id for i in items] == ["old1", "old2", "old3"]
    # The next publish goes through as usual and clears the killed one's half-written set.
    new = create_set(engine=engine, model_version_id=None, k=3)
    write_recommendations(engine=engine, set_id=new, frame=pl.DataFrame(
        [("u1", 1, "next", 1.0, None)], orient="row",
        schema=["user_id", "rank", "item_id", "score", "reason"]))
    activate_set(engine=engine, set_id=new)
    with engine.connect() as connection:
        assert [i.item_id for i in recommendations_for(connection=connection, user_id="u1",
                                                       k=3)] == ["next"]
        statuses = dict(connection.execute(select(RecommendationSet.id,
                                                  RecommendationSet.status)).all())
        orphans = connection.execute(select(func.count()).select_from(Recommendation).where(
            Recommendation.set_id.not_in([old, new]))).scalar_one()
    assert statuses == {old: "retired", new: "active"} and orphans == 0
