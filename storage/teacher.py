"""The teacher's logits kept between distillations (``flows.distil``).

An accurate version labels the same store texts every time it teaches the fast model; on a CPU
that labelling takes most of the budget. What it said is kept here, per version and per
labeller (its int8 copy on CPU, the float model on a GPU: their logits differ slightly), so
the next distillation labels only texts it has not seen. Texts are keyed by the sha256 of their
UTF-8 bytes: the table holds no text. Only the versions that taught most recently keep theirs
(``prune_teacher_logits``): every accurate version would otherwise add a row per store text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import Engine, delete, func, select

from storage.bulk import insert_ignore
from storage.ingest import table_of
from storage.schema import TeacherLogit

Logits = Sequence[float]  # negative, neutral, positive
KEPT_TEACHERS = 2  # versions whose logits are kept: the teacher now, and the one before it (a
# rolled-back champion teaches again without labelling everything anew)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def teacher_logits_of(*, engine: Engine, version_id: int, labeller: str,
                      texts: Iterable[str]) -> dict[str, list[float]]:
    """The kept logits of those ``texts`` that version ``version_id``'s ``labeller`` has
    labelled before, by text."""
    query = select(TeacherLogit.text_sha256, TeacherLogit.logit_negative,
                   TeacherLogit.logit_neutral, TeacherLogit.logit_positive).where(
        TeacherLogit.model_version_id == version_id, TeacherLogit.labeller == labeller)
    with engine.connect() as connection:
        kept = {row[0]: [row[1], row[2], row[3]] for row in connection.execute(query)}
    found: dict[str, list[float]] = {}
    for text in texts:
        logits = kept.get(text_sha256(text))
        if logits is not None:
            found[text] = logits
    return found


def keep_teacher_logits(*, engine: Engine, version_id: int, labeller: str,
                        logits: Mapping[str, Logits]) -> int:
    """Keep what ``labeller`` of version ``version_id`` said about each text; a text it has
    said something about before keeps the first answer (concurrent runs agree anyway). Returns
    how many were new."""
    frame = pl.DataFrame({
        "model_version_id": [version_id] * len(logits),
        "labeller": [labeller] * len(logits),
        "text_sha256": [text_sha256(text) for text in logits],
        "logit_negative": [float(v[0]) for v in logits.values()],
        "logit_neutral": [float(v[1]) for v in logits.values()],
        "logit_positive": [float(v[2]) for v in logits.values()],
        "labelled_at": [datetime.now(UTC)] * len(logits),
    }, schema={"model_version_id": pl.Int64(), "labeller": pl.String(),
               "text_sha256": pl.String(), "logit_negative": pl.Float64(),
               "logit_neutral": pl.Float64(), "logit_positive": pl.Float64(),
               "labelled_at": pl.Datetime("us", "UTC")})
    with engine.begin() as connection:
        return insert_ignore(connection, table_of(TeacherLogit), frame,
                             ("model_version_id", "labeller", "text_sha256"))


def prune_teacher_logits(*, engine: Engine, keep: int = KEPT_TEACHERS) -> int:
    """Drop the logits of every version but the ``keep`` that labelled most recently (any
    labeller); returns how many rows went."""
    last = func.max(TeacherLogit.labelled_at)
    recent = (select(TeacherLogit.model_version_id).group_by(TeacherLogit.model_version_id)
              .order_by(last.desc(), TeacherLogit.model_version_id.desc()).limit(keep))
    with engine.begin() as connection:
        kept = [row[0] for row in connection.execute(recent)]
        gone = connection.execute(delete(TeacherLogit).where(
            TeacherLogit.model_version_id.not_in(kept)))
    return int(gone.rowcount or 0)
