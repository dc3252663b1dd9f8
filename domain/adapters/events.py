"""Behaviour events: MovieLens, SASRec-style sequence files, UCI Online Retail, canonical.

Formats (``--format``):

- ``movielens``: ``u.data``, tab-separated ``user item rating unix_time``; kind ``rate``.
- ``movielens-dat``: ``ratings.dat``, ``user::item::rating::unix_time``; kind ``rate``.
- ``sequence``: one line per user, ``user item item ...`` in time order, no clock; each item is
  an ``interact`` event whose ``seq`` is its position and whose id is ``user:position``.
- ``online-retail``: UCI Online Retail; purchases (kind ``purchase``, value = quantity) and
  cancellations (``C`` invoices, kind ``return``, value = returned quantity). Rows without a
  customer, with a non-product stock code (postage, fees, manual adjustments) or a non-positive
  quantity outside a cancellation are rejected with the reason. Invoice times are UK wall-clock
  and are converted to UTC. Item titles come from the Description column.
- ``canonical``: CSV / JSON Lines / Parquet with ``user_id, item_id, kind, occurred_at`` and
  optional ``event_id`` (else sha1 of the row), ``value``, ``source``.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from domain.adapters.common import (
    REASON,
    blank,
    first_reason,
    parse_times,
    raw_reader,
    require_rows,
    sha1_ids,
    split_rejects,
)
from domain.adapters.formats import EventFormat
from domain.errors import MalformedFileError, UnknownFormatError
from domain.phones import DEFAULT_PHONE_REGIONS
from domain.readers import (
    LINE,
    RAGGED,
    TextTable,
    decode,
    pick_encoding,
    read_any,
    read_bytes,
    read_table,
)
from domain.records import EVENT_KINDS, EVENT_SCHEMA, ITEM_SCHEMA, Parsed, Stream
from domain.redaction import pseudonymise_ids, redact, redact_series

EVENT_FORMATS = tuple(EventFormat)

# UCI product codes are five digits with an optional variant letter; everything else is
# postage, bank charges, manual adjustments, samples or vouchers (SOURCE.md lists them).
_PRODUCT_CODE = r"^\d{5}[A-Za-z]{0,2}$"
_RETAIL_TIME_ZONE = "Europe/London"


def detect_event_format(path: Path, head: str) -> str:
    """The format of an events file from its name and first lines, when that is unambiguous."""
    name = path.name.lower()
    first = head.split("\n", 1)[0].strip()
    if name.endswith((".parquet", ".jsonl", ".ndjson", ".jsonl.gz")):
        return "canonical"
    if first.startswith("InvoiceNo,StockCode"):
        return "online-retail"
    if "user_id" in first and "item_id" in first:
        return "canonical"
    if re.fullmatch(r"\d+::\d+::[\d.]+::\d+", first):
        return "movielens-dat"
    if re.fullmatch(r"\d+\t\d+\t[\d.]+\t\d+", first):
        return "movielens"
    if re.fullmatch(r"\S+( \S+)+", first) and all(
        re.fullmatch(r"\S+( \S+)*", line) for line in head.split("\n")[1:5] if line
    ):
        return "sequence"
    raise UnknownFormatError(
        f"{path}: cannot tell the events format from its first line {first[:80]!r}; "
        f"name one with --format ({', '.join(EVENT_FORMATS)})"
    )


def parse_events(path: Path, *, fmt: str | None = None, source: str | None = None,
                 encoding: str | None = None,
                 phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> Parsed:
    """Read an events file into canonical events plus rejects (and items, for retail).

    Shops key users by email or phone number too: a user or event id that holds an email,
    phone, card or IBAN becomes its pseudonym (``domain.redaction.pseudonym``, the same one
    messages get), so a user's events still join, and rejected lines are redacted.
    ``phone_regions`` are the countries whose national phone formats count.
    """
    text, used = None, None
    if not str(path).endswith(".parquet"):
        raw = read_bytes(path)
        used = pick_encoding(path, raw, encoding)
        text = decode(path, raw, used)
    fmt = fmt or detect_event_format(path, (text or "")[:4096])
    parsed = _without_pii(_parse(path, text, fmt, source, used or "utf-8"), phone_regions)
    parsed.format = fmt
    parsed.encoding = used
    return parsed


def _without_pii(parsed: Parsed, regions: tuple[str, ...]) -> Parsed:
    """``parsed`` with PII-holding ids pseudonymised and rejected lines redacted."""
    users = parsed.records["user_id"].unique()
    stored = pseudonymise_ids(users, regions=regions, screen=True)
    changed = users != stored
    if changed.any():
        raw, pseudonyms = users.filter(changed), stored.filter(changed)
        # Ids this module builds start with the user id (``user:item:time``, ``user:position``)
        # and carry nothing else of the user's: the pseudonym takes that place.
        user = pl.col("user_id")
        event = pl.col("event_id")
        replaced = user.replace_strict(raw, pseudonyms, default=None)
        parsed.records = parsed.records.with_columns(
            pl.when(replaced.is_not_null() & event.str.starts_with(user))
            .then(pl.concat_str(replaced, event.str.slice(user.str.len_chars())))
            .otherwise(event).alias("event_id"),
            replaced.fill_null(user).alias("user_id"))
    parsed.records = parsed.records.with_columns(
        pseudonymise_ids(parsed.records["event_id"], regions=regions, screen=True))
    parsed.rejects = parsed.rejects.with_columns(
        redact_series(parsed.rejects[name], regions=regions) for name in ("raw", "reason"))
    raw_line = parsed.raw_line
    if raw_line is not None:
        parsed.raw_line = lambda line: redact(raw_line(line), regions=regions)
    return parsed


def _parse(path: Path, text: str | None, fmt: str, source: str | None,
           encoding: str) -> Parsed:
    if fmt == "movielens":
        return _ratings(path, text, "\t", source or "movielens")
    if fmt == "movielens-dat":
        return _ratings(path, text, "::", source or "movielens-1m")
    if fmt == "sequence":
        return _sequences(path, text or "", source or "sequence")
    if fmt == "online-retail":
        return _online_retail(path, text, source or "online-retail")
    if fmt == "canonical":
        return _canonical(read_any(path, encoding=encoding), source)
    raise UnknownFormatError(f"unknown events format {fmt!r}; use one of {EVENT_FORMATS}")


def _finish(table: TextTable, frame: pl.DataFrame, source: str,
            items: pl.DataFrame | None = None) -> Parsed:
    good, rejects = split_rejects(table, frame)
    records = good.with_columns(pl.lit(source).alias("source"), pl.col(LINE).alias("seq"))
    records = records.select([pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()])
    return Parsed(stream=Stream.EVENTS, source=source, rows_read=table.frame.height,
                  records=records, rejects=rejects, items=items, lines=good[LINE],
                  raw_line=raw_reader(table))


def _ratings(path: Path, text: str | None, separator: str, source: str) -> Parsed:
    names = ["user_id", "item_id", "rating", "timestamp"]
    body = (text or "").replace("::", "\t") if separator == "::" else text
    table = read_table(path, separator="\t", header=names, text=body)
    require_rows(table)
    frame = table.frame.with_columns(
        pl.col("rating").cast(pl.Float64, strict=False).alias("value"),
        pl.col("timestamp").cast(pl.Int64, strict=False).alias("_seconds"),
    ).with_columns(
        pl.from_epoch("_seconds", time_unit="s").dt.replace_time_zone("UTC").alias("occurred_at"),
        pl.lit("rate").alias("kind"),
        pl.concat_str("user_id", "item_id", "timestamp", separator=":").alias("event_id"),
    ).with_columns(first_reason(
        (blank("user_id"), "missing user id"),
        (blank("item_id"), "missing item id"),
        (pl.col("value").is_null(), "rating is not a number"),
        (pl.col("_seconds").is_null(), "timestamp is not a whole number of seconds"),
    ))
    return _finish(table, frame, source)


def _sequences(path: Path, text: str, source: str) -> Parsed:
    table = read_table(path, separator="\t", header=["line"], text=text)
    require_rows(table)
    frame = table.frame.with_columns(pl.col("line").str.strip_chars().str.split(" ")
                                     .alias("_tokens"))
    frame = frame.with_columns(first_reason(
        (pl.col("_tokens").list.len() < 2, "a sequence line needs a user id and an item"),
    ))
    good, rejects = split_rejects(table, frame)
    # One event per item; its position in the user's line is its order.
    events = (
        good.with_columns(pl.col("_tokens").list.first().alias("user_id"),
                          pl.col("_tokens").list.slice(1).alias("item_id"))
        .select("user_id", "item_id", LINE)
        .explode("item_id")
        .with_columns(pl.int_range(pl.len()).over("user_id").alias("_position"))
    )
    events = events.with_columns(
        pl.lit(source).alias("source"),
        pl.concat_str("user_id", pl.col("_position").cast(pl.String), separator=":")
        .alias("event_id"),
        pl.lit("interact").alias("kind"),
        pl.lit(None, pl.Float64).alias("value"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("occurred_at"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"),
    )
    # A sequence file counts events, not lines: every item on a kept line is one row read,
    # and a rejected line counts once.
    return Parsed(stream=Stream.EVENTS, source=source, rows_read=events.height + rejects.height,
                  records=events.select([pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()]),
                  rejects=rejects, lines=events[LINE], raw_line=raw_reader(table))


def _online_retail(path: Path, text: str | None, source: str) -> Parsed:
    table = read_table(path, text=text)
    table.require(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                   "CustomerID"])
    require_rows(table)
    cancelled = pl.col("InvoiceNo").str.starts_with("C")
    frame = table.frame.with_columns(
        pl.col("Quantity").cast(pl.Int64, strict=False).alias("_quantity"),
        parse_times("InvoiceDate", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M"],
                    time_zone=_RETAIL_TIME_ZONE).alias("occurred_at"),
        pl.col("CustomerID").str.strip_chars().str.replace(r"\.0$", "").alias("user_id"),
        pl.col("StockCode").str.strip_chars().str.to_uppercase().alias("item_id"),
    ).with_columns(
        pl.when(cancelled).then(pl.lit("return")).otherwise(pl.lit("purchase")).alias("kind"),
        pl.col("_quantity").abs().cast(pl.Float64).alias("value"),
    ).with_columns(first_reason(
        (blank("CustomerID"), "no CustomerID: the line cannot be tied to a user"),
        (~pl.col("item_id").str.contains(_PRODUCT_CODE),
         "StockCode is not a product (postage, fee, adjustment, sample or voucher)"),
        (pl.col("_quantity").is_null(), "Quantity is not a whole number"),
        (pl.col("occurred_at").is_null(), "InvoiceDate is not a date and time"),
        (~cancelled & (pl.col("_quantity") <= 0),
         "non-positive Quantity outside a cancellation (stock adjustment)"),
        (cancelled & (pl.col("_quantity") >= 0), "cancellation with a non-negative Quantity"),
    ))
    frame = frame.with_columns(
        sha1_ids(frame, ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice",
                         "CustomerID"]).alias("event_id"))
    return _finish(table, frame, source, items=retail_items(frame, source))


def retail_items(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """One item per product code, titled with its most frequent description."""
    products = frame.filter(pl.col(REASON).is_null() & ~blank("Description")) \
        if REASON in frame.columns else frame.filter(~blank("Description"))
    titles = (products.group_by("item_id", "Description").len()
              .sort(["item_id", "len", "Description"], descending=[False, True, False])
              .unique("item_id", keep="first", maintain_order=True))
    return titles.select(
        pl.lit(source).alias("source"), "item_id",
        pl.col("Description").str.strip_chars().alias("title"),
        pl.lit(None, pl.String).alias("description"),
        pl.lit(None, pl.List(pl.String)).alias("categories"),
    ).select([pl.col(c).cast(t) for c, t in ITEM_SCHEMA.items()])


def _canonical(table: TextTable, source: str | None) -> Parsed:
    table.require(["user_id", "item_id", "kind", "occurred_at"])
    require_rows(table)
    frame = table.frame
    name = source or "canonical"  # never the file name: see messages.parse_messages
    if "source" in frame.columns:
        frame = frame.with_columns(pl.col("source").fill_null(name))
    else:
        frame = frame.with_columns(pl.lit(name).alias("source"))
    if "value" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("value"))
    frame = frame.with_columns(
        pl.col("kind").str.strip_chars().str.to_lowercase(),
        pl.col("value").cast(pl.Float64, strict=False).alias("_value"),
        parse_times("occurred_at", ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z",
                                    "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f",
                                    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"])
        .alias("_time"),
    )
    if "event_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("event_id"))
    frame = frame.with_columns(pl.col("event_id").str.strip_chars())
    missing_id = frame.select(blank("event_id")).to_series()
    if missing_id.any():
        # Hash only the rows that need it: hashing runs at Python speed, parsing does not.
        hashed = sha1_ids(frame.filter(missing_id),
                          ["user_id", "item_id", "kind", "value", "occurred_at"])
        frame = frame.with_columns(frame["event_id"].scatter(missing_id.arg_true(), hashed))
    frame = frame.with_columns(first_reason(
        (blank("user_id"), "missing user_id"),
        (blank("item_id"), "missing item_id"),
        (~pl.col("kind").is_in(EVENT_KINDS), f"kind is not one of {', '.join(EVENT_KINDS)}"),
        (pl.col("_value").is_null() & ~blank("value"), "value is not a number"),
        (pl.col("_time").is_null(), "occurred_at is not an ISO 8601 time"),
    )).with_columns(pl.col("_value").alias("value"), pl.col("_time").alias("occurred_at"))
    good, rejects = split_rejects(table, frame)
    records = good.with_columns(pl.col(LINE).alias("seq")).select(
        [pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()])
    sources = records["source"].unique().to_list()
    if len(sources) > 1:
        raise MalformedFileError(table.path, f"one file must hold one source, found {sources}",
                                 field="source", hint="Split the file by source.")
    return Parsed(stream=Stream.EVENTS, source=sources[0] if sources else name,
                  rows_read=table.frame.height, records=records, rejects=rejects,
                  lines=good[LINE], raw_line=raw_reader(table))


__all__ = ["EVENT_FORMATS", "RAGGED", "detect_event_format", "parse_events", "retail_items"]
