"""Customer-service messages: airline tweets, TWCS support tweets and the canonical format.

PII is taken out here, before records or rejects leave the adapter, so customer emails, phones,
cards and IBANs never reach the store or a log: in the text, entity and channel it becomes a
placeholder; a message or conversation id that holds one becomes a pseudonym, so that ids stay
distinct and a conversation's rows still share one id. Rows whose key repeats stay in the
records: the store counts them as duplicates. Labels keep the first row of a repeated id.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import polars as pl

from domain.adapters.banking77 import BAD_INTENT, bad_intent, banking77, intent_expr
from domain.adapters.common import (
    BAD_LABEL,
    BAD_TIME,
    blank,
    first_reason,
    iso_times,
    name_values,
    parse_times,
    raw_reader,
    require_rows,
    split_rejects,
)
from domain.adapters.formats import MessageFormat
from domain.errors import UnknownFormatError
from domain.phones import DEFAULT_PHONE_REGIONS
from domain.readers import LINE, TextTable, peek_columns, read_any, read_table
from domain.records import (
    AUTHOR_ROLES,
    LABEL_SCHEMA,
    MESSAGE_SCHEMA,
    SENTIMENT_LABELS,
    UTC_TIME,
    LabelKind,
    Parsed,
    Stream,
)
from domain.redaction import pseudonymise_ids, redact, redact_series

FORMATS = tuple(MessageFormat)
# Columns that identify each format; a file is detected only when exactly one set fits.
_SIGNATURES = {
    "airline-tweets": {"tweet_id", "airline_sentiment", "airline", "tweet_created", "text"},
    "twcs": {"tweet_id", "author_id", "inbound", "created_at", "text"},
    "twcs-labelled": {"tweet_id", "author_id", "inbound", "created_at", "text", "company"},
    "canonical": {"message_id", "text", "created_at"},
    "banking77": {"text", "category"},
}
# ISO 8601 after normalising "T" to a space and "Z" to "+00:00"; %.f also accepts no fraction.
def parse_messages(path: Path, *, fmt: str | None = None, source: str | None = None,
                   encoding: str | None = None,
                   phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> Parsed:
    """Read one message file into redacted canonical records, rejects and labels.

    ``phone_regions`` are the countries whose national phone formats redaction recognises.
    """
    fmt = fmt or detect_message_format(path, encoding=encoding)
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown message format {fmt!r}; use one of "
                                 f"{', '.join(FORMATS)}")
    table = read_any(path, encoding=encoding) if fmt == "canonical" else \
        read_table(path, encoding=encoding)
    require_rows(table)
    # Never the file name: a renamed copy or a dated daily file is the same source.
    source = source or fmt
    # Banking77 ids are hashes of the text: of the redacted text, so no PII hides in them.
    frame = banking77(table, regions=phone_regions) if fmt == "banking77" else \
        _PARSERS[fmt](table)
    good, rejects = split_rejects(table, frame, redact=partial(redact, regions=phone_regions))
    rejects = rejects.with_columns(redact_series(rejects["reason"], regions=phone_regions))
    good = good.with_columns(
        *(pseudonymise_ids(good[name], regions=phone_regions)
          for name in ("message_id", "conversation_id")),
        *(redact_series(good[name], regions=phone_regions)
          for name in ("entity", "channel", "text")),
    )
    records = good.select(
        pl.lit(source).alias("source"), "message_id", "conversation_id", "author_role",
        "entity", "channel", pl.col("created_at").cast(UTC_TIME), "text",
    )
    origin = source if fmt == "canonical" else fmt
    labels = pl.concat([_labels(good, source, origin, LabelKind.SENTIMENT, "_label"),
                        _labels(good, source, origin, LabelKind.INTENT, "_intent")])
    return Parsed(stream=Stream.MESSAGES, source=source, rows_read=table.frame.height,
                  records=records.cast(pl.Schema(MESSAGE_SCHEMA)), rejects=rejects, labels=labels,
                  format=fmt, encoding=table.encoding, lines=good[LINE],
                  raw_line=raw_reader(table, redact))


def _labels(good: pl.DataFrame, source: str, origin: str, kind: LabelKind,
            column: str) -> pl.DataFrame:
    """The ``kind`` labels the rows carry in ``column``; a repeated id keeps its first."""
    agreement = pl.col("_agreement") if kind is LabelKind.SENTIMENT else pl.lit(None)
    return good.filter(pl.col(column).is_not_null()).select(
        pl.lit("message").alias("doc_kind"), pl.lit(source).alias("source"),
        pl.col("message_id").alias("doc_id"), pl.lit(kind.value).alias("kind"),
        pl.col(column).alias("label"), pl.lit(origin).alias("origin"),
        agreement.alias("agreement"),
    ).unique(subset=["doc_id"], keep="first", maintain_order=True).cast(pl.Schema(LABEL_SCHEMA))


def detect_message_format(path: Path, *, encoding: str | None = None) -> str:
    """The one message format whose columns the file has; ambiguity is an error."""
    columns = set(peek_columns(path, encoding=encoding))
    fits = [name for name, needed in _SIGNATURES.items() if needed <= columns]
    if "twcs-labelled" in fits:
        fits.remove("twcs")
    if len(fits) == 1:
        return fits[0]
    found = ", ".join(sorted(columns)) or "none"
    why = f"it fits {' and '.join(fits)}" if fits else f"its columns ({found}) fit none"
    raise UnknownFormatError(f"{path}: cannot tell the message format: {why}. Formats: "
                             f"{', '.join(FORMATS)}; name one with --format.")


# Each airline's Twitter handle. The published file files the tweets to @JetBlue under
# "Delta" (99.8% of its "Delta" rows address @JetBlue, 0.3% @Delta), so a tweet that does not
# mention its column's airline goes to the first airline it does address.
AIRLINE_HANDLES = {"virginamerica": "Virgin America", "united": "United",
                   "southwestair": "Southwest", "delta": "Delta", "usairways": "US Airways",
                   "americanair": "American", "jetblue": "JetBlue"}


def _addressed_airline() -> pl.Expr:
    """The airline column, unless the text names another airline's handle and not its own."""
    text = pl.col("text").str.to_lowercase()
    first = text.str.extract(r"@(" + "|".join(AIRLINE_HANDLES) + r")\b", 1)
    column = _text_or_null("airline")
    own = column.replace_strict({name: handle for handle, name in AIRLINE_HANDLES.items()},
                                default=None)
    mentions_own = own.is_not_null() & text.str.contains(pl.lit("@") + own + pl.lit(r"\b"))
    addressed = first.replace_strict(AIRLINE_HANDLES, default=None)
    return pl.when(mentions_own | addressed.is_null()).then(column).otherwise(addressed)


def _airline_tweets(table: TextTable) -> pl.DataFrame:
    table.require(["tweet_id", "airline_sentiment", "airline_sentiment_confidence", "airline",
                   "text", "tweet_created"])
    frame = table.frame.with_columns(
        _clean_id("tweet_id").alias("message_id"),
        _clean_id("tweet_id").alias("conversation_id"),
        pl.lit("customer").alias("author_role"),
        _addressed_airline().alias("entity"),
        pl.lit("twitter").alias("channel"),
        parse_times("tweet_created", ["%Y-%m-%d %H:%M:%S %z"]).alias("created_at"),
        pl.col("airline_sentiment").str.strip_chars().str.to_lowercase().alias("_label"),
        pl.col("airline_sentiment_confidence").str.strip_chars()
        .cast(pl.Float64, strict=False).alias("_agreement"),
        pl.lit(None, pl.String).alias("_intent"),
    )
    return frame.with_columns(first_reason(
        (blank("tweet_id"), "missing tweet_id"),
        (~pl.col("message_id").str.contains(r"^\d+$"), "tweet_id is not a number"),
        (blank("text"), "empty text"),
        (pl.col("created_at").is_null(), BAD_TIME),
        (~pl.col("_label").is_in(SENTIMENT_LABELS), BAD_LABEL),
        (~blank("airline_sentiment_confidence")
         & ~pl.col("_agreement").is_between(0.0, 1.0).fill_null(False),
         "airline_sentiment_confidence must be a number from 0 to 1"),
    )).with_columns(name_values((BAD_TIME, "tweet_created"),
                                (BAD_LABEL, "airline_sentiment")))


def _twcs(table: TextTable, *, labelled: bool = False) -> pl.DataFrame:
    table.require(["tweet_id", "author_id", "inbound", "created_at", "text",
                   "in_response_to_tweet_id", *(["company"] if labelled else [])])
    frame = table.frame
    if "response_tweet_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("response_tweet_id"))
    inbound = pl.col("inbound").str.strip_chars().str.to_lowercase()
    frame = frame.with_columns(
        _clean_id("tweet_id").alias("message_id"),
        _clean_id("in_response_to_tweet_id").alias("_parent"),
        pl.when(inbound == "true").then(pl.lit("customer"))
        .when(inbound == "false").then(pl.lit("agent")).alias("author_role"),
        pl.lit("twitter").alias("channel"),
        _twcs_times("created_at").alias("_created_at"),
    )
    roots = _conversation_roots(frame["message_id"].to_list(), frame["_parent"].to_list(),
                                frame["response_tweet_id"].to_list())
    conversation = pl.Series("conversation_id", roots, dtype=pl.String)
    if labelled and "main_tweet_id" in frame.columns:
        conversation = frame.select(pl.coalesce(_clean_id("main_tweet_id"), conversation))\
            .to_series().alias("conversation_id")
    entity = _twcs_entities(frame)
    if labelled:
        entity = frame.select(pl.coalesce(_text_or_null("company"), entity)).to_series()
    frame = frame.with_columns(conversation, entity.alias("entity"),
                               pl.lit(None, pl.String).alias("_label"),
                               pl.lit(None, pl.Float64).alias("_agreement"),
                               pl.lit(None, pl.String).alias("_intent"))
    return frame.with_columns(first_reason(
        (blank("tweet_id"), "missing tweet_id"),
        (blank("text"), "empty text"),
        (pl.col("_created_at").is_null(), BAD_TIME),
        (pl.col("author_role").is_null(), "inbound must be True or False"),
    )).with_columns(name_values((BAD_TIME, "created_at"),
                                ("inbound must be True or False", "inbound")),
                    ).drop("created_at").rename({"_created_at": "created_at"})


def _canonical(table: TextTable) -> pl.DataFrame:
    table.require(["message_id", "text", "created_at"])
    frame = table.frame
    for name in ("conversation_id", "author_role", "entity", "channel", "label", "agreement",
                 "intent"):
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(name))
    role = pl.col("author_role").str.strip_chars().str.to_lowercase()
    frame = frame.with_columns(
        _clean_id("message_id").alias("message_id"),
        pl.coalesce(_clean_id("conversation_id"), _clean_id("message_id"))
        .alias("conversation_id"),
        pl.when(blank("author_role")).then(pl.lit("customer")).otherwise(role)
        .alias("author_role"),
        _text_or_null("entity"), _text_or_null("channel"),
        iso_times("created_at").alias("_created_at"),
        _text_or_null("label").str.to_lowercase().alias("_label"),
        pl.col("agreement").str.strip_chars().cast(pl.Float64, strict=False).alias("_agreement"),
        intent_expr("intent").alias("_intent"),
    )
    return frame.with_columns(first_reason(
        (blank("message_id"), "missing message_id"),
        (blank("text"), "empty text"),
        (pl.col("_created_at").is_null(), BAD_TIME),
        (~pl.col("author_role").is_in(AUTHOR_ROLES), "author_role must be customer or agent"),
        (pl.col("_label").is_not_null() & ~pl.col("_label").is_in(SENTIMENT_LABELS), BAD_LABEL),
        (~blank("agreement") & ~pl.col("_agreement").is_between(0.0, 1.0).fill_null(False),
         "agreement must be a number from 0 to 1"),
        (bad_intent(), BAD_INTENT),
    )).with_columns(name_values((BAD_TIME, "created_at"),
                                ("author_role must be customer or agent", "author_role"),
                                (BAD_LABEL, "label")),
                    ).drop("created_at").rename({"_created_at": "created_at"})


def _twcs_times(column: str) -> pl.Expr:
    """TWCS' own "Tue Oct 31 22:10:47 +0000 2017", or ISO as in the labelled exports."""
    return pl.coalesce(parse_times(column, ["%a %b %d %H:%M:%S %z %Y"]), iso_times(column))


def _clean_id(column: str) -> pl.Expr:
    """Trimmed id text; null when blank. "848.0" (a pandas float column) becomes "848"."""
    return _text_or_null(column).str.replace(r"^(\d+)\.0+$", "${1}")


def _text_or_null(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text).alias(column)


def _twcs_entities(frame: pl.DataFrame) -> pl.Series:
    """The support account each tweet belongs to.

    An agent tweet belongs to its author. A customer tweet belongs to the account it
    mentions: TWCS replaced customer handles by numbers, so a named handle is a brand, and a
    handle that also writes agent tweets in the file is preferred. Failing that, the author of
    the agent tweet it answers. Spellings are unified to the most frequent one
    ("@spotifycares" -> "SpotifyCares").
    """
    author = _text_or_null("author_id")
    agents = frame.filter(pl.col("author_role") == "agent").select(
        author.str.to_lowercase()).to_series().unique().drop_nulls().to_list()
    named = pl.col("text").str.extract_all(r"@\w+").list.eval(
        pl.element().str.slice(1).filter(~pl.element().str.slice(1).str.contains(r"^\d+$")))
    preferred = named.list.eval(
        pl.element().filter(pl.element().str.to_lowercase().is_in(agents))).list.first()
    parents = frame.filter(pl.col("author_role") == "agent").select(
        pl.col("message_id").alias("_parent"), author.alias("_parent_author"),
    ).unique("_parent", keep="first")
    entities = frame.join(parents, on="_parent", how="left", maintain_order="left").select(
        pl.when(pl.col("author_role") == "agent").then(author)
        .otherwise(pl.coalesce(preferred, named.list.first(), pl.col("_parent_author")))
        .alias("entity"))
    counts = entities.drop_nulls().group_by("entity").len().with_columns(
        pl.col("entity").str.to_lowercase().alias("lower"))
    spelling = counts.sort(["len", "entity"], descending=[True, False]).unique(
        "lower", keep="first")
    return entities.select(pl.col("entity").str.to_lowercase().replace_strict(
        spelling["lower"], spelling["entity"], default=None)).to_series()


def _conversation_roots(ids: list[str | None], parents: list[str | None],
                        responses: list[str | None]) -> list[str | None]:
    """Per tweet, its highest ancestor that is a row of this file (itself if none is).

    Links come from both ``in_response_to_tweet_id`` and the ``response_tweet_id`` lists, so
    a chain runs on through a tweet missing from the file when a row names its parent
    (support_requests.csv lacks the SpotifyCares replies between customer tweets).
    """
    parent_of: dict[str, str] = {}
    for tweet, children in zip(ids, responses, strict=True):
        for child in (children or "").split(","):
            if tweet and child.strip():
                parent_of.setdefault(child.strip().removesuffix(".0"), tweet)
    for tweet, parent in zip(ids, parents, strict=True):
        if tweet and parent:
            parent_of[tweet] = parent  # a tweet's own reply link outranks the lists
    rows = {tweet for tweet in ids if tweet}
    top: dict[str, str | None] = {}
    roots: list[str | None] = []
    for tweet in ids:
        if not tweet:
            roots.append(None)
            continue
        path: list[str] = []
        node: str | None = tweet
        while node is not None and node not in top and node not in path:  # stops on cycles
            path.append(node)
            node = parent_of.get(node)
        highest = top.get(node) if node is not None else None
        for step in reversed(path):
            if highest is None and step in rows:
                highest = step
            top[step] = highest
        roots.append(top[tweet])
    return roots


_PARSERS: dict[str, Callable[[TextTable], pl.DataFrame]] = {
    "airline-tweets": _airline_tweets,
    "twcs": _twcs,
    "twcs-labelled": lambda table: _twcs(table, labelled=True),
    "canonical": _canonical,
}
