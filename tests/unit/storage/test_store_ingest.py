"""Writing batches: exact counts, idempotent re-runs, overlaps, all-or-nothing, both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from domain.adapters.events import parse_events
from domain.readers import file_sha256
from domain.records import Parsed, Stream
from flows.ingest import ingest_file
from storage.ingest import CountMismatchError, record_batch
from storage.schema import Event, IngestBatch, Item, Reject

HEADER = "event_id,user_id,item_id,kind,value,occurred_at\n"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def count(engine: Engine, model: type, **where: object) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_batch_counts_reconcile_and_rejects_keep_line_raw_and_reason(engine: Engine,
                                                                     tmp_path: Path) -> None:
    path = write(tmp_path / "clicks.csv", [
        "e1,u1,i1,click,,2024-03-01T10:00:00Z",
        "e2,u1,i2,view,,2024-03-01T10:05:00Z",
        "e1,u1,i1,click,,2024-03-01T10:00:00Z",
        "e3,,i1,view,,2024-03-01T10:06:00Z",
    ])
    summary = ingest_file(engine=engine, stream=Stream.EVENTS, path=path)
    assert (summary.rows_read, summary.loaded, summary.rejected, summary.duplicate) == (4, 2, 1, 1)
    assert summary.reconciles() and not summary.skipped
    with engine.connect() as connection:
        rejects = connection.execute(select(Reject.line, Reject.raw, Reject.reason)).all()
        times = connection.execute(select(Event.occurred_at).order_by(Event.seq)).scalars().all()
    assert rejects == [(5, "e3,,i1,view,,2024-03-01T10:06:00Z", "missing user_id")]
    assert [t.replace(tzinfo=UTC) for t in times] == [datetime(2024, 3, 1, 10, 0, tzinfo=UTC),
                                                       datetime(2024, 3, 1, 10, 5, tzinfo=UTC)]


def test_reingesting_the_same_file_is_a_no_op(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "clicks.csv", ["e1,u1,i1,click,,2024-03-01T10:00:00Z"])
    first = ingest_file(engine=engine, stream=Stream.EVENTS, path=path)
    again = ingest_file(engine=engine, stream=Stream.EVENTS, path=path)
    assert again.skipped and again.batch_id == first.batch_id
    assert count(engine, IngestBatch) == 1
    assert count(engine, Event) == 1


def test_overlapping_file_adds_only_new_keys(engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine=engine, stream=Stream.EVENTS, source="clicks",
                path=write(tmp_path / "day1.csv", ["e1,u1,i1,click,,2024-03-01",
                                                   "e2,u1,i2,click,,2024-03-01"]))
    second = ingest_file(engine=engine, stream=Stream.EVENTS, source="clicks",
                         path=write(tmp_path / "day2.csv", ["e2,u1,i2,click,,2024-03-01",
                                                            "e3,u2,i2,click,,2024-03-02"]))
    assert (second.loaded, second.duplicate) == (1, 1)
    with engine.connect() as connection:
        ids = connection.execute(select(Event.event_id).order_by(Event.event_id)).scalars()
        assert list(ids) == ["e1", "e2", "e3"]


def test_a_batch_that_does_not_reconcile_leaves_the_store_as_it_was(engine: Engine,
                                                                    tmp_path: Path) -> None:
    path = write(tmp_path / "clicks.csv", ["e1,u1,i1,click,,2024-03-01"])
    parsed = parse_events(path)
    broken = Parsed(stream=parsed.stream, source=parsed.source, rows_read=5,
                    records=parsed.records)
    with pytest.raises(CountMismatchError, match="nothing was written"):
        record_batch(engine=engine, parsed=broken, path=path, file_sha256=file_sha256(path),
                     format="canonical")
    assert count(engine, IngestBatch) == 0
    assert count(engine, Event) == 0


def test_retail_file_brings_its_items(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "retail.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
        "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850,United Kingdom\n",
        encoding="utf-8")
    summary = ingest_file(engine=engine, stream=Stream.EVENTS, path=path)
    assert (summary.loaded, summary.items_loaded) == (2, 2)
    with engine.connect() as connection:
        titles = connection.execute(select(Item.item_id, Item.title).order_by(Item.item_id))
        assert titles.all() == [("22633", "HAND WARMER"), ("85123A", "WHITE HEART")]


valid_rows = st.tuples(st.sampled_from(["e1", "e2", "e3", "e4", "e5", "e6"]),
                       st.sampled_from(["u1", "u2"]), st.sampled_from(["i1", "i2", "i3"]),
                       st.sampled_from(["view", "click", "purchase"]))
bad_rows = st.sampled_from([
    "e9,,i1,view,,2024-01-01", "e9,u1,,view,,2024-01-01", "e9,u1,i1,fly,,2024-01-01",
    "e9,u1,i1,view,x,2024-01-01", "e9,u1,i1,view,,not-a-date", "e9,u1,i1,view,,2024-01-01,extra",
    "e9,u1", ",,,,,",
])
rows = st.lists(st.one_of(valid_rows.map(lambda r: f"{r[0]},{r[1]},{r[2]},{r[3]},,2024-01-01"),
                          bad_rows), min_size=1, max_size=30)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=rows, second=rows)
def test_counts_reconcile_and_reruns_never_duplicate(engine: Engine, tmp_path: Path,
                                                     first: list[str],
                                                     second: list[str]) -> None:
    source = f"p{uuid.uuid4().hex[:10]}"
    folder = tmp_path / source
    folder.mkdir()
    loaded: set[str] = set()
    seen: list[list[str]] = []
    for index, lines in enumerate((first, second, first)):
        path = write(folder / f"f{index}.csv", lines)
        summary = ingest_file(engine=engine, stream=Stream.EVENTS, path=path, source=source)
        assert summary.reconciles()
        # A file with the same bytes as one already ingested is skipped whole.
        assert summary.skipped == (lines in seen)
        seen.append(lines)
        if summary.skipped:
            continue
        valid = [line for line in lines if not _is_bad(line)]
        new = {line.split(",")[0] for line in valid} - loaded
        assert summary.loaded == len(new)
        assert summary.rejected == len(lines) - len(valid)
        loaded |= new
    assert count(engine, Event, source=source) == len(loaded)
    with engine.connect() as connection:
        ids = connection.execute(select(Event.event_id).where(Event.source == source)).all()
    assert len(ids) == len({i for (i,) in ids})


def _is_bad(line: str) -> bool:
    fields = line.split(",")
    return (len(fields) != 6 or not all(fields[:4]) or fields[3] not in
            {"view", "click", "purchase"} or fields[4] not in {""} or
            fields[5] != "2024-01-01")


def test_parquet_and_jsonl_canonical_files_load_the_same(engine: Engine,
                                                        tmp_path: Path) -> None:
    frame = pl.DataFrame({"event_id": ["a", "b"], "user_id": ["u", "u"], "item_id": ["1", "2"],
                          "kind": ["view", "view"], "occurred_at": ["2024-01-01", "2024-01-02"]})
    frame.write_parquet(tmp_path / "p.parquet")
    frame.write_ndjson(tmp_path / "j.jsonl")
    a = ingest_file(engine=engine, stream=Stream.EVENTS, path=tmp_path / "p.parquet",
                    source="same")
    b = ingest_file(engine=engine, stream=Stream.EVENTS, path=tmp_path / "j.jsonl",
                    source="same")
    assert (a.loaded, b.loaded, b.duplicate) == (2, 0, 2)
