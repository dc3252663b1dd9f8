"""Flow ``train-recommender``: SASRec on one source's events; live only if it wins.

The events of one source become per-user sequences (time order, file order for ties) of the
kinds the event weights keep, each event carrying its kind's weight, split leave-one-out;
SASRec trains on the prefixes, each position's loss weighted by its target event, and
early-stops on validation NDCG@10 (unweighted), the metric champion and challenger are compared
on, user by user (``flows.promotion``). The time budget runs from loading the events to the
decision. The run's artifact shows it beside in-project baselines measured on the same split.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import Engine

from domain.errors import NotReadyError
from domain.sequences import (
    DEFAULT_EVENT_WEIGHTS,
    LeaveOneOutSplit,
    check_event_weights,
    eval_set_name,
    leave_one_out,
)
from domain.settings import Settings
from flows.promotion import DEFAULT_RULE, Candidate, PromotionRule, register_and_promote
from flows.runtime import ready_engine, redacted_errors
from storage.events import load_sequences, pick_source
from storage.registry import RECOMMENDER, Promotion, VersionInfo, active_version

log = logging.getLogger(__name__)

PRIMARY_METRIC = "valid_ndcg@10"
ANCHORS = ("Published full-ranking anchors on MovieLens-1M (NDCG@10 / HR@10): original SASRec "
           "0.126-0.134 / 0.24-0.25; gSASRec 0.173 / 0.300; SASRec+ 0.186 / 0.316.")


@dataclass(frozen=True)
class RecommenderTraining:
    """What a training run produced and decided."""

    version: VersionInfo
    promotion: Promotion
    metrics: dict[str, float]
    epochs: int
    seconds_per_epoch: float
    baselines: dict[str, dict[str, float]]  # name -> valid/test NDCG@10, test HR@10
    best_epoch: int
    stop_reason: str  # why the training loop ended: time budget, early stopping, max epochs
    seconds: float  # the whole run, from loading the events to the decision


def train_recommender(*, engine: Engine, models_dir: Path, source: str | None = None,
                      weights: Mapping[str, float] | None = None, max_minutes: float = 10.0,
                      seed: int = 0, config: dict[str, Any] | None = None,
                      device: str = "auto",
                      rule: PromotionRule = DEFAULT_RULE) -> RecommenderTraining:
    """Train SASRec on one source's events within ``max_minutes``, register it, and promote it
    if it beats the champion beyond noise (``rule``).

    ``weights`` (kind -> weight, default ``DEFAULT_EVENT_WEIGHTS``) picks the event kinds and
    weighs each position's training loss; it is stored with the version. ``config`` overrides
    fields of the model shape the recipe picks.
    """
    from domain.bootstrap import MarginInterval, mean_margin
    from domain.metrics import ndcg_per_user
    from models.device import cpu_has_fast_bf16
    from models.recommender.artifact import load_recommender, save_recommender
    from models.recommender.evaluate import SASRecScorer, catalogue_mapped, evaluate_split
    from models.recommender.train import train_with_recipe

    started = time.perf_counter()
    weights = check_event_weights(DEFAULT_EVENT_WEIGHTS if weights is None else weights)
    source = pick_source(engine=engine, source=source)
    seqs = load_sequences(engine=engine, source=source, weights=weights)
    split = leave_one_out(seqs)
    if len(split.users) == 0:
        raise NotReadyError(f"no user of {source!r} has the 3 events leave-one-out needs")
    # After training: the test evaluation, two baselines on both stages, the champion's and
    # the challenger's per-user validation, each about one validation run.
    reserve = 7 + (active_version(engine=engine, name=RECOMMENDER) is not None)
    run = train_with_recipe(split, max_seconds=max(0.0, max_minutes * 60 - (time.perf_counter()
                                                                            - started)),
                            seed=seed, device=device, bf16_matmul=cpu_has_fast_bf16(),
                            overrides=config, reserve_evals=reserve)
    log.info("recommender: %s (%s)", run.recipe.regime, "; ".join(run.recipe.notes))
    test = evaluate_split(SASRecScorer(run.model), split, "test")
    metrics = {PRIMARY_METRIC: float(run.result.best_metric), "test_ndcg@10": float(test.ndcg),
               "test_hr@10": float(test.hit_rate), "users": float(len(seqs.user_ids)),
               "items": float(seqs.n_items), "epochs_run": float(run.result.epochs_run),
               "best_epoch": float(run.result.best_epoch), "steps": float(run.result.steps),
               "train_seconds": run.result.seconds_total}
    baselines = _baselines(split)
    models_dir.mkdir(parents=True, exist_ok=True)
    # Absolute, so the registry's path means the same file from any working directory.
    path = models_dir.resolve() / f"recommender-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.pt"
    sha256 = save_recommender(path, model=run.model, item_ids=seqs.item_ids, source=source,
                              weights=weights, metrics=metrics)

    def compare(champion: VersionInfo) -> MarginInterval:
        """The validation NDCG@10 margin over the champion on today's split, paired by user
        (the champion's catalogue mapped onto ours)."""
        model, champion_items = load_recommender(champion.artifact_path, sha256=champion.sha256)
        scorer = catalogue_mapped(SASRecScorer(model), champion_items, seqs.item_ids)
        ours = evaluate_split(SASRecScorer(run.model), split, "valid", with_coverage=False)
        theirs = evaluate_split(scorer, split, "valid", with_coverage=False)
        return mean_margin(ndcg_per_user(ours.ranks, 10), ndcg_per_user(theirs.ranks, 10),
                           resamples=rule.resamples, level=rule.level, unit="users")

    promotion = register_and_promote(engine=engine, compare=compare, candidate=Candidate(
        name=RECOMMENDER, eval_set=eval_set_name(source, seqs), primary_metric=PRIMARY_METRIC,
        metrics=metrics, artifact_path=str(path), sha256=sha256,
        params={"source": source, "weights": weights, "seed": seed,
                "max_minutes": max_minutes, "stop_reason": run.result.stop_reason,
                **run.config.__dict__, **run.recipe.training_params()}))
    return RecommenderTraining(promotion.candidate, promotion, promotion.candidate.metrics,
                               run.result.epochs_run, run.result.seconds_per_epoch, baselines,
                               run.result.best_epoch, run.result.stop_reason,
                               time.perf_counter() - started)


def _baselines(split: LeaveOneOutSplit) -> dict[str, dict[str, float]]:
    """MostPop and RecentPop on the same split, for the artifact's table."""
    from models.recommender.baselines import MostPop, RecentPop
    from models.recommender.evaluate import evaluate_split

    found = {}
    for name, baseline in (("MostPop", MostPop()), ("RecentPop", RecentPop())):
        fitted = baseline.fit(split.train, split.n_items)
        valid = evaluate_split(fitted.score, split, "valid", with_coverage=False)
        test = evaluate_split(fitted.score, split, "test", with_coverage=False)
        found[name] = {PRIMARY_METRIC: valid.ndcg, "test_ndcg@10": test.ndcg,
                       "test_hr@10": test.hit_rate}
    return found


@flow(name="train-recommender", persist_result=False)
@redacted_errors
def train_recommender_flow(settings: Settings | None = None, source: str | None = None,
                           max_minutes: float | None = None, seed: int = 0,
                           weights: dict[str, float] | None = None) -> RecommenderTraining:
    """Train SASRec on one source's events within ``max_minutes`` (default: the
    ``recommender_train_minutes`` setting); it goes live only if it beats the active model
    beyond noise on the same validation split. ``weights`` (event kind -> weight) default to
    the settings' ``event_weights``."""
    from models.device import use_threads

    settings = settings or Settings()
    use_threads(settings.torch_threads)
    outcome = train_recommender(engine=ready_engine(settings), models_dir=settings.home / "models",
                                source=source, seed=seed, device=settings.device,
                                max_minutes=settings.recommender_train_minutes
                                if max_minutes is None else max_minutes,
                                weights=settings.event_weights if weights is None else weights,
                                rule=PromotionRule.from_settings(settings))
    rows = [(f"SASRec v{outcome.version.version}", outcome.metrics),
            *outcome.baselines.items()]
    verdict = "Promoted" if outcome.promotion.promoted else "Not promoted"
    create_markdown_artifact(key="train-recommender", markdown="\n".join([
        f"# Recommender v{outcome.version.version} on `{outcome.version.params['source']}`",
        "",
        f"{outcome.epochs} epochs, {outcome.seconds_per_epoch:.1f} s each, stopped by "
        f"{outcome.stop_reason}; {outcome.seconds:.0f} s in all. Leave-one-out, full ranking, "
        "seen items masked.", "",
        "| model | valid NDCG@10 | test NDCG@10 | test HR@10 |", "|---|---:|---:|---:|",
        *[f"| {name} | {m[PRIMARY_METRIC]:.4f} | {m['test_ndcg@10']:.4f} | "
          f"{m['test_hr@10']:.4f} |" for name, m in rows], "",
        f"**{verdict}**: {outcome.promotion.reason}.", "", ANCHORS]))
    get_run_logger().info("recommender v%d: %s", outcome.version.version,
                          outcome.promotion.reason)
    return outcome
