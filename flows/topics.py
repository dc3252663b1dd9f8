"""The topic step of ``monitor-sentiment``: learn topics from the corpus once, then give every
new document one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from domain.errors import NotReadyError
from storage.topics import (
    all_texts,
    latest_topic_model,
    topic_ids,
    unassigned_documents,
    write_assignments,
    write_topics,
)


def refresh_topics(*, engine: Engine, models_dir: Path, k: int = 20, refit: bool = False,
                   corpus_limit: int = 200_000, chunk: int = 20_000) -> tuple[str, int]:
    """Learn topics when there are none (or on ``refit``), then give every new document one.

    Returns the topic model's name and how many documents were assigned now. A document whose
    words are all outside the vocabulary gets no topic and shows as "no topic".
    """
    from models.topics import UNASSIGNED, TopicConfig, TopicModel

    name = None if refit else latest_topic_model(engine=engine)
    if name is None:
        texts = all_texts(engine=engine, limit=corpus_limit)
        if len(texts) < k * 5:
            raise NotReadyError(f"only {len(texts)} documents to learn {k} topics from; "
                                "ingest more messages or news first")
        model = TopicModel.fit(texts, TopicConfig(k=k))
        name = f"nmf{k}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        models_dir.mkdir(parents=True, exist_ok=True)
        model.save(models_dir / f"{name}.json")
        write_topics(engine=engine, topic_model=name, names=model.names,
                     top_terms=model.top_terms())
    else:
        model = TopicModel.load(models_dir / f"{name}.json")
    ids = topic_ids(engine=engine, topic_model=name)
    assigned = 0
    for kind in ("message", "news"):
        after = 0
        while True:
            page = unassigned_documents(engine=engine, topic_model=name, kind=kind,
                                        after_id=after, limit=chunk)
            if page.is_empty():
                break
            after = int(page["doc_id"][-1])
            topics, weights = model.assign(page["text"].to_list())
            frame = page.select("doc_kind", "doc_id").with_columns(
                pl.lit(name).alias("topic_model"),
                pl.Series("topic_id", [ids.get(int(t)) if t != UNASSIGNED else None
                                       for t in topics], dtype=pl.Int64),
                pl.Series("weight", weights.astype(float)))
            # A document with no word of the vocabulary gets no topic ("no topic").
            kept = frame.filter(pl.col("topic_id").is_not_null())
            write_assignments(engine=engine, frame=kept)
            assigned += kept.height
    return name, assigned
