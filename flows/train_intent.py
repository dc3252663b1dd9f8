"""Flow ``train-intent``: an intent classifier from the store's intent labels; it goes live only
if it beats the active one on the same held-out messages.

As for sentiment, the labelled messages are split 80/20 stratified with seed 0; the model is
fitted (and its out-of-scope threshold chosen, ``models.support.intent_train``) on the 80%,
measured on the 20%, and champion and challenger are compared on accuracy there.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class IntentTraining:
    """What a training run produced and decided."""

    version: VersionInfo
    promotion: Promotion
    metrics: dict[str, float]
    threshold: float
    intents: int
    train_size: int
    test_size: int


def train_intent(*, engine: Engine, models_dir: Path,
                 features: IntentFeatures = IntentFeatures.MINILM_TFIDF, seed: int = 0,
                 origins: list[str] | None = None,
                 rule: PromotionRule = DEFAULT_RULE) -> IntentTraining:
    """Fit an intent model on the store's intent labels, register it, promote it if it wins
    beyond noise (``rule``: paired bootstrap of the accuracy margin over the same messages)."""
    from models.sentiment.data import stratified_split
    from models.support.intent import IntentConfig, IntentModel
    from models.support.intent_train import MIN_INTENTS, evaluate_intent, fit_intent

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
    model = fit_intent([texts[i] for i in train_rows], [labels[i] for i in train_rows],
                       config=config, seed=seed)
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
        params={"features": features.value, "seed": seed, "train_size": len(train_rows),
                "threshold": model.threshold, "intents": len(kept),
                "origins": sorted(documents["origin"].unique().to_list())}))
    return IntentTraining(promotion.candidate, promotion, metrics, model.threshold, len(kept),
                          len(train_rows), len(test_rows))


@flow(name="train-intent", persist_result=False)
@redacted_errors
def train_intent_flow(settings: Settings | None = None, features: str = "minilm-tfidf",
                      seed: int = 0) -> IntentTraining:
    """Train an intent model on the store's intent labels; it goes live only if it beats the
    active one on the same held-out messages. ``features`` is an IntentFeatures value (a plain
    string, as Prefect records parameters)."""
    settings = settings or Settings()
    outcome = train_intent(engine=ready_engine(settings), models_dir=settings.home / "models",
                           features=IntentFeatures(features), seed=seed,
                           rule=PromotionRule.from_settings(settings))
    lines = [f"# Intent {features} v{outcome.version.version}", "",
             f"{outcome.intents} intents; trained on {outcome.train_size:,} labelled messages, "
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
