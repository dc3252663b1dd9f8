"""The fast profile distilled from the accurate one: which teacher, which texts, how much time.

``train-sentiment --profile fast`` distils when the registry holds an accurate sentiment
version: the active one if it is accurate, else the newest accurate version, or the one asked
for. The teacher is loaded only after its file matched the sha256 the registry recorded. It
labels the training texts, then as much of the transfer set (``storage.scores.unlabelled_texts``
minus the held-out texts, with augmented copies of the training texts the student trains on,
shuffled with the seed: ``models.sentiment.distil``) as ``TEACHER_SHARE`` of the time left
allows; the student trains on both in the rest (``models.sentiment.distil.distil_within_budget``,
the recipe the benches measure). What the teacher said is kept in the store
(``storage.teacher``): the next distillation from the same version labels only texts it has not
seen and teaches every text it has, so daily runs cover ever more of the store's text; only
the two versions that taught last keep theirs (``storage.teacher.prune_teacher_logits``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from domain.errors import InvalidInputError, NotFoundError
from storage.registry import SENTIMENT, VersionInfo, active_version, list_versions
from storage.scores import unlabelled_texts
from storage.teacher import keep_teacher_logits, prune_teacher_logits, teacher_logits_of

if TYPE_CHECKING:  # torch is imported by the functions that need it (CLI start-up time)
    from models.sentiment.distil import StudentVocabulary
    from models.sentiment.predict import TrainedSentiment
    from models.sentiment.train import FitConfig

log = logging.getLogger(__name__)

ACCURATE = "accurate"


def find_teacher(*, engine: Engine, version: int | None = None) -> VersionInfo | None:
    """The accurate sentiment version to learn from: ``version`` when given (an error if it is
    missing or not accurate), else the active version if accurate, else the newest accurate."""
    versions = list_versions(engine=engine, name=SENTIMENT)
    if version is not None:
        chosen = next((v for v in versions if v.version == version), None)
        if chosen is None:
            raise NotFoundError(f"no sentiment version {version}; `sentrec models` lists them")
        if chosen.params.get("profile") != ACCURATE:
            raise InvalidInputError(
                f"sentiment v{version} is {chosen.params.get('profile')!r}, not accurate; pass "
                "an accurate version to --teacher (see `sentrec models`)")
        return chosen
    active = active_version(engine=engine, name=SENTIMENT)
    if active is not None and active.params.get("profile") == ACCURATE:
        return active
    accurate = [v for v in versions if v.params.get("profile") == ACCURATE]
    return max(accurate, key=lambda v: v.version) if accurate else None


@dataclass(frozen=True)
class Distilled:
    """The student and what the registry records about how it was taught."""

    trained: TrainedSentiment
    params: dict[str, Any]


def distil_fast(*, engine: Engine, teacher: VersionInfo, train_texts: Sequence[str],
                train_labels: Sequence[int], held_out: Sequence[str], seed: int,
                fit: FitConfig, vocabulary: StudentVocabulary | None = None) -> Distilled:
    """Teach the fast model from ``teacher`` within ``fit.max_seconds`` (None: no budget, the
    teacher labels every transfer text). ``vocabulary``: the student's, by default
    ``STUDENT_VOCABULARY``."""
    from models.sentiment.distil import (
        STUDENT_VOCABULARY,
        distil_within_budget,
        labeller_name,
    )
    from models.sentiment.predict import load_sentiment
    from models.sentiment.train import distillation_pool

    started = time.perf_counter()
    vocabulary = vocabulary or STUDENT_VOCABULARY
    model = load_sentiment(teacher.artifact_path, sha256=teacher.sha256)
    pool, made = distillation_pool(unlabelled_texts(engine=engine), train_texts=train_texts,
                                   train_labels=train_labels, held_out=held_out, fit=fit,
                                   seed=seed)
    labeller = labeller_name(model)
    known = teacher_logits_of(engine=engine, version_id=teacher.id, labeller=labeller,
                              texts=[*train_texts, *pool])
    if fit.max_seconds is not None:
        fit = dataclasses.replace(fit, max_seconds=max(
            0.0, fit.max_seconds - (time.perf_counter() - started)))
    taught = distil_within_budget(model, train_texts, train_labels, pool, fit=fit, seed=seed,
                                  vocabulary=vocabulary, known=known)
    kept = keep_teacher_logits(engine=engine, version_id=teacher.id, labeller=labeller,
                               logits=taught.fresh)
    pruned = prune_teacher_logits(engine=engine)
    student, transfer = taught.student, taught.transfer
    n_copies, n_made = sum(text in made for text in transfer), len(made)
    log.info("teacher sentiment v%d: %d of %d transfer texts (%d of %d augmented copies of "
             "training texts), %d of them labelled by earlier runs; %d new logits kept, %d of "
             "older teachers dropped", teacher.version, len(transfer), len(pool), n_copies,
             n_made, taught.reused, kept, pruned)
    return Distilled(student, {
        "teacher_version": teacher.version, "student_vocabulary": vocabulary,
        "n_transfer": len(transfer) - n_copies, "transfer_pool": len(pool) - n_made,
        "n_augmented": n_copies, "augmented_pool": n_made, "n_reused": taught.reused,
        "n_taught_labels": int(student.metrics["n_taught_labels"])})
