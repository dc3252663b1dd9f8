"""Canonical records: the column names and polars types every source adapter produces.

A source adapter turns one raw file into a frame of these columns plus rejects; storage writes
them. Keeping the schemas here lets adapters, storage and tests agree on one definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import polars as pl


class Stream(StrEnum):
    """The four kinds of input a batch can carry."""

    MESSAGES = "messages"
    NEWS = "news"
    EVENTS = "events"
    ITEMS = "items"


SENTIMENT_LABELS = ("negative", "neutral", "positive")


class LabelKind(StrEnum):
    """What a stored label names: a sentiment class, or what the customer wants."""

    SENTIMENT = "sentiment"
    INTENT = "intent"


MAX_LABEL_LENGTH = 64  # characters of a label name the store keeps (intents are snake_case)


class SentimentProfile(StrEnum):
    """The sentiment models sentrec trains: a small attention encoder, or fine-tuned MiniLM."""

    FAST = "fast"
    ACCURATE = "accurate"

class IntentFeatures(StrEnum):
    """What the intent classifier reads: frozen MiniLM sentence vectors, TF-IDF words, or both."""

    MINILM_TFIDF = "minilm-tfidf"
    MINILM = "minilm"
    TFIDF = "tfidf"


AUTHOR_ROLES = ("customer", "agent")
# "interact" is implicit feedback with no kind given (the one-line-per-user sequence files).
EVENT_KINDS = ("view", "click", "cart", "purchase", "rate", "return", "interact")

UTC_TIME = pl.Datetime("us", "UTC")

MESSAGE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "message_id": pl.String(),
    "conversation_id": pl.String(),
    "author_role": pl.String(),
    "entity": pl.String(),
    "channel": pl.String(),
    "created_at": UTC_TIME,
    "text": pl.String(),
}

NEWS_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "news_id": pl.String(),
    "published_at": UTC_TIME,
    "headline": pl.String(),
    "body": pl.String(),
    "entities": pl.List(pl.String()),
    "url": pl.String(),
}

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "event_id": pl.String(),
    "user_id": pl.String(),
    "item_id": pl.String(),
    "kind": pl.String(),
    "value": pl.Float64(),
    # Null where the source gives order but no clock (the one-line-per-user sequence format).
    "occurred_at": UTC_TIME,
    # Position of the event in its file; breaks ties in time so sequences are stable.
    "seq": pl.Int64(),
}

ITEM_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "item_id": pl.String(),
    "title": pl.String(),
    "description": pl.String(),
    "categories": pl.List(pl.String()),
}

LABEL_SCHEMA: dict[str, pl.DataType] = {
    "doc_kind": pl.String(),  # "message" or "news"
    "source": pl.String(),
    "doc_id": pl.String(),
    "kind": pl.String(),  # a LabelKind
    "label": pl.String(),
    "origin": pl.String(),
    "agreement": pl.Float64(),
}

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "raw": pl.String(),
    "reason": pl.String(),
}

SCHEMAS: dict[Stream, dict[str, pl.DataType]] = {
    Stream.MESSAGES: MESSAGE_SCHEMA,
    Stream.NEWS: NEWS_SCHEMA,
    Stream.EVENTS: EVENT_SCHEMA,
    Stream.ITEMS: ITEM_SCHEMA,
}

KEYS: dict[Stream, tuple[str, str]] = {
    Stream.MESSAGES: ("source", "message_id"),
    Stream.NEWS: ("source", "news_id"),
    Stream.EVENTS: ("source", "event_id"),
    Stream.ITEMS: ("source", "item_id"),
}


# What the store can hold (storage/schema.py declares the same; a test keeps them equal):
# columns that may not be null, the longest text of each bounded column (list columns: of each
# element), and the time a record happened at.
REQUIRED: dict[Stream, tuple[str, ...]] = {
    Stream.MESSAGES: ("source", "message_id", "author_role", "created_at", "text"),
    Stream.NEWS: ("source", "news_id", "headline"),
    Stream.EVENTS: ("source", "event_id", "user_id", "item_id", "kind", "seq"),
    Stream.ITEMS: ("source", "item_id"),
}
MAX_LENGTHS: dict[Stream, dict[str, int]] = {
    Stream.MESSAGES: {"source": 64, "message_id": 128, "conversation_id": 128,
                      "author_role": 16, "entity": 128, "channel": 64},
    Stream.NEWS: {"source": 64, "news_id": 128, "entities": 128},
    Stream.EVENTS: {"source": 64, "event_id": 128, "user_id": 128, "item_id": 128, "kind": 16},
    Stream.ITEMS: {"source": 64, "item_id": 128},
}
TIME_COLUMNS: dict[Stream, str] = {
    Stream.MESSAGES: "created_at", Stream.NEWS: "published_at", Stream.EVENTS: "occurred_at",
}


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A frame with the given columns and no rows."""
    return pl.DataFrame(schema=schema)


@dataclass
class Parsed:
    """What an adapter makes of one file: valid records, rejected rows, optional labels.

    ``rows_read`` counts every data row of the file, so that
    ``rows_read == len(records) + len(rejects) + in-file duplicates`` once keys are de-duplicated.
    """

    stream: Stream
    source: str
    rows_read: int
    records: pl.DataFrame
    rejects: pl.DataFrame = field(default_factory=lambda: empty_frame(REJECT_SCHEMA))
    labels: pl.DataFrame = field(default_factory=lambda: empty_frame(LABEL_SCHEMA))
    # Items described by an events file (UCI Online Retail carries item text beside purchases).
    items: pl.DataFrame | None = None
    # The format the adapter read (after auto-detection), recorded with the batch.
    format: str = "auto"
    # The text encoding the file was read in (None for binary formats), recorded too.
    encoding: str | None = None
    # The line each record came from, and the raw (redacted where customer text) text of a
    # line: what a record turned into a reject after parsing is shown with.
    lines: pl.Series | None = None
    raw_line: Callable[[int], str] | None = None

    def __post_init__(self) -> None:
        expected = list(SCHEMAS[self.stream])
        if self.records.columns != expected:
            raise ValueError(f"{self.stream} records need columns {expected}, "
                             f"got {self.records.columns}")


def as_utc(value: datetime) -> datetime:
    """A time as aware UTC; a naive one (SQLite hands those back) is read as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
