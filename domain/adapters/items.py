"""Catalogue items: MovieLens ``u.item`` and ``movies.dat``, UCI Online Retail, canonical.

Formats (``--format``):

- ``movielens-items``: ``u.item`` (Latin-1 as published, UTF-8 copies read as UTF-8;
  ``|``-separated; 19 genre flags become categories).
- ``movielens-movies``: ``movies.dat``, ``id::title::Genre|Genre``.
- ``online-retail``: one item per StockCode of a UCI Online Retail file, titled with its most
  frequent Description; rows that are not products or have no description are rejected.
- ``canonical``: CSV / JSON Lines / Parquet with ``item_id`` and optional ``title``,
  ``description``, ``categories`` (``|``-separated in CSV, a list in JSON), ``source``.

Items have one row per key, so rows repeating an item id count as duplicates.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from domain.adapters.common import blank, first_reason, raw_reader, require_rows, split_rejects
from domain.adapters.events import _PRODUCT_CODE, retail_items
from domain.adapters.formats import ItemFormat
from domain.errors import UnknownFormatError
from domain.readers import (
    LINE,
    TextTable,
    decode,
    pick_encoding,
    read_any,
    read_bytes,
    read_table,
)
from domain.records import ITEM_SCHEMA, Parsed, Stream

ITEM_FORMATS = tuple(ItemFormat)

MOVIELENS_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)


def detect_item_format(path: Path, head: str) -> str:
    name = path.name.lower()
    first = head.split("\n", 1)[0]
    if name.endswith((".parquet", ".jsonl", ".ndjson")) or "item_id" in first:
        return "canonical"
    if first.startswith("InvoiceNo,StockCode"):
        return "online-retail"
    if first.count("|") == 23:
        return "movielens-items"
    if first.count("::") == 2:
        return "movielens-movies"
    raise UnknownFormatError(
        f"{path}: cannot tell the items format from its first line {first[:80]!r}; "
        f"name one with --format ({', '.join(ITEM_FORMATS)})"
    )


def parse_items(path: Path, *, fmt: str | None = None, source: str | None = None,
                encoding: str | None = None) -> Parsed:
    """Read an items file into canonical items plus rejects."""
    if fmt is None and not str(path).endswith(".parquet"):
        # MovieLens item files are Latin-1; sniffing in Latin-1 never fails.
        fmt = detect_item_format(path, read_bytes(path)[:4096].decode("latin-1"))
    fmt = fmt or "canonical"
    parsed = _parse(path, fmt, source, encoding)
    parsed.format = fmt
    return parsed


def _legacy_text(path: Path, encoding: str | None) -> tuple[str, str]:
    """MovieLens files ship as Latin-1, but UTF-8 copies circulate: UTF-8 when the bytes are
    UTF-8, else Latin-1 (``readers.pick_encoding``); returns the text and the encoding."""
    raw = read_bytes(path)
    used = pick_encoding(path, raw, encoding, fallback="latin-1")
    return decode(path, raw, used), used


def _parse(path: Path, fmt: str, source: str | None, encoding: str | None) -> Parsed:
    if fmt == "movielens-items":
        text, used = _legacy_text(path, encoding)
        names = ["item_id", "title", "release", "video_release", "url", *MOVIELENS_GENRES]
        table = read_table(path, separator="|", header=names, text=text, encoding=used)
        flags = [pl.when(pl.col(g) == "1").then(pl.lit(g)) for g in MOVIELENS_GENRES]
        frame = table.frame.with_columns(
            pl.concat_list(flags).list.drop_nulls().alias("categories"),
            pl.col("url").alias("description"))
        return _finish(table, frame, source or "movielens")
    if fmt == "movielens-movies":
        text, used = _legacy_text(path, encoding)
        table = read_table(path, separator="\t", header=["item_id", "title", "genres"],
                           text=text.replace("::", "\t"), encoding=used)
        frame = table.frame.with_columns(pl.col("genres").str.split("|").alias("categories"),
                                         pl.lit(None, pl.String).alias("description"))
        return _finish(table, frame, source or "movielens-1m")
    if fmt == "online-retail":
        return _online_retail(path, source or "online-retail", encoding)
    if fmt == "canonical":
        return _canonical(read_any(path, encoding=encoding), source)
    raise UnknownFormatError(f"unknown items format {fmt!r}; use one of {ITEM_FORMATS}")


def _finish(table: TextTable, frame: pl.DataFrame, source: str) -> Parsed:
    require_rows(table)
    frame = frame.with_columns(first_reason(
        (blank("item_id"), "missing item_id"),
        (blank("title") & blank("description"), "an item needs a title or a description"),
    ))
    good, rejects = split_rejects(table, frame)
    records = good.with_columns(pl.lit(source).alias("source"),
                                pl.col("item_id").str.strip_chars(),
                                pl.col("title").str.strip_chars())
    records = records.select([pl.col(c).cast(t) for c, t in ITEM_SCHEMA.items()])
    return Parsed(stream=Stream.ITEMS, source=source, rows_read=table.frame.height,
                  records=records, rejects=rejects, encoding=table.encoding, lines=good[LINE],
                  raw_line=raw_reader(table))


def _online_retail(path: Path, source: str, encoding: str | None) -> Parsed:
    """Items from the invoice lines; every invoice line is a row read."""
    table = read_table(path, encoding=encoding)
    table.require(["StockCode", "Description"])
    require_rows(table)
    frame = table.frame.with_columns(
        pl.col("StockCode").str.strip_chars().str.to_uppercase().alias("item_id"),
    ).with_columns(first_reason(
        (~pl.col("item_id").str.contains(_PRODUCT_CODE),
         "StockCode is not a product (postage, fee, adjustment, sample or voucher)"),
        (blank("Description"), "no Description to describe the item with"),
    ))
    good, rejects = split_rejects(table, frame)
    items = retail_items(good, source)
    records = _repeat_per_line(good, items)
    return Parsed(stream=Stream.ITEMS, source=source, rows_read=table.frame.height,
                  records=records.drop(LINE), rejects=rejects, encoding=table.encoding,
                  lines=records[LINE], raw_line=raw_reader(table))


def _repeat_per_line(lines: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    """One record per kept invoice line, carrying its item's chosen title, first line first.

    The store keeps the first row of each key, so loaded = distinct items and every further
    line of the same item is counted as a duplicate: rows read reconcile exactly.
    """
    return (lines.select("item_id", LINE).join(items, on="item_id", how="left")
            .sort(LINE).select(*ITEM_SCHEMA, LINE))


def _canonical(table: TextTable, source: str | None) -> Parsed:
    table.require(["item_id"])
    frame = table.frame
    for column in ("title", "description", "categories"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
    frame = frame.with_columns(
        pl.col("categories").str.split("|").list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != "")))
    name = source or "canonical"  # never the file name: see messages.parse_messages
    return _finish(table, frame, name)
