"""Financial news: dated headline files, analyst-rating headlines, PhraseBank, SEntFiN
(``domain.adapters.sentfin``) and canonical.

Entities come from cashtags, ticker columns and the company alias table (domain.entities).
A news id not given by the file is the sha1 of its UTC time and headline, so re-ingesting
a file, or an overlapping one, yields the same keys; repeated rows stay in the records and the
store counts them as duplicates.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl

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
    sha1_ids,
    split_rejects,
)
from domain.adapters.formats import NewsFormat
from domain.adapters.sentfin import ORIGIN as SENTFIN_ORIGIN
from domain.adapters.sentfin import sentfin
from domain.entities import Aliases, load_aliases, tag_entities
from domain.errors import MalformedFileError, UnknownFormatError
from domain.readers import (
    LINE,
    RAGGED,
    TextTable,
    decode,
    peek_columns,
    pick_encoding,
    read_any,
    read_bytes,
    read_table,
)
from domain.records import (
    LABEL_SCHEMA,
    NEWS_SCHEMA,
    SENTIMENT_LABELS,
    UTC_TIME,
    LabelKind,
    Parsed,
    Stream,
)

FORMATS = tuple(NewsFormat)
_HEADLINE_SOURCES = ("cnbc", "guardian", "reuters")
_PHRASEBANK_LINE = re.compile(r"@\s*(negative|neutral|positive)\s*$")
# Sentences_50Agree.txt: at least half the annotators agreed on the label (Malo et al. 2014).
_PHRASEBANK_LEVELS = {"50": 0.5, "66": 0.66, "75": 0.75, "All": 1.0}
# Benzinga stamps times in US Eastern ("-04:00"); its date-only rows are read in that zone too.
_BENZINGA_ZONE = "America/New_York"


def parse_news(path: Path, *, fmt: str | None = None, source: str | None = None,
               encoding: str | None = None, aliases: Aliases | None = None) -> Parsed:
    """Read one news file into canonical records (entities tagged), rejects and labels."""
    fmt = fmt or detect_news_format(path)
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown news format {fmt!r}; use one of {', '.join(FORMATS)}")
    source = source or _default_source(path, fmt)
    table, frame, origin = _PARSERS[fmt](path, encoding)
    require_rows(table)
    good, rejects = split_rejects(table, frame)
    if fmt in ("phrasebank", "sentfin"):
        ids = sha1_ids(good, ["headline"])  # no dates: the sentence alone is the identity
    else:
        extra = ["_id_extra"] if "_id_extra" in good.columns else []
        good = good.with_columns(
            pl.col("published_at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("_when"))
        ids = sha1_ids(good, ["_when", "headline", *extra])
    good = good.with_columns(pl.coalesce(pl.col("_news_id"), ids).alias("news_id"))
    entities = tag_entities(good["headline"], aliases or load_aliases(None), good["_tickers"])
    records = good.select(
        pl.lit(source).alias("source"), "news_id", pl.col("published_at").cast(UTC_TIME),
        "headline", "body", entities.alias("entities"), "url",
    ).cast(pl.Schema(NEWS_SCHEMA))
    labels = good.filter(pl.col("_label").is_not_null()).select(
        pl.lit("news").alias("doc_kind"), pl.lit(source).alias("source"),
        pl.col("news_id").alias("doc_id"), pl.lit(LabelKind.SENTIMENT.value).alias("kind"),
        pl.col("_label").alias("label"),
        pl.lit(origin or source).alias("origin"), pl.col("_agreement").alias("agreement"),
    ).unique(subset=["doc_id"], keep="first", maintain_order=True).cast(pl.Schema(LABEL_SCHEMA))
    return Parsed(stream=Stream.NEWS, source=source, rows_read=table.frame.height,
                  records=records, rejects=rejects, labels=labels, format=fmt,
                  encoding=table.encoding, lines=good[LINE], raw_line=raw_reader(table))


def detect_news_format(path: Path) -> str:
    """The news format of a file, from its first line; ambiguity or no fit is an error."""
    first = read_bytes(path).split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    if _PHRASEBANK_LINE.search(first):
        return "phrasebank"
    columns = [c.lower() for c in peek_columns(path)]
    if {"title", "decisions"} <= set(columns):
        return "sentfin"
    if {"headline", "url", "publisher", "date", "stock"} <= set(columns):
        return "analyst-ratings"
    if {"headline", "published_at"} <= set(columns):
        return "canonical"
    if columns in (["date", "headlines"], ["date", "headline"]) or \
            (len(columns) == 2 and _is_date(columns[0])):
        return "headlines"
    raise UnknownFormatError(f"{path}: cannot tell the news format from its first line "
                             f"({first[:80]!r}). Formats: {', '.join(FORMATS)}; name one "
                             "with --format.")


_Result = tuple[TextTable, pl.DataFrame, str | None]


def _headlines(path: Path, encoding: str | None) -> _Result:
    """``date,headline(s)``; Guardian and Reuters files have no header row."""
    raw = read_bytes(path)
    used = pick_encoding(path, raw, encoding)
    text = decode(path, raw, used)
    first = next(csv.reader([text.split("\n", 1)[0].strip()]), [])
    headerless = bool(first) and _is_date(first[0])
    table = read_table(path, text=text, header=["date", "headline"] if headerless else None,
                       encoding=used)
    column = "headlines" if "headlines" in table.header and "headline" not in table.header \
        else "headline"
    table.require(["date", column])
    frame = table.frame.with_columns(
        pl.coalesce(parse_times("date", ["%Y-%m-%d"]), iso_times("date")).alias("published_at"),
        pl.col(column).str.strip_chars().alias("headline"),
        *_absent("body", "url", "_news_id", "_tickers", "_label"),
        pl.lit(None, pl.Float64).alias("_agreement"))
    return table, _reasons(frame, "date"), None


def _analyst_ratings(path: Path, encoding: str | None) -> _Result:
    """Benzinga headlines with the ticker they concern (``stock``)."""
    raw = read_bytes(path)
    used = pick_encoding(path, raw, encoding)
    text = decode(path, raw, used)
    records = list(_first_records(text, 6))
    if len(records) > 1 and all(len(r) == len(records[0]) + 1 for r in records[1:]):
        # Written by pandas with its index twice: every data row has one field more than
        # the header. Name the extra leading field rather than shift every column.
        text = "_index," + text
    table = read_table(path, text=text, encoding=used)
    table.require(["headline", "date", "stock"])
    frame = table.frame.with_columns(
        parse_times("date", ["%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S"],
                    time_zone=_BENZINGA_ZONE).alias("published_at"),
        pl.col("headline").str.strip_chars(),
        (pl.col("url").str.strip_chars() if "url" in table.header else pl.lit(None, pl.String))
        .alias("url"),
        pl.col("stock").str.strip_chars().alias("_tickers"),
        # The same headline is filed under each ticker it concerns: one record per ticker.
        pl.col("stock").str.strip_chars().str.to_uppercase().alias("_id_extra"),
        *_absent("body", "_news_id", "_label"), pl.lit(None, pl.Float64).alias("_agreement"))
    return table, _reasons(frame, "date"), None


def _phrasebank(path: Path, encoding: str | None) -> _Result:
    """``sentence@label`` per line, split on the last ``@`` (a sentence may contain one)."""
    raw = read_bytes(path)
    # PhraseBank ships as Latin-1, but copies re-encoded to UTF-8 circulate: take the one that
    # fits (Latin-1 text with accents is almost never valid UTF-8).
    used = pick_encoding(path, raw, encoding, fallback="latin-1")
    text = decode(path, raw, used)
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    elif lines and not _PHRASEBANK_LINE.search(lines[-1]):
        raise MalformedFileError(path, "the last line has no '@label' and the file does not "
                                 "end with a newline: it looks truncated", line=len(lines),
                                 field="label", hint="Copy the file again from its source.")
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    frame = pl.DataFrame({LINE: [n for n, _ in numbered], "line": [t for _, t in numbered]},
                         schema={LINE: pl.Int64, "line": pl.String})
    frame = frame.with_columns(
        pl.lit(None, pl.String).alias(RAGGED),
        pl.col("line").str.extract(r"^(.*)@[^@]*$", 1).str.strip_chars().alias("headline"),
        pl.col("line").str.extract(r"@([^@]*)$", 1).str.strip_chars().str.to_lowercase()
        .alias("_label"),
        *_absent("body", "url", "_news_id", "_tickers"),
        pl.lit(None, UTC_TIME).alias("published_at"))
    table = TextTable(path=path, header=["line"], frame=frame.select(LINE, RAGGED, "line"),
                      lines=lines, header_lines=0, encoding=used)
    level = re.search(r"Sentences_(\d+|All)Agree", path.name)
    frame = frame.with_columns(pl.lit(_PHRASEBANK_LEVELS.get(level.group(1)) if level else None,
                                      pl.Float64).alias("_agreement"))
    frame = frame.with_columns(first_reason(
        (~pl.col("line").str.contains("@"), "no '@' between sentence and label"),
        (blank("headline"), "empty sentence"),
        (~pl.col("_label").is_in(SENTIMENT_LABELS), BAD_LABEL),
    )).with_columns(name_values((BAD_LABEL, "_label")))
    origin = f"phrasebank-{level.group(1).lower()}" if level else "phrasebank"
    return table, frame, origin


def _sentfin(path: Path, encoding: str | None) -> _Result:
    table = read_table(path, encoding=encoding)
    return table, sentfin(table), SENTFIN_ORIGIN


def _canonical(path: Path, encoding: str | None) -> _Result:
    table = read_any(path, encoding=encoding)
    table.require(["headline", "published_at"])
    frame = table.frame.with_columns(*_absent(*(c for c in (
        "news_id", "body", "url", "entities", "tickers", "label", "agreement")
        if c not in table.header)))
    frame = frame.with_columns(
        iso_times("published_at").alias("_published_at"),
        pl.col("headline").str.strip_chars(),
        _text_or_null("news_id").alias("_news_id"), _text_or_null("body"), _text_or_null("url"),
        pl.concat_str([pl.col("entities"), pl.col("tickers")], separator="|",
                      ignore_nulls=True).alias("_tickers"),
        _text_or_null("label").str.to_lowercase().alias("_label"),
        pl.col("agreement").str.strip_chars().cast(pl.Float64, strict=False).alias("_agreement"),
    )
    frame = frame.with_columns(first_reason(
        (blank("headline"), "empty headline"),
        (~blank("published_at") & pl.col("_published_at").is_null(), BAD_TIME),
        (pl.col("_label").is_not_null() & ~pl.col("_label").is_in(SENTIMENT_LABELS), BAD_LABEL),
        (~blank("agreement") & ~pl.col("_agreement").is_between(0.0, 1.0).fill_null(False),
         "agreement must be a number from 0 to 1"),
    )).with_columns(name_values((BAD_TIME, "published_at"), (BAD_LABEL, "label")))
    return table, frame.drop("published_at").rename({"_published_at": "published_at"}), None


def _reasons(frame: pl.DataFrame, date_column: str) -> pl.DataFrame:
    """The rejects shared by the dated headline formats."""
    return frame.with_columns(first_reason(
        (blank(date_column), f"missing {date_column}"),
        (pl.col("published_at").is_null(), BAD_TIME),
        (blank("headline"), "empty headline"),
    )).with_columns(name_values((BAD_TIME, date_column)))


def _absent(*names: str) -> list[pl.Expr]:
    return [pl.lit(None, pl.String).alias(name) for name in names]


def _text_or_null(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text).alias(column)


def _first_records(text: str, count: int) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text[:65536], newline=""))
    try:
        return [row for _, row in zip(range(count), reader, strict=False)]
    except csv.Error:
        return []  # the full read reports the problem with its line


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _default_source(path: Path, fmt: str) -> str:
    if fmt in ("phrasebank", "sentfin"):
        return fmt
    name = path.name.lower()
    known = [s for s in _HEADLINE_SOURCES if s in name]
    if fmt == "headlines" and len(known) == 1:
        return known[0]
    # Otherwise the format's name, never the file's: a renamed copy or a dated daily file is the
    # same source, so its headlines are stored once.
    return fmt


_PARSERS: dict[str, Callable[[Path, str | None], _Result]] = {
    "headlines": _headlines,
    "analyst-ratings": _analyst_ratings,
    "phrasebank": _phrasebank,
    "sentfin": _sentfin,
    "canonical": _canonical,
}
