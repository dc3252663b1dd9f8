"""Flow ``train-intent``: an intent classifier from the store's intent labels; it goes live only
if it beats the active one on the same held-out messages.

As for sentiment, the labelled messages are split 80/20 stratified with seed 0; the model is
fitted (and its out-of-scope threshold chosen, ``models.support.intent_train``) on the 80%,
measured on the 20%, and champion and challenger are compared on accuracy there.

A time budget (``intent_train_minutes``) bounds the part that grows with the store: the
training messages are embedded by MiniLM in chunks until ``EMBED_SHARE`` of it is spent, in
an order that takes the intents in turn (seeded), so any prefix keeps them balanced; the model
is fitted on the messages embedded. The held-out 20% is always scored whole: champion and
challenger are compared on the same messages.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import Engine

from domain.bootstrap import MarginInterval, mean_margin
from domain.errors import NotReadyError
from domain.records import IntentFeatures, LabelKind
from domain.settings import Settings
from flows.promotion import (
    DEFAULT_RULE,
    Candidate,
    PromotionRule,
    labels_eval_set,
    register_and_promote,
)
from flows.runtime import ready_engine, redacted_errors
from storage.registry import INTENT, Promotion, VersionInfo
from storage.scores import labelled_documents

PRIMARY_METRIC = "accuracy"
MIN_PER_INTENT = 2  # a stratified split needs two texts of an intent to hold one out
EMBED_SHARE = 0.3  # of the budget for embedding the training messages; the two logistic
# regressions, the held-out scoring and the champion's take the rest, and grow with the
# messages too (embedding Banking77's 7,999 took 10-12 s of a 30-36 s run on 2 threads)
EMBED_CHUNK = 2048  # training messages embedded between two looks at the clock; length
# bucketing works within a chunk, and the int8 embedder's vectors move slightly with a batch's
# make-up (Banking77 held-out accuracy 0.9285 in chunks of 2,048, 0.9255 of 512, 0.9300 in one
# pass before budgets; all within noise of each other)
FIRST_PER_INTENT = 5  # messages of each intent in the first chunk, embedded whatever the
# budget: choosing the threshold holds a fifth of each intent's messages out, so five give one


@dataclass(frozen=True)
class IntentTraining:
    """What a training run produced and decided."""

    version: VersionInfo
    promotion: Promotion
    metrics: dict[str, float]
    threshold: float
    intents: int
    train_size: int  # training messages fitted on
    test_size: int
    train_available: int  # the 80% there was to fit on
    stop_reason: str  # "all texts", or "time budget" when only a prefix was embedded
    seconds: float


def turn_order(labels: Sequence[str], *, seed: int) -> list[int]:
    """Positions of ``labels`` taking the intents in turn (sorted), each intent's own in a
    seeded order: any prefix holds every intent about equally often."""
    groups: dict[str, list[int]] = {}
    for row, label in enumerate(labels):
        groups.setdefault(label, []).append(row)
    rng = random.Random(seed)
    for rows in groups.values():
        rng.shuffle(rows)
    ordered = [groups[label] for label in sorted(groups)]
    longest = max((len(rows) for rows in ordered), default=0)
    return [rows[i] for i in range(longest) for rows in ordered if i < len(rows)]


def train_intent(*, engine: Engine, models_dir: Path,
                 features: IntentFeatures = IntentFeatures.MINILM_TFIDF, seed: int = 0,
                 origins: list[str] | None = None, rule: PromotionRule = DEFAULT_RULE,
                 max_minutes: float | None = None, chunk: int = EMBED_CHUNK) -> IntentTraining:
    """Fit an intent model on the store's intent labels within ``max_minutes`` (None: on all
    of them, however long), register it, promote it if it wins beyond noise (``rule``: paired
    bootstrap of the accuracy margin over the same messages)."""
    from models.sentiment.data import stratified_split
    from models.support.embed import SentenceEmbedder
    from models.support.intent import IntentConfig, IntentModel
    from models.support.intent_train import MIN_INTENTS, evaluate_intent, fit_intent

    started = time.perf_counter()

    documents = labelled_documents(engine=engine, origins=origins, kind=LabelKind.INTENT)
    counts = documents["label"].value_counts()
    kept = counts.filter(counts["count"] >= MIN_PER_INTENT)["label"].to_list()
    documents = documents.filter(documents["label"].is_in(kept))
    if len(kept) < MIN_INTENTS:
        raise NotReadyError(f"{len(kept)} intents with {MIN_PER_INTENT}+ labelled messages in "
                            f"the store, {MIN_INTENTS} needed; ingest an intent set first (e.g. "
                            "`sentrec ingest messages banking77/train.csv`)")
    texts, labels = documents["text"].to_list(), documents["label"].to_list()
    ids = {name: i for i, name in enumerate(sorted(kept))}
    train_rows, test_rows = stratified_split([ids[x] for x in labels], test_fraction=0.2, seed=0)
    config = replace(IntentConfig(), use_minilm=features is not IntentFeatures.TFIDF,
                     use_tfidf=features is not IntentFeatures.MINILM)
    order = [train_rows[i] for i in turn_order([labels[r] for r in train_rows], seed=seed)]
    embedder, vectors = None, None
    if config.use_minilm:  # TF-IDF alone takes seconds on any store: no budget to share
        embedder = SentenceEmbedder(config.embed)
        deadline = None if max_minutes is None else started + EMBED_SHARE * max_minutes * 60
        vectors = embedder.embed_within(
            [texts[i] for i in order], deadline=deadline,
            chunk=max(chunk, FIRST_PER_INTENT * len(kept)), what="embedding training messages")
        order = order[:len(vectors)]
    stop_reason = "all texts" if len(order) == len(train_rows) else "time budget"
    model = fit_intent([texts[i] for i in order], [labels[i] for i in order], config=config,
                       seed=seed, embedder=embedder, vectors=vectors)
    test_texts, test_labels = [texts[i] for i in test_rows], [labels[i] for i in test_rows]
    metrics = evaluate_intent(model, test_texts, test_labels)
    model.metrics = metrics
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir.resolve() / f"intent-{features.value}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.pt"
    sha256 = model.save(path)

    def right(candidate: IntentModel) -> np.ndarray:
        best = candidate.predict_proba(test_texts).argmax(axis=1)
        return np.array([candidate.intents[i] == t for i, t in zip(best, test_labels,
                                                                    strict=True)], dtype=float)

    def compare(champion: VersionInfo) -> MarginInterval:
        """The accuracy margin over the champion on today's held-out messages, paired by
        message."""
        live = IntentModel.load(champion.artifact_path, sha256=champion.sha256)
        return mean_margin(right(model), right(live), resamples=rule.resamples,
                           level=rule.level, unit="messages")

    promotion = register_and_promote(engine=engine, compare=compare, candidate=Candidate(
        name=INTENT, eval_set=labels_eval_set(documents, test_rows),
        primary_metric=PRIMARY_METRIC, metrics=metrics, artifact_path=str(path), sha256=sha256,
        params={"features": features.value, "seed": seed, "train_size": len(order),
                "train_available": len(train_rows), "max_minutes": max_minutes,
                "threshold": model.threshold, "intents": len(kept),
                "origins": sorted(documents["origin"].unique().to_list())}))
    return IntentTraining(promotion.candidate, promotion, metrics, model.threshold, len(kept),
                          len(order), len(test_rows), len(train_rows), stop_reason,
                          time.perf_counter() - started)


@flow(name="train-intent", persist_result=False)
@redacted_errors
def train_intent_flow(settings: Settings | None = None, features: str = "minilm-tfidf",
                      seed: int = 0, max_minutes: float | None = None) -> IntentTraining:
    """Train an intent model on the store's intent labels within ``max_minutes`` (default: the
    ``intent_train_minutes`` setting); it goes live only if it beats the active one on the
    same held-out messages. ``features`` is an IntentFeatures value (a plain string, as
    Prefect records parameters)."""
    from models.device import use_threads

    settings = settings or Settings()
    use_threads(settings.torch_threads)
    outcome = train_intent(engine=ready_engine(settings), models_dir=settings.home / "models",
                           features=IntentFeatures(features), seed=seed,
                           rule=PromotionRule.from_settings(settings),
                           max_minutes=settings.intent_train_minutes if max_minutes is None
                           else max_minutes)
    lines = [f"# Intent {features} v{outcome.version.version}", "",
             f"{outcome.intents} intents; trained on {outcome.train_size:,} of "
             f"{outcome.train_available:,} labelled messages ({outcome.stop_reason}), "
             f"evaluated on {outcome.test_size:,} held out (80/20 stratified, seed 0). "
             f"Answers None under confidence {outcome.threshold:.2f}.", "",
             "| metric | value |", "|---|---:|",
             *[f"| {k} | {v:.4f} |" for k, v in sorted(outcome.metrics.items())], "",
             f"**{'Promoted' if outcome.promotion.promoted else 'Not promoted'}**: "
             f"{outcome.promotion.reason}."]
    create_markdown_artifact(markdown="\n".join(lines), key="train-intent",
                             description=f"intent v{outcome.version.version}")
    get_run_logger().info("intent v%d: %s", outcome.version.version, outcome.promotion.reason)
    return outcome
