"""Training the recommender and publishing recommendations, as plain functions.

Training: the events of one source become per-user sequences (time order, file order for ties)
of the kinds the event weights keep, each event carrying its kind's weight, split leave-one-out;
SASRec trains on the prefixes, each position's loss weighted by its target event, and
early-stops on validation NDCG@10 (unweighted), the metric champion and challenger are compared
on. Publishing: the active model's item vectors go into a FAISS index, every user's state
queries it in batches, business rules filter the candidates, and the whole set is activated in
one transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine

from domain.ranking import RankingRules, apply_rules
from domain.sequences import (
    DEFAULT_EVENT_WEIGHTS,
    Sequences,
    check_event_weights,
    kept_kinds,
    leave_one_out,
    sequences_from_events,
    with_event_weights,
)
from storage.events import event_sources, load_events
from storage.registry import (
    RECOMMENDER,
    Promotion,
    VersionInfo,
    active_version,
    promote_if_better,
)
from storage.registry import register_version as register

log = logging.getLogger(__name__)

PRIMARY_METRIC = "valid_ndcg@10"
# The kinds the default event weights keep (returns are left out unless weighted in).
DEFAULT_KINDS = kept_kinds(DEFAULT_EVENT_WEIGHTS)


@dataclass(frozen=True)
class RecommenderOutcome:
    version: VersionInfo
    promotion: Promotion
    metrics: dict[str, float]
    epochs: int
    seconds_per_epoch: float


def pick_source(engine: Engine, source: str | None) -> str:
    sources = event_sources(engine=engine)
    if source is not None:
        if source not in sources:
            raise ValueError(f"no events from source {source!r}; sources in the store: "
                             f"{', '.join(sources) or 'none (ingest events first)'}")
        return source
    if not sources:
        raise ValueError("no events in the store: ingest behaviour first "
                         "(`sentrec ingest events FILE`)")
    if len(sources) > 1:
        raise ValueError(f"events come from several sources ({', '.join(sources)}); "
                         "name one with --source")
    return next(iter(sources))


def load_sequences(engine: Engine, source: str, weights: Mapping[str, float]) -> Sequences:
    """One source's sequences of the kinds ``weights`` keeps, each event carrying its weight."""
    kinds = kept_kinds(weights)
    events = load_events(engine=engine, source=source, kinds=kinds)
    if events.is_empty():
        raise ValueError(f"source {source!r} has no events of kinds {kinds}; weigh in the "
                         "kinds it has (--weight KIND=W or SENTREC_EVENT_WEIGHTS)")
    return sequences_from_events(with_event_weights(events, weights))


def version_weights(params: Mapping[str, Any]) -> dict[str, float]:
    """The event weights a registered version was trained with.

    Versions registered before weights existed stored a list of ``kinds``, each counting once.
    """
    weights = params.get("weights") or {kind: 1.0 for kind in params["kinds"]}
    return {str(kind): float(weight) for kind, weight in weights.items()}


def train_recommender(*, engine: Engine, models_dir: Path, source: str | None = None,
                      weights: Mapping[str, float] | None = None, max_minutes: float = 10.0,
                      seed: int = 0, config: dict[str, Any] | None = None,
                      device: str = "auto") -> RecommenderOutcome:
    """Train SASRec on one source's events, register it, and promote it if it wins.

    ``weights`` (kind -> weight, default ``DEFAULT_EVENT_WEIGHTS``) picks the event kinds and
    weighs each position's training loss; it is stored with the version.
    """
    from models.checkpoint import save_checkpoint
    from models.device import cpu_has_fast_bf16
    from models.rec_eval import evaluate_split
    from models.rec_recipes import recipe_for
    from models.rec_train import SASRecScorer, train_sasrec
    from models.sasrec import SASRecConfig
    from models.training import TrainConfig

    weights = check_event_weights(DEFAULT_EVENT_WEIGHTS if weights is None else weights)
    source = pick_source(engine, source)
    seqs = load_sequences(engine, source, weights)
    split = leave_one_out(seqs)
    if len(split.users) == 0:
        raise ValueError(f"no user of {source!r} has the 3 events leave-one-out needs")
    # Settings from the data's history lengths, as in bench/rec_quality.py; ``config``
    # overrides the model's shape.
    recipe = recipe_for(split)
    model_config = SASRecConfig(n_items=seqs.n_items, **(recipe.model | (config or {})))
    train_config = TrainConfig(max_epochs=1000, max_seconds=max_minutes * 60, seed=seed,
                               device=device, **recipe.train)
    log.info("recommender: %s (%s)", recipe.regime, "; ".join(recipe.notes))
    model, result = train_sasrec(split, model_config, train_config,
                                 batch_size=recipe.batch_size, bf16_matmul=cpu_has_fast_bf16())
    test = evaluate_split(SASRecScorer(model), split, "test")
    metrics = {PRIMARY_METRIC: float(result.best_metric), "test_ndcg@10": float(test.ndcg),
               "test_hr@10": float(test.hit_rate), "users": float(len(seqs.user_ids)),
               "items": float(seqs.n_items)}
    eval_set = _eval_set(source, seqs)
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / f"recommender-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.pt"
    sha256 = save_checkpoint(path, model=model.cpu(), config=model_config,
                             extra={"item_ids": seqs.item_ids, "source": source,
                                    "weights": weights, "metrics": metrics})
    version = register(engine=engine, name=RECOMMENDER, eval_set=eval_set,
                       primary_metric=PRIMARY_METRIC, metrics=metrics,
                       params={"source": source, "weights": weights, "seed": seed,
                               **{k: v for k, v in model_config.__dict__.items()},
                               "regime": recipe.regime, "batch_size": recipe.batch_size,
                               **recipe.train},
                       artifact_path=str(path), sha256=sha256)
    promotion = promote_if_better(engine=engine, version_id=version.id,
                                  champion_rescored=_rescore_champion(engine, eval_set, seqs))
    log.info("recommender v%d: %s", version.version, promotion.reason)
    return RecommenderOutcome(version, promotion, metrics, result.epochs_run,
                              result.seconds_per_epoch)


def _eval_set(source: str, seqs: Sequences) -> str:
    """Names the held-out data: each user's last two items, by external id (stable across
    processes, unlike ``hash``), so two trainings on the same events compare directly."""
    digest = hashlib.sha1()
    for user, items in zip(seqs.user_ids, seqs.items, strict=True):
        digest.update(user.encode())
        digest.update("\x1f".join(seqs.item_ids[i - 1] for i in items[-2:]).encode())
        digest.update(b"\x1e")
    return f"{source}-loo:{len(seqs.user_ids)}:{seqs.n_items}:{digest.hexdigest()[:12]}"


def load_model(version: VersionInfo) -> tuple[Any, list[str]]:
    """The active SASRec model (eval mode, CPU) and its item ids (dense index i -> ids[i-1])."""
    from models.checkpoint import load_checkpoint
    from models.sasrec import SASRec, SASRecConfig

    checkpoint = load_checkpoint(version.artifact_path, sha256=version.sha256)
    model = SASRec(SASRecConfig(**checkpoint.config))
    model.load_state_dict(checkpoint.state_dict)
    model.eval()
    return model, list(checkpoint.extra["item_ids"])


def _rescore_champion(engine: Engine, eval_set: str, seqs: Sequences) -> float | None:
    """The champion's validation NDCG@10 on today's split, its catalogue mapped onto ours."""
    from models.rec_eval import evaluate_split
    from models.rec_train import SASRecScorer

    champion = active_version(engine=engine, name=RECOMMENDER)
    if champion is None or champion.eval_set == eval_set:
        return None
    model, champion_items = load_model(champion)
    theirs = {item: i for i, item in enumerate(champion_items, start=1)}
    to_theirs = np.asarray([0] + [theirs.get(item, 0) for item in seqs.item_ids])
    split = leave_one_out(seqs)
    scorer = SASRecScorer(model)

    def scorer_ours(histories: Sequence[np.ndarray]) -> np.ndarray:
        """Score our histories with the champion: map items to its indices and back."""
        theirs_histories = [to_theirs[h][to_theirs[h] > 0] for h in histories]
        scores = scorer(theirs_histories)[:, to_theirs]  # (B, N+1) in our item order
        scores[:, to_theirs == 0] = -np.inf  # items new to the champion rank last
        return np.asarray(scores)

    return float(evaluate_split(scorer_ours, split, "valid").ndcg)


@dataclass(frozen=True)
class PublishOutcome:
    set_id: int
    users: int
    cold_start_items: int
    seconds: float


def user_batches(n_users: int, batch_users: int) -> list[tuple[int, int]]:
    return [(start, min(start + batch_users, n_users))
            for start in range(0, n_users, batch_users)]


def recent_popularity(seqs: Sequences, k: int, fraction: float = 0.1) -> list[tuple[str, float]]:
    """The items most interacted with in the last ``fraction`` of each user's history."""
    counts: dict[int, int] = {}
    for items in seqs.items:
        tail = items[-max(1, int(np.ceil(len(items) * fraction))):]
        for item in tail.tolist():
            counts[item] = counts.get(item, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [(seqs.item_ids[i - 1], float(n)) for i, n in top]


ENCODE_CHUNK = 256  # users per forward pass in ``recommend_batch``


def recommend_batch(*, model: Any, index: Any, seqs: Sequences, item_ids: list[str],
                    start: int, end: int, k: int, rules: RankingRules) -> pl.DataFrame:
    """Top-k rows (user_id, rank, item_id, score, reason) for users ``start:end``."""
    import torch

    from models.rec_train import left_pad

    ours = {item: i for i, item in enumerate(item_ids, start=1)}
    histories, users, seen_sets = [], [], []
    for u in range(start, end):
        raw = [seqs.item_ids[i - 1] for i in seqs.items[u].tolist()]
        mapped = np.asarray([ours[x] for x in raw if x in ours], dtype=np.int64)
        if len(mapped) == 0:
            continue
        histories.append(mapped)
        users.append(seqs.user_ids[u])
        seen_sets.append(set(raw))
    if not users:
        return pl.DataFrame(schema={"user_id": pl.String, "rank": pl.Int64,
                                    "item_id": pl.String, "score": pl.Float64,
                                    "reason": pl.String})
    # Encoded a few hundred users at a time: a forward pass holds (users, T, T) attention
    # and (users, T, d_ff) activations, ~0.9 GB for 2,000 users at T = 200, and publishing
    # runs several batches at once.
    with torch.inference_mode():
        states = np.concatenate([
            model.encode_users(torch.from_numpy(
                left_pad(histories[i:i + ENCODE_CHUNK], model.config.max_len))).numpy()
            for i in range(0, len(histories), ENCODE_CHUNK)])  # (B, d)
    depth = min(len(item_ids), k + max(len(s) for s in seen_sets) + len(rules.exclude))
    scores, found = index.search(states, depth)
    rows: list[tuple[str, int, str, float, str | None]] = []
    for user, seen, ids, row_scores in zip(users, seen_sets, found, scores, strict=True):
        kept = apply_rules(list(zip(ids, row_scores.tolist(), strict=False)), seen=seen, k=k,
                           rules=rules)
        rows.extend((user, rank, item, score, None)
                    for rank, (item, score) in enumerate(kept, start=1))
    return pl.DataFrame(rows, orient="row", schema={"user_id": pl.String, "rank": pl.Int64,
                                                    "item_id": pl.String,
                                                    "score": pl.Float64, "reason": pl.String})


def index_path(version: VersionInfo) -> Path:
    return Path(version.artifact_path).with_suffix(".faiss")


def build_item_index(version: VersionInfo) -> Path:
    """Build and save the FAISS index of the version's item vectors (the API's similar items)."""
    import torch

    from models.index import build_index, save_index

    model, item_ids = load_model(version)
    with torch.inference_mode():
        vectors = model.item_vectors()[1:].numpy()  # (N, d): row 0 is padding
    path = index_path(version)
    save_index(build_index(vectors, item_ids, model_version_id=version.id), path)
    return path
