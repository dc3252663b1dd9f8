"""Flows ``train-recommender`` and ``publish-recommendations``."""

from __future__ import annotations

import threading
import time
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact

from domain.ranking import RankingRules
from domain.settings import Settings
from flows.recommend import (
    build_item_index,
    index_path,
    load_model,
    load_sequences,
    recent_popularity,
    recommend_batch,
    train_recommender,
    user_batches,
    version_weights,
)
from flows.runtime import ready_engine, task_runner
from storage.recsets import (
    COLD_START_USER,
    activate_set,
    create_set,
    discard_set,
    write_recommendations,
)
from storage.registry import RECOMMENDER, VersionInfo, active_version

ANCHORS = ("Published full-ranking anchors on MovieLens-1M (NDCG@10 / HR@10): original SASRec "
           "0.126-0.134 / 0.24-0.25; gSASRec 0.173 / 0.300; SASRec+ 0.186 / 0.316.")


@flow(name="train-recommender")
def train_recommender_flow(settings: Settings | None = None, source: str | None = None,
                           max_minutes: float = 10.0, seed: int = 0,
                           weights: dict[str, float] | None = None) -> dict[str, Any]:
    """Train SASRec on one source's events; it goes live only if it beats the active model
    on the same validation split. The artifact shows it beside in-project baselines.
    ``weights`` (event kind -> weight) default to the settings' ``event_weights``."""
    from domain.sequences import leave_one_out
    from models.rec_baselines import MostPop, RecentPop
    from models.rec_eval import evaluate_split

    settings = settings or Settings()
    engine = ready_engine(settings)
    outcome = train_recommender(engine=engine, models_dir=settings.home / "models",
                                source=source, max_minutes=max_minutes, seed=seed,
                                weights=settings.event_weights if weights is None else weights,
                                device=settings.device)
    params = outcome.version.params
    split = leave_one_out(load_sequences(engine, params["source"], version_weights(params)))
    rows = [f"| SASRec v{outcome.version.version} | {outcome.metrics['valid_ndcg@10']:.4f} | "
            f"{outcome.metrics['test_ndcg@10']:.4f} | {outcome.metrics['test_hr@10']:.4f} |"]
    for name, baseline in (("MostPop", MostPop()), ("RecentPop", RecentPop())):
        fitted = baseline.fit(split.train, split.n_items)
        valid = evaluate_split(fitted.score, split, "valid", with_coverage=False)
        test = evaluate_split(fitted.score, split, "test", with_coverage=False)
        rows.append(f"| {name} | {valid.ndcg:.4f} | {test.ndcg:.4f} | {test.hit_rate:.4f} |")
    verdict = "Promoted" if outcome.promotion.promoted else "Not promoted"
    create_markdown_artifact(key="train-recommender", markdown="\n".join([
        f"# Recommender v{outcome.version.version} on `{params['source']}`", "",
        f"{outcome.epochs} epochs, {outcome.seconds_per_epoch:.1f} s each. Leave-one-out, "
        "full ranking, seen items masked.", "",
        "| model | valid NDCG@10 | test NDCG@10 | test HR@10 |", "|---|---:|---:|---:|",
        *rows, "", f"**{verdict}**: {outcome.promotion.reason}.", "", ANCHORS]))
    get_run_logger().info("recommender v%d: %s", outcome.version.version,
                          outcome.promotion.reason)
    return {"version": outcome.version.version, "promoted": outcome.promotion.promoted,
            "reason": outcome.promotion.reason, "metrics": outcome.metrics,
            "epochs": outcome.epochs, "seconds_per_epoch": outcome.seconds_per_epoch}


_CACHE: dict[int, tuple[Any, list[str], Any, Any]] = {}
_CACHE_LOCK = threading.Lock()


def _loaded(version: VersionInfo, settings: Settings) -> tuple[Any, list[str], Any, Any]:
    """Model, item ids, index and sequences of a version, read once per worker process."""
    with _CACHE_LOCK:
        return _load_locked(version, settings)


def _load_locked(version: VersionInfo, settings: Settings) -> tuple[Any, list[str], Any, Any]:
    if version.id not in _CACHE:
        from models.index import load_index

        _CACHE.clear()
        model, item_ids = load_model(version)
        index = load_index(index_path(version), model_version_id=version.id, use_gpu=False)
        seqs = load_sequences(ready_engine(settings), version.params["source"],
                              version_weights(version.params))
        _CACHE[version.id] = (model, item_ids, index, seqs)
    return _CACHE[version.id]


@task(retries=2, retry_delay_seconds=5, task_run_name="publish-users-{start}-{end}")
def publish_batch(settings: Settings, version: VersionInfo, set_id: int, start: int, end: int,
                  k: int) -> int:
    """Recommend for users ``start:end`` and append them to the building set."""
    model, item_ids, index, seqs = _loaded(version, settings)
    frame = recommend_batch(model=model, index=index, seqs=seqs, item_ids=item_ids,
                            start=start, end=end, k=k, rules=RankingRules())
    return write_recommendations(engine=ready_engine(settings), set_id=set_id, frame=frame)


@flow(name="publish-recommendations")
def publish_recommendations(settings: Settings | None = None, k: int = 100,
                            batch_users: int = 2_000, retention: int = 2) -> dict[str, Any]:
    """Top-k for every user of the active model's source, written whole, then activated."""
    import polars as pl

    settings = settings or Settings()
    engine = ready_engine(settings)
    version = active_version(engine=engine, name=RECOMMENDER)
    if version is None:
        raise RuntimeError("no recommender is active: run `sentrec train recommender` first")
    started = time.perf_counter()
    build_item_index(version)
    seqs = load_sequences(engine, version.params["source"], version_weights(version.params))
    set_id = create_set(engine=engine, model_version_id=version.id, k=k)
    try:
        batches = user_batches(len(seqs.user_ids), batch_users)
        futures = publish_batch.map(unmapped(settings), unmapped(version), unmapped(set_id),
                                    [b[0] for b in batches], [b[1] for b in batches],
                                    unmapped(k))
        written = sum(f.result() for f in futures)
        popular = recent_popularity(seqs, k)
        write_recommendations(engine=engine, set_id=set_id, frame=pl.DataFrame(
            [(COLD_START_USER, rank, item, score, "recent-popularity")
             for rank, (item, score) in enumerate(popular, start=1)], orient="row",
            schema={"user_id": pl.String, "rank": pl.Int64, "item_id": pl.String,
                    "score": pl.Float64, "reason": pl.String}))
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
    return {"set_id": set_id, "users": users, "rows": written, "seconds": seconds,
            "version": version.version}


def run_publish(settings: Settings, **kwargs: Any) -> dict[str, Any]:
    """Publish on the task runner the settings name (threads, processes or Dask)."""
    runner = task_runner(settings)
    result: dict[str, Any] = publish_recommendations.with_options(task_runner=runner)(
        settings=settings, **kwargs)
    return result
