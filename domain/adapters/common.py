"""Helpers every adapter uses: reject splitting, timestamps, stable ids."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import polars as pl

from domain.errors import MalformedFileError
from domain.readers import LINE, RAGGED, TextTable
from domain.records import REJECT_SCHEMA, UTC_TIME

REASON = "_reason"
BAD_TIME = "unparseable time"
BAD_LABEL = "label must be negative, neutral or positive"
ISO_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M%z", "%Y-%m-%d %H:%M:%S%.f",
               "%Y-%m-%d %H:%M", "%Y-%m-%d")


def iso_times(column: str) -> pl.Expr:
    """ISO 8601 text to UTC; a time without an offset is read as UTC."""
    normal = pl.col(column).str.strip_chars().str.replace(r"^(\d{4}-\d\d-\d\d)T", "${1} ") \
        .str.replace(r"Z$", "+00:00")
    return pl.coalesce([
        normal.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False) if "%z" in fmt
        else normal.str.strptime(pl.Datetime("us"), fmt, strict=False)
        .dt.replace_time_zone("UTC") for fmt in ISO_FORMATS
    ]).cast(UTC_TIME)


def name_values(*reasons: tuple[str, str]) -> pl.Expr:
    """``first_reason`` takes fixed reasons; append the offending value to these ones.

    Each pair is ``(reason, column)``: a row rejected for ``reason`` gets the column's value,
    or "is empty" when the field is blank or missing (the reason itself is always kept).
    """
    expr: pl.Expr = pl.col(REASON)
    for reason, column in reasons:
        value = pl.col(column).cast(pl.String).str.slice(0, 60)
        named = pl.when(value.is_null() | (value.str.strip_chars() == "")).then(
            pl.format("{} ({} is empty)", pl.lit(reason), pl.lit(column))).otherwise(
            pl.format("{} ({} is '{}')", pl.lit(reason), pl.lit(column), value))
        expr = pl.when(pl.col(REASON) == reason).then(named).otherwise(expr)
    return expr.alias(REASON)


def first_reason(*checks: tuple[pl.Expr, str]) -> pl.Expr:
    """The reason of the first failing check, or null when a row passes them all.

    Each check is ``(failed, reason)``; a row that failed to split into fields is always
    rejected for that first.
    """
    expr: pl.Expr = pl.col(RAGGED)
    for failed, reason in checks:
        expr = pl.coalesce(expr, pl.when(failed).then(pl.lit(reason)))
    return expr.alias(REASON)


def raw_reader(table: TextTable, redact: Callable[[str], str] | None = None
               ) -> Callable[[int], str]:
    """The raw text of the record starting on a line (all of its lines), redacted by ``redact``
    (customer messages) before it is kept anywhere. A NUL byte shows as ``\\x00``: a reject
    must be storable too, and PostgreSQL text cannot hold one."""
    starts = table.frame[LINE].to_list()
    next_start = dict(zip(starts, [*starts[1:], len(table.lines) + 1], strict=True))

    def raw(line: int) -> str:
        text = table.raw(line, next_start.get(line, line + 1) - 1).replace("\x00", "\\x00")
        return redact(text) if redact else text

    return raw


def split_rejects(table: TextTable, frame: pl.DataFrame,
                  redact: Callable[[str], str] | None = None
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows with a ``_reason`` into rejects (line, raw text, reason); return the rest.

    ``redact`` cleans the raw text of customer messages before it is kept.
    """
    bad = frame.filter(pl.col(REASON).is_not_null())
    good = frame.filter(pl.col(REASON).is_null()).drop(REASON)
    if bad.is_empty():
        return good, pl.DataFrame(schema=REJECT_SCHEMA)
    raw = raw_reader(table, redact)
    rejects = pl.DataFrame({"line": bad[LINE], "raw": [raw(line) for line in bad[LINE]],
                            "reason": bad[REASON]}, schema=REJECT_SCHEMA)
    return good, rejects


def parse_times(column: str, formats: Iterable[str], *, time_zone: str = "UTC") -> pl.Expr:
    """Parse text times with the first format that fits, converted to UTC.

    Formats with ``%z`` carry their own offset; the others are read in ``time_zone``
    (ambiguous or missing wall-clock times at a DST change resolve to the earlier instant).
    """
    # ISO 8601's "Z" is an offset of zero, which strptime's %z does not accept.
    value = pl.col(column).str.strip_chars().str.replace(r"[Zz]$", "+00:00")
    candidates: list[pl.Expr] = []
    for fmt in formats:
        dtype = pl.Datetime("us", "UTC") if "%z" in fmt else pl.Datetime("us")
        parsed = value.str.strptime(dtype, fmt, strict=False)
        if "%z" not in fmt:
            parsed = parsed.dt.replace_time_zone(time_zone, ambiguous="earliest",
                                                 non_existent="null")
        candidates.append(parsed.dt.convert_time_zone("UTC").cast(UTC_TIME))
    return pl.coalesce(candidates)


def sha1_ids(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """Stable ids: sha1 of the given fields joined by a unit separator (nulls as empty)."""
    joined = frame.select(
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in columns],
                      separator="\x1f")
    ).to_series()
    return pl.Series([hashlib.sha1(v.encode("utf-8")).hexdigest() for v in joined],
                     dtype=pl.String)


def blank(column: str) -> pl.Expr:
    """True where a text field is null or only white space."""
    return pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")


def require_rows(table: TextTable) -> None:
    """An input with a header but no rows is almost always a mistake worth stopping for."""
    if table.frame.is_empty():
        raise MalformedFileError(table.path, "the file has no data rows",
                                 line=table.header_lines + 1,
                                 hint="Check that the export finished.")
