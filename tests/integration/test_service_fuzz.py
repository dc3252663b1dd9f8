"""Property-based requests from the OpenAPI spec (schemathesis): no input makes a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import schemathesis
from hypothesis import HealthCheck, given, settings

from domain.settings import Settings
from models.index import build_index, save_index
from service.app import create_app
from storage.apikeys import create_key
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.recsets import (
    COLD_START_USER,
    activate_set,
    create_set,
    write_recommendations,
)
from storage.registry import promote_if_better, register_version, set_index_sha256


def test_no_request_makes_a_server_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    set_id = create_set(engine=engine, model_version_id=None, k=3)
    write_recommendations(engine=engine, set_id=set_id, frame=pl.DataFrame(
        [(user, r, f"i{r}", 1.0, None) for user in ("u1", COLD_START_USER) for r in (1, 2, 3)],
        orient="row", schema=["user_id", "rank", "item_id", "score", "reason"]))
    activate_set(engine=engine, set_id=set_id)
    key = {"X-API-Key": create_key(engine=engine, name="fuzz")}
    artifact = tmp_path / "recommender.pt"
    version = register_version(engine=engine, name="recommender", eval_set="e",
                               primary_metric="ndcg", metrics={"ndcg": 0.1}, params={},
                               artifact_path=str(artifact), sha256="0" * 64)
    promote_if_better(engine=engine, version_id=version.id)
    digest = save_index(build_index(np.eye(3, dtype=np.float32), ["i1", "i2", "i3"],
                                    model_version_id=version.id), artifact.with_suffix(".faiss"))
    set_index_sha256(engine=engine, version_id=version.id, sha256=digest)
    app = create_app(Settings(home=tmp_path, database_url=url))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7  # the support route included

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            with_key = case.call(headers=key)
            # This store has no support case index: that route's honest answer is 503.
            not_ready = case.path == "/v1/support/suggest" and with_key.status_code == 503
            assert with_key.status_code < 500 or not_ready, (case.path, with_key.text)
            if case.path.startswith("/v1/"):
                assert case.call().status_code == 401

        check()
