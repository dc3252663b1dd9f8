"""Flow ``train-sentiment``: train on the store's labels; the model goes live only if it wins.

Training uses every labelled document in the store, split 80/20 stratified with seed 0; the
held-out fifth is the evaluation set on which challenger and champion are compared, document
by document (``flows.promotion``). The time budget runs from loading the labels to the
decision: the loop stops early enough to leave time for the held-out evaluation and for
scoring the champion.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import Engine

from domain.errors import InvalidInputError, NotReadyError
from domain.records import SentimentProfile
from domain.settings import Settings
from flows.distil import distil_fast, find_teacher
from flows.promotion import (
    DEFAULT_RULE,
    Candidate,
    PromotionRule,
    labels_eval_set,
    register_and_promote,
)
from flows.runtime import ready_engine, redacted_errors
from storage.registry import (
    SENTIMENT,
    SENTIMENT_ENCODER,
    Promotion,
    VersionInfo,
    active_version,
)
from storage.scores import labelled_documents

log = logging.getLogger(__name__)

PRIMARY_METRIC = "macro_f1"
PROFILES = tuple(SentimentProfile)
# What the training run itself adds to the held-out metrics of a version (models.sentiment.train)
RUN_METRICS = ("val_macro_f1", "val_accuracy", "best_epoch", "epochs_run", "steps",
               "train_seconds", "temperature", "lexical_mix", "val_encoder_macro_f1")
MIN_LABELLED = 30  # fewer labelled documents cannot fill a stratified 80/20 split of 3 classes


@dataclass(frozen=True)
class SentimentTraining:
    """What a training run produced and decided."""

    version: VersionInfo
    promotion: Promotion
    metrics: dict[str, float]
    train_size: int
    test_size: int
    stop_reason: str  # why the training loop ended: time budget, early stopping, max epochs
    seconds: float  # the whole run, from loading the labels to the decision


def train_sentiment(*, engine: Engine, models_dir: Path, profile: str = "fast", seed: int = 0,
                    origins: list[str] | None = None, max_minutes: float | None = None,
                    rule: PromotionRule = DEFAULT_RULE, teacher: int | None = None,
                    use_teacher: bool = True, max_epochs: int | None = None
                    ) -> SentimentTraining:
    """Train ``profile`` on the store's labels within ``max_minutes``, register it, promote it
    if it beats the champion beyond noise (``rule``).

    The fast profile is distilled (``flows.distil``) from the accurate version ``teacher``, or
    the one ``find_teacher`` picks, unless ``use_teacher`` is off or there is none.
    ``max_epochs`` caps the passes over the data (a fixed amount of training, for tests)."""
    import numpy as np
    import torch

    from domain.bootstrap import MarginInterval, macro_f1_margin
    from domain.records import SENTIMENT_LABELS
    from models.sentiment.adapt import load_adapted_weights
    from models.sentiment.data import label_ids, stratified_split
    from models.sentiment.evaluate import evaluate_held_out
    from models.sentiment.predict import load_sentiment, save_sentiment
    from models.sentiment.train import (
        ACCURATE_FIT,
        ACCURATE_PROBE,
        FAST_FIT,
        train_accurate,
        train_fast,
    )

    started = time.perf_counter()

    if profile not in PROFILES:
        raise InvalidInputError(f"unknown sentiment profile {profile!r}; use fast or accurate")
    if teacher is not None and (profile != "fast" or not use_teacher):
        raise InvalidInputError("--teacher chooses whom the fast profile learns from; use it "
                                "with --profile fast and without --no-teacher")
    tutor = find_teacher(engine=engine, version=teacher) \
        if profile == "fast" and use_teacher else None
    documents = labelled_documents(engine=engine, origins=origins)
    if documents.height < MIN_LABELLED:
        raise NotReadyError(f"only {documents.height} labelled documents in the store; ingest "
                            "a labelled set first (e.g. `sentrec ingest news "
                            "Sentences_50Agree.txt`)")
    texts = documents["text"].to_list()
    labels = label_ids(documents["label"].to_list())
    train_rows, test_rows = stratified_split(labels, test_fraction=0.2, seed=0)
    fit = FAST_FIT if profile == "fast" else ACCURATE_FIT
    probe = ACCURATE_PROBE
    if max_epochs is not None:
        fit = replace(fit, max_epochs=max_epochs)
        probe = replace(probe, max_epochs=max_epochs)
    if max_minutes is not None:
        # The held-out set is scored twice (calibrated and raw) and once more by a champion;
        # the loop keeps that many validation runs' worth of time (validation is a tenth of
        # the training portion).
        passes = 2 + (active_version(engine=engine, name=SENTIMENT) is not None)
        fit = replace(fit, max_seconds=max(0.0, max_minutes * 60 - (time.perf_counter() -
                                                                     started)),
                      reserve_evals=passes * len(test_rows) / (fit.val_fraction *
                                                               len(train_rows)))
    train_texts = [texts[i] for i in train_rows]
    train_labels = [labels[i] for i in train_rows]
    test_texts = [texts[i] for i in test_rows]
    test_labels = [labels[i] for i in test_rows]
    torch.manual_seed(seed)
    # The accurate profile starts from the live adapted encoder (``sentrec train adapt``) when
    # there is one; its weights end up inside the sentiment checkpoint, which stays whole.
    encoder = active_version(engine=engine, name=SENTIMENT_ENCODER) \
        if profile == "accurate" else None
    taught: dict[str, object] = {}
    if tutor is not None:
        distilled = distil_fast(engine=engine, teacher=tutor, train_texts=train_texts,
                                train_labels=train_labels, held_out=test_texts, seed=seed,
                                fit=fit)
        trained, taught = distilled.trained, distilled.params
    elif profile == "fast":
        trained = train_fast(train_texts, train_labels, seed=seed, fit=fit)
    else:
        trained = train_accurate(train_texts, train_labels, seed=seed, fit=fit, probe=probe,
                                 encoder_state=None if encoder is None else load_adapted_weights(
                                     encoder.artifact_path, sha256=encoder.sha256))
    held_out = evaluate_held_out(trained, test_texts, test_labels)
    metrics = held_out.metrics | {k: v for k, v in trained.metrics.items()
                                  if k in RUN_METRICS}
    models_dir.mkdir(parents=True, exist_ok=True)
    # Absolute, so the registry's path means the same file from any working directory.
    path = models_dir.resolve() / (f"sentiment-{trained.profile}-"
                                   f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}.pt")
    sha256 = save_sentiment(trained, path)

    def compare(champion: VersionInfo) -> MarginInterval:
        """The margin over the champion on today's held-out documents, paired by document."""
        model = load_sentiment(champion.artifact_path, sha256=champion.sha256)
        theirs = evaluate_held_out(model, test_texts, test_labels).predicted
        return macro_f1_margin(np.asarray(test_labels), held_out.predicted, theirs,
                               n_classes=len(SENTIMENT_LABELS), resamples=rule.resamples,
                               level=rule.level)

    stop_reason = trained.run.stop_reason if trained.run is not None else "unknown"
    promotion = register_and_promote(engine=engine, compare=compare, candidate=Candidate(
        name=SENTIMENT, eval_set=labels_eval_set(documents, test_rows),
        primary_metric=PRIMARY_METRIC,
        metrics=metrics, artifact_path=str(path), sha256=sha256,
        params={"profile": trained.profile, "seed": seed, "train_size": len(train_rows),
                "origins": sorted(documents["origin"].unique().to_list()),
                "max_minutes": max_minutes, "max_epochs": max_epochs,
                "stop_reason": stop_reason,
                "encoder_version": None if encoder is None else encoder.version, **taught}))
    return SentimentTraining(promotion.candidate, promotion, promotion.candidate.metrics,
                             len(train_rows), len(test_rows), stop_reason,
                             time.perf_counter() - started)


@flow(name="train-sentiment", persist_result=False)
@redacted_errors
def train_sentiment_flow(settings: Settings | None = None, profile: str = "fast",
                         seed: int = 0, max_minutes: float | None = None,
                         teacher: int | None = None, use_teacher: bool = True,
                         max_epochs: int | None = None) -> SentimentTraining:
    """Train a sentiment model on the store's labels within ``max_minutes`` (default: the
    ``sentiment_train_minutes`` setting); it goes live only if it beats the active one beyond
    noise on the same held-out documents."""
    from models.device import use_threads

    settings = settings or Settings()
    use_threads(settings.torch_threads)
    outcome = train_sentiment(engine=ready_engine(settings), models_dir=settings.home / "models",
                              profile=profile, seed=seed,
                              max_minutes=settings.sentiment_train_minutes if max_minutes is None
                              else max_minutes,
                              rule=PromotionRule.from_settings(settings), teacher=teacher,
                              use_teacher=use_teacher, max_epochs=max_epochs)
    params = outcome.version.params
    taught = (f" Distilled from sentiment v{params['teacher_version']} on "
              f"{params['n_transfer']:,} unlabelled texts and "
              f"{params.get('n_augmented', 0):,} perturbed copies of training texts it labelled."
              if "teacher_version" in params else "")
    lines = [f"# Sentiment {params['profile']} v{outcome.version.version}", "",
             f"Trained on {outcome.train_size:,} labelled documents, evaluated on "
             f"{outcome.test_size:,} held out (80/20 stratified, seed 0); training stopped "
             f"by {outcome.stop_reason}, {outcome.seconds:.0f} s in all.{taught}", "",
             "| metric | value |", "|---|---:|",
             *[f"| {k} | {v:.4f} |" for k, v in sorted(outcome.metrics.items())], "",
             f"**{'Promoted' if outcome.promotion.promoted else 'Not promoted'}**: "
             f"{outcome.promotion.reason}."]
    create_markdown_artifact(markdown="\n".join(lines), key="train-sentiment",
                             description=f"sentiment v{outcome.version.version}")
    get_run_logger().info("sentiment v%d: %s", outcome.version.version,
                          outcome.promotion.reason)
    return outcome
