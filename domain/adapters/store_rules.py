"""What every record must satisfy before the store sees it, whatever its format.

Adapters check what their format means; these rules check what the store can hold, for every
stream the same way: required fields present, bounded text within its column
(``domain.records.MAX_LENGTHS``), no NUL byte (PostgreSQL text cannot hold one), and times in
a sane range (a year 0001 or 2999 is a typo or a placeholder, and it would stretch every window
series from then to now). A record that breaks one becomes a reject with its line, raw text and
reason, so one bad row never fails its file and the counts still reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import polars as pl

from domain.adapters.common import REASON
from domain.records import MAX_LENGTHS, REJECT_SCHEMA, REQUIRED, TIME_COLUMNS, Parsed, Stream

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_TEXT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class StoreRules:
    """The time range records may fall in: from ``earliest`` to ``future`` after the check
    runs (a day by default: the clocks of the systems a file comes from drift, and time zones
    reach a day ahead), or to a fixed ``latest``."""

    earliest: datetime = EPOCH
    future: timedelta = timedelta(days=1)
    latest: datetime | None = None

    def latest_at(self, now: datetime) -> datetime:
        return self.latest if self.latest is not None else now + self.future


def enforce(parsed: Parsed, rules: StoreRules) -> Parsed:
    """``parsed`` with every record the store cannot hold moved to the rejects."""
    reasons = _reasons(parsed, rules)
    failed = parsed.records.select(reasons.is_not_null()).to_series()
    items = _items_the_store_holds(parsed.items)
    if not failed.any():
        return replace(parsed, items=items)
    if parsed.lines is None or parsed.raw_line is None:
        raise ValueError(f"the {parsed.stream} adapter gave no line numbers for its records")
    lines = parsed.lines.filter(failed).to_list()
    raw_line = parsed.raw_line
    new_rejects = pl.DataFrame({
        "line": lines, "raw": [raw_line(line) for line in lines],
        "reason": parsed.records.select(reasons.filter(failed)).to_series(),
    }, schema=REJECT_SCHEMA)
    records = parsed.records.filter(~failed)
    key = {"messages": "message_id", "news": "news_id"}.get(parsed.stream.value)
    labels = parsed.labels if key is None else parsed.labels.filter(
        pl.col("doc_id").is_in(records[key].implode()))
    return replace(parsed, records=records, labels=labels, items=items,
                   lines=parsed.lines.filter(~failed),
                   rejects=pl.concat([parsed.rejects, new_rejects]).sort("line"))


def _reasons(parsed: Parsed, rules: StoreRules) -> pl.Expr:
    """The first rule each record breaks, or null."""
    checks: list[pl.Expr] = []
    for column in REQUIRED[parsed.stream]:
        checks.append(pl.when(pl.col(column).is_null()).then(pl.lit(f"missing {column}")))
    limits = MAX_LENGTHS[parsed.stream]
    for column, dtype in parsed.records.schema.items():
        text = pl.col(column).list.join("") if isinstance(dtype, pl.List) else pl.col(column)
        if dtype == pl.String or isinstance(dtype, pl.List):
            checks.append(pl.when(text.str.contains("\x00", literal=True))
                          .then(pl.lit(f"{column} holds a NUL byte")))
        if column in limits:
            longest = (pl.col(column).list.eval(pl.element().str.len_chars()).list.max()
                       if isinstance(dtype, pl.List) else pl.col(column).str.len_chars())
            checks.append(pl.when(longest > limits[column]).then(pl.format(
                "{} is {} characters; the store keeps at most {}", pl.lit(column), longest,
                pl.lit(limits[column]))))
    time = TIME_COLUMNS.get(parsed.stream)
    if time is not None:
        earliest, latest = rules.earliest, rules.latest_at(datetime.now(UTC))
        when = pl.col(time).dt.strftime(_TIME_TEXT)
        checks.append(pl.when(pl.col(time) < earliest).then(pl.format(
            "{} {} is before {} UTC", pl.lit(time), when,
            pl.lit(earliest.astimezone(UTC).strftime(_TIME_TEXT)))))
        checks.append(pl.when(pl.col(time) > latest).then(pl.format(
            "{} {} is after {} UTC", pl.lit(time), when,
            pl.lit(latest.astimezone(UTC).strftime(_TIME_TEXT)))))
    return pl.coalesce(checks).alias(REASON)


def _items_the_store_holds(items: pl.DataFrame | None) -> pl.DataFrame | None:
    """Items an events file describes, without those the store cannot hold (they have no
    line of their own: the event lines that name them are rejected by the rules above)."""
    if items is None or items.is_empty():
        return items
    limit = MAX_LENGTHS[Stream.ITEMS]["item_id"]
    text = [pl.col(c) for c, t in items.schema.items() if t == pl.String]
    nul = pl.any_horizontal([c.str.contains("\x00", literal=True).fill_null(False)
                             for c in text])
    return items.filter(~nul & (pl.col("item_id").str.len_chars() <= limit))
