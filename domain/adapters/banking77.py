"""Banking77 (Casanueva et al. 2020): online-banking customer queries, each with its intent.

The files carry ``text,category`` and nothing else: no ids, no times, no brand. A message's id
is the sha1 of its trimmed, redacted text (the dataset has no repeated text within a split and
none across splits), and every message is dated at the dataset's first release, so the time
the store requires is honest about what is known. The category becomes an ``intent`` label.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from domain.adapters.common import blank, first_reason, sha1_ids
from domain.readers import TextTable
from domain.records import MAX_LABEL_LENGTH, UTC_TIME
from domain.redaction import redact_series

# The first commit of banking_data/ in PolyAI-LDN/task-specific-datasets (SOURCE.md).
RELEASED = datetime(2020, 2, 18, tzinfo=UTC)
BAD_INTENT = f"intent must be 1 to {MAX_LABEL_LENGTH} characters"


def intent_expr(column: str) -> pl.Expr:
    """An intent name as stored: trimmed and lower case; null when blank."""
    name = pl.col(column).str.strip_chars().str.to_lowercase()
    return pl.when(name == "").then(None).otherwise(name)


def bad_intent() -> pl.Expr:
    """True where a given intent is longer than the store keeps."""
    return pl.col("_intent").str.len_chars().fill_null(0) > MAX_LABEL_LENGTH


def banking77(table: TextTable, *, regions: tuple[str, ...]) -> pl.DataFrame:
    """Rows of a Banking77 split as customer messages with an intent each; ``regions`` are the
    national phone formats redaction recognises."""
    table.require(["text", "category"])
    # Some texts start with a line break inside their quotes ("\nHow do I unblock my PIN?").
    frame = table.frame.with_columns(pl.col("text").str.strip_chars())
    ids = sha1_ids(frame.select(redact_series(frame["text"], regions=regions)), ["text"])
    frame = frame.with_columns(
        ids.alias("message_id"), ids.alias("conversation_id"),
        pl.lit("customer").alias("author_role"),
        pl.lit(None, pl.String).alias("entity"), pl.lit(None, pl.String).alias("channel"),
        pl.lit(RELEASED).cast(UTC_TIME).alias("created_at"),
        pl.lit(None, pl.String).alias("_label"), pl.lit(None, pl.Float64).alias("_agreement"),
        intent_expr("category").alias("_intent"),
    )
    return frame.with_columns(first_reason(
        (blank("text"), "empty text"),
        (pl.col("_intent").is_null(), "missing category"),
        (bad_intent(), BAD_INTENT),
    ))
