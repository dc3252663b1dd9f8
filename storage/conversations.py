"""Support threads as the store holds them: the messages of every answered conversation."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, func, select

from domain.records import UTC_TIME, as_utc
from storage.schema import Message

THREAD_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(), "message_id": pl.String(), "conversation_id": pl.String(),
    "author_role": pl.String(), "entity": pl.String(), "created_at": UTC_TIME,
    "text": pl.String(),
}


def latest_agent_message(*, engine: Engine) -> int | None:
    """The id of the newest agent message, None when no conversation was ever answered: the
    support index is rebuilt when this moves."""
    with engine.connect() as connection:
        latest = connection.execute(select(func.max(Message.id)).where(
            Message.author_role == "agent")).scalar()
    return None if latest is None else int(latest)


def answered_threads(*, engine: Engine) -> pl.DataFrame:
    """Every message of the conversations that hold an agent message (texts are redacted)."""
    answered = select(Message.source, Message.conversation_id).where(
        Message.author_role == "agent", Message.conversation_id.is_not(None)).distinct()\
        .subquery()
    query = select(Message.source, Message.message_id, Message.conversation_id,
                   Message.author_role, Message.entity, Message.created_at, Message.text)\
        .join(answered, (Message.source == answered.c.source)
              & (Message.conversation_id == answered.c.conversation_id))\
        .order_by(Message.id)
    with engine.connect() as connection:
        rows = [(*r[:5], as_utc(r[5]), r[6]) for r in connection.execute(query)]
    return pl.DataFrame(rows, schema=THREAD_SCHEMA, orient="row")
