"""Labelled documents for training, documents waiting for scores, and writing scores."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, and_, exists, select, union_all

from storage.bulk import insert_ignore
from storage.ingest import table_of
from storage.schema import Label, Message, News, SentimentScore

DOC_SCHEMA = {"doc_kind": pl.String(), "doc_id": pl.Int64(), "text": pl.String()}
SCORE_COLUMNS = {"doc_kind": pl.String(), "doc_id": pl.Int64(), "model_version_id": pl.Int64(),
                 "p_negative": pl.Float64(), "p_neutral": pl.Float64(),
                 "p_positive": pl.Float64(), "score": pl.Float64(), "highlights": pl.String(),
                 "sentences": pl.Int64(), "scored_at": pl.Datetime("us", "UTC")}


def labelled_documents(*, engine: Engine, origins: list[str] | None = None) -> pl.DataFrame:
    """(doc_kind, doc_id, text, label, origin, agreement), one row per document.

    A document labelled by several origins (PhraseBank's nested agreement files) keeps the
    label of the highest agreement, so it is counted once.
    """
    message_labels = (
        select(Label.doc_kind, Message.id.label("doc_id"), Message.text.label("text"),
               Label.label, Label.origin, Label.agreement)
        .join(Message, and_(Label.doc_kind == "message", Message.source == Label.source,
                            Message.message_id == Label.doc_id)))
    news_labels = (
        select(Label.doc_kind, News.id.label("doc_id"), News.headline.label("text"),
               Label.label, Label.origin, Label.agreement)
        .join(News, and_(Label.doc_kind == "news", News.source == Label.source,
                         News.news_id == Label.doc_id)))
    if origins:
        message_labels = message_labels.where(Label.origin.in_(origins))
        news_labels = news_labels.where(Label.origin.in_(origins))
    query = union_all(message_labels, news_labels)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pl.DataFrame([tuple(r) for r in rows], orient="row", schema={
        "doc_kind": pl.String(), "doc_id": pl.Int64(), "text": pl.String(),
        "label": pl.String(), "origin": pl.String(), "agreement": pl.Float64()})
    return (frame.sort(["doc_kind", "doc_id", "agreement"], descending=[False, False, True],
                       nulls_last=True)
            .unique(["doc_kind", "doc_id"], keep="first", maintain_order=True))


def unscored_documents(*, engine: Engine, model_version_id: int, limit: int,
                       after: tuple[str, int] | None = None) -> pl.DataFrame:
    """The next ``limit`` documents (messages, then news) the version has not scored yet.

    Keyset pagination on (doc_kind, doc_id) so a run walks the store once.
    """
    def missing(kind: str, doc_id: object) -> object:
        return ~exists().where(SentimentScore.doc_kind == kind,
                               SentimentScore.doc_id == doc_id,
                               SentimentScore.model_version_id == model_version_id)

    frames = []
    remaining = limit
    for kind, model, text_column in (("message", Message, Message.text),
                                     ("news", News, News.headline)):
        if remaining <= 0:
            break
        if after is not None and after[0] == "news" and kind == "message":
            continue
        query = select(model.id, text_column).where(missing(kind, model.id))  # type: ignore[arg-type]
        if after is not None and after[0] == kind:
            query = query.where(model.id > after[1])
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(model.id).limit(remaining)).all()
        frames.append(pl.DataFrame({"doc_kind": [kind] * len(rows),
                                    "doc_id": [r[0] for r in rows],
                                    "text": [r[1] for r in rows]}, schema=DOC_SCHEMA))
        remaining -= len(rows)
    return pl.concat(frames) if frames else pl.DataFrame(schema=DOC_SCHEMA)


def write_scores(*, engine: Engine, scores: pl.DataFrame) -> int:
    """Insert scores; a document already scored by the same version is left as it was."""
    frame = scores.select([pl.col(c).cast(t) for c, t in SCORE_COLUMNS.items()])
    with engine.begin() as connection:
        return insert_ignore(connection, table_of(SentimentScore), frame,
                             ("doc_kind", "doc_id", "model_version_id"))
