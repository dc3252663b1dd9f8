"""Flow ``publish-recommendations``: top-k for every user, written whole, then activated.

The active model's item vectors go into a FAISS index, every user's state queries it in batches
(a task each, on the configured task runner), business rules filter the candidates, a recent-
popularity list serves unknown users, and the whole set is activated in one transaction. A run
that fails leaves the previous set active and removes its half-written one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from prefect import flow, task, unmapped
from prefect.artifacts import create_markdown_artifact

from domain.errors import NotReadyError
from domain.ranking import RankingRules
from domain.settings import Settings
from flows.runtime import TASK_OPTIONS, ready_engine, redacted_errors, task_runner
from storage.events import version_sequences
from storage.recsets import (
    COLD_START_USER,
    activate_set,
    create_set,
    discard_set,
    write_recommendations,
)
from storage.registry import (
    RECOMMENDER,
    VersionInfo,
    active_version,
    get_version,
    set_index_sha256,
)


@dataclass(frozen=True)
class Publication:
    """The set a run published."""

    set_id: int
    users: int
    rows: int
    seconds: float
    version: int  # the recommender's version number


# Per worker process, what one version publishes from; keyed by store, version and index
# checksum, since version ids repeat across stores and an index may be rebuilt.
_CACHE: dict[tuple[str, int, str | None], tuple[Any, list[str], Any, Any]] = {}
_CACHE_LOCK = threading.Lock()


def _loaded(version: VersionInfo, settings: Settings) -> tuple[Any, list[str], Any, Any]:
    """Model, item ids, index and sequences of a version and index build, read once per worker
    process; the index is checked against the checksum the registry recorded for it."""
    from models.recommender.artifact import load_item_index, load_recommender

    key = (settings.resolved_database_url, version.id, version.index_sha256)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE.clear()
            model, item_ids = load_recommender(version.artifact_path, sha256=version.sha256)
            index = load_item_index(version.artifact_path, model_version_id=version.id,
                                    sha256=version.index_sha256, use_gpu=False)
            seqs = version_sequences(engine=ready_engine(settings), params=version.params)
            _CACHE[key] = (model, item_ids, index, seqs)
        return _CACHE[key]


@task(retries=2, retry_delay_seconds=5, task_run_name="publish-users-{start}-{end}",
      **TASK_OPTIONS)
@redacted_errors
def publish_batch(settings: Settings, version: VersionInfo, set_id: int, start: int, end: int,
                  k: int) -> int:
    """Recommend for users ``start:end`` and append them to the building set."""
    from models.recommender.publish import recommend_batch

    model, item_ids, index, seqs = _loaded(version, settings)
    frame = recommend_batch(model=model, index=index, seqs=seqs, item_ids=item_ids,
                            start=start, end=end, k=k, rules=RankingRules())
    return write_recommendations(engine=ready_engine(settings), set_id=set_id, frame=frame)


@flow(name="publish-recommendations", persist_result=False)
@redacted_errors
def publish_recommendations(settings: Settings | None = None, k: int = 100,
                            batch_users: int = 2_000, retention: int = 2) -> Publication:
    """Top-k for every user of the active model's source, written whole, then activated."""
    from models.recommender.artifact import build_item_index
    from models.recommender.publish import cold_start_rows, recent_popularity, user_batches

    settings = settings or Settings()
    engine = ready_engine(settings)
    version = active_version(engine=engine, name=RECOMMENDER)
    if version is None:
        raise NotReadyError("no recommender is active: run `sentrec train recommender` first")
    started = time.perf_counter()
    set_index_sha256(engine=engine, version_id=version.id, sha256=build_item_index(
        version.artifact_path, sha256=version.sha256, model_version_id=version.id))
    # The tasks (and the service) load the index against the checksum now in the registry.
    recorded = get_version(engine=engine, version_id=version.id)
    assert recorded is not None  # the active version; versions are never deleted
    version = recorded
    seqs = version_sequences(engine=engine, params=version.params)
    set_id = create_set(engine=engine, model_version_id=version.id, k=k)
    try:
        batches = user_batches(len(seqs.user_ids), batch_users)
        futures = publish_batch.map(unmapped(settings), unmapped(version), unmapped(set_id),
                                    [b[0] for b in batches], [b[1] for b in batches],
                                    unmapped(k))
        written = sum(f.result() for f in futures)
        write_recommendations(engine=engine, set_id=set_id,
                              frame=cold_start_rows(recent_popularity(seqs, k), COLD_START_USER))
        users = activate_set(engine=engine, set_id=set_id, retention=retention)
    except BaseException:
        # The previous set stays active; the half-written one is removed.
        discard_set(engine=engine, set_id=set_id)
        raise
    seconds = time.perf_counter() - started
    create_markdown_artifact(key="publish-recommendations", markdown=(
        f"# Recommendation set {set_id}\n\n{users:,} users x top-{k} from recommender "
        f"v{version.version} ({written:,} rows) plus a recent-popularity list for unknown "
        f"users, activated in {seconds:.1f} s."))
    return Publication(set_id, users, written, seconds, version.version)


def run_publish(settings: Settings, **kwargs: Any) -> Publication:
    """Publish on the task runner the settings name (threads, processes or Dask)."""
    result: Publication = publish_recommendations.with_options(
        task_runner=task_runner(settings))(settings=settings, **kwargs)
    return result
