"""Rows the store cannot hold become rejects with a reason, on SQLite and PostgreSQL alike:
missing required fields, times outside the sane range, values longer than their column, NUL
bytes. One bad row never fails its file; the counts still reconcile."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from domain.adapters import StoreRules, parse_file
from domain.errors import InvalidInputError
from domain.records import Stream
from flows.ingest import ingest_file
from storage.schema import Event, IngestBatch, Message, News, Reject

NOW = datetime(2026, 6, 1, tzinfo=UTC)
RULES = StoreRules(latest=datetime(2026, 6, 2, tzinfo=UTC))


def count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def rejects(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        return [(int(line), str(reason)) for line, reason in connection.execute(
            select(Reject.line, Reject.reason).order_by(Reject.line))]


def messages_file(path: Path, rows: list[str]) -> Path:
    path.write_text("message_id,text,created_at,entity\n" + "".join(r + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_a_canonical_message_without_created_at_is_a_reject(engine: Engine,
                                                             tmp_path: Path) -> None:
    path = messages_file(tmp_path / "m.csv", ["m1,hello there,,acme",
                                              "m2,fine,2024-01-01T00:00:00Z,acme"])
    summary = ingest_file(engine=engine, stream=Stream.MESSAGES, path=path, rules=RULES)
    assert (summary.rows_read, summary.loaded, summary.rejected) == (2, 1, 1)
    assert rejects(engine) == [(2, "unparseable time (created_at is empty)")]


def test_a_json_line_with_a_null_time_is_a_reject(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"message_id": "m1", "text": "hi", "created_at": null}\n'
                    '{"message_id": "m2", "text": "ok", "created_at": "2024-01-01"}\n',
                    encoding="utf-8")
    parsed = parse_file(Stream.MESSAGES, path, rules=RULES)
    assert parsed.records["message_id"].to_list() == ["m2"]
    assert parsed.rejects.rows() == [(1, parsed.rejects["raw"][0],
                                      "unparseable time (created_at is empty)")]


def test_times_outside_the_sane_range_are_rejects(engine: Engine, tmp_path: Path) -> None:
    path = messages_file(tmp_path / "m.csv", [
        "m1,year one,0001-01-01T00:00:00Z,acme",
        "m2,far future,2999-01-01T00:00:00Z,acme",
        "m3,before the epoch,1969-12-31T23:59:59Z,acme",
        "m4,tomorrow morning,2026-06-01T18:00:00Z,acme",
        "m5,just right,2024-01-01T00:00:00Z,acme",
        "m6,bc,-0044-03-15T00:00:00Z,acme",
    ])
    summary = ingest_file(engine=engine, stream=Stream.MESSAGES, path=path, rules=RULES)
    assert (summary.loaded, summary.rejected) == (2, 4)
    assert rejects(engine) == [
        (2, "created_at 0001-01-01 00:00:00 is before 1970-01-01 00:00:00 UTC"),
        (3, "created_at 2999-01-01 00:00:00 is after 2026-06-02 00:00:00 UTC"),
        (4, "created_at 1969-12-31 23:59:59 is before 1970-01-01 00:00:00 UTC"),
        (7, "unparseable time (created_at is '-0044-03-15T00:00:00Z')"),
    ]


def test_the_time_range_is_a_setting(tmp_path: Path) -> None:
    path = messages_file(tmp_path / "m.csv", ["m1,old,2001-01-01T00:00:00Z,acme"])
    strict = StoreRules(earliest=datetime(2010, 1, 1, tzinfo=UTC), latest=NOW)
    assert parse_file(Stream.MESSAGES, path, rules=strict).rejects["reason"].to_list() == [
        "created_at 2001-01-01 00:00:00 is before 2010-01-01 00:00:00 UTC"]
    assert parse_file(Stream.MESSAGES, path, rules=RULES).records.height == 1


def test_news_and_event_times_are_checked_too(tmp_path: Path) -> None:
    news = tmp_path / "n.csv"
    news.write_text("headline,published_at\nShares jump,2999-01-01\nShares fall,2024-01-01\n",
                    encoding="utf-8")
    parsed = parse_file(Stream.NEWS, news, rules=RULES)
    assert parsed.records["headline"].to_list() == ["Shares fall"]
    assert parsed.rejects["reason"].to_list() == [
        "published_at 2999-01-01 00:00:00 is after 2026-06-02 00:00:00 UTC"]
    events = tmp_path / "e.csv"
    events.write_text("event_id,user_id,item_id,kind,occurred_at\n"
                      "e1,u1,i1,view,0001-01-01\ne2,u1,i2,view,2024-01-01\n", encoding="utf-8")
    parsed = parse_file(Stream.EVENTS, events, rules=RULES)
    assert parsed.records["event_id"].to_list() == ["e2"]
    assert parsed.rejects.rows() == [
        (2, "e1,u1,i1,view,0001-01-01",
         "occurred_at 0001-01-01 00:00:00 is before 1970-01-01 00:00:00 UTC")]


def test_values_the_store_cannot_hold_are_rejects_on_every_database(engine: Engine,
                                                                    tmp_path: Path) -> None:
    long_id, long_entity = "x" * 200, "Acme " * 40
    path = messages_file(tmp_path / "m.csv", [
        f"{long_id},long id,2024-01-01T00:00:00Z,acme",
        f"m2,long entity,2024-01-01T00:00:00Z,{long_entity}",
        "m3,nul \x00 byte,2024-01-01T00:00:00Z,acme",
        "m4,fine,2024-01-01T00:00:00Z,acme",
    ])
    summary = ingest_file(engine=engine, stream=Stream.MESSAGES, path=path, rules=RULES)
    assert (summary.rows_read, summary.loaded, summary.rejected) == (4, 1, 3)
    assert rejects(engine) == [
        (2, "message_id is 200 characters; the store keeps at most 128"),
        (3, "entity is 199 characters; the store keeps at most 128"),
        (4, "text holds a NUL byte"),
    ]
    assert count(engine, Message) == 1


def test_long_event_ids_are_rejects_on_every_database(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("event_id,user_id,item_id,kind,occurred_at\n"
                    f"e1,{'u' * 129},i1,view,2024-01-01\n"
                    "e2,u2,i\x002,view,2024-01-01\n"
                    "e3,u3,i3,view,2024-01-01\n", encoding="utf-8")
    summary = ingest_file(engine=engine, stream=Stream.EVENTS, path=path, rules=RULES)
    assert (summary.loaded, summary.rejected) == (1, 2)
    assert rejects(engine) == [(2, "user_id is 129 characters; the store keeps at most 128"),
                               (3, "item_id holds a NUL byte")]


def test_a_source_name_longer_than_the_store_keeps_is_refused_at_once(tmp_path: Path) -> None:
    path = messages_file(tmp_path / "m.csv", ["m1,hi,2024-01-01T00:00:00Z,acme"])
    with pytest.raises(InvalidInputError, match="source name of 70 characters; at most 64"):
        parse_file(Stream.MESSAGES, path, source="s" * 70, rules=RULES)


@pytest.mark.parametrize("stream, header, row", [
    (Stream.MESSAGES, "message_id,text,created_at", "m1,hello,2024-01-01T00:00:00Z"),
    (Stream.NEWS, "headline,published_at", "Shares jump,2024-01-01"),
    (Stream.EVENTS, "event_id,user_id,item_id,kind,occurred_at", "e1,u1,i1,view,2024-01-01"),
    (Stream.ITEMS, "item_id,title", "i1,Mug"),
])
def test_a_renamed_copy_of_a_canonical_file_adds_nothing(engine: Engine, tmp_path: Path,
                                                         stream: Stream, header: str,
                                                         row: str) -> None:
    first = tmp_path / "daily-2024-01-01.csv"
    first.write_text(f"{header}\n{row}\n", encoding="utf-8")
    copy = tmp_path / "daily-2024-01-01 (1).csv"
    copy.write_bytes(first.read_bytes())
    loaded = ingest_file(engine=engine, stream=stream, path=first, rules=RULES)
    again = ingest_file(engine=engine, stream=stream, path=copy, rules=RULES)
    assert loaded.loaded == 1
    assert again.skipped and again.batch_id == loaded.batch_id
    assert count(engine, IngestBatch) == 1


def test_two_ingests_of_one_file_at_once_load_it_once(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("event_id,user_id,item_id,kind,occurred_at\n" + "".join(
        f"e{i},u{i % 7},i{i % 11},view,2024-01-01T00:00:00Z\n" for i in range(500)),
        encoding="utf-8")
    both_parsed = threading.Barrier(2, timeout=60)
    results: list[object] = []

    def ingest() -> None:
        try:
            results.append(ingest_file(
                engine=engine, stream=Stream.EVENTS, path=path, rules=RULES,
                on_stage=lambda stage: both_parsed.wait() if stage == "write" else None))
        except Exception as exc:  # the assertion below shows what went wrong
            results.append(exc)

    workers = [threading.Thread(target=ingest) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert sorted((r.loaded, r.skipped) for r in results) == [  # type: ignore[attr-defined]
        (500, False), (500, True)]
    assert count(engine, Event) == 500 and count(engine, IngestBatch) == 1


def test_news_from_a_dated_file_name_keeps_one_source(engine: Engine, tmp_path: Path) -> None:
    for day in ("01", "02"):
        path = tmp_path / f"headlines-2024-01-{day}.csv"
        path.write_text(f"date,headline\n2024-01-01,Shares jump\n2024-01-{day},Day {day}\n",
                        encoding="utf-8")
        ingest_file(engine=engine, stream=Stream.NEWS, path=path, rules=RULES)
    assert count(engine, News) == 3  # the shared headline is stored once


def test_a_batch_records_the_encoding_it_was_read_in(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "movies.dat"
    path.write_bytes("1::Lumière (1998)::Drama\n".encode("latin-1"))
    summary = ingest_file(engine=engine, stream=Stream.ITEMS, path=path, rules=RULES)
    assert summary.encoding == "latin-1"
    with engine.connect() as connection:
        assert connection.execute(select(IngestBatch.encoding)).scalar_one() == "latin-1"


def test_the_rules_know_the_columns_the_schema_declares() -> None:
    from domain.records import MAX_LENGTHS, REQUIRED
    from storage.ingest import TABLES
    from storage.schema import NewsEntity

    for stream, limits in MAX_LENGTHS.items():
        table = TABLES[stream]
        for column, limit in limits.items():
            declared = (NewsEntity.__table__.c.entity if column == "entities"  # type: ignore[attr-defined]
                        else table.c[column])
            assert declared.type.length == limit, (stream, column)
        bounded = {c.name for c in table.c if getattr(c.type, "length", None)} - {"batch_id"}
        assert bounded <= set(limits) | {"entities"}, (stream, bounded - set(limits))
        for column in REQUIRED[stream]:
            assert not table.c[column].nullable, (stream, column)


def test_a_database_error_never_repeats_the_row_it_refused(engine: Engine) -> None:
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from storage.schema import ApiKey

    row = {"name": "ann.lee@example.com", "key_hash": "h", "prefix": "sr_x", "created_at": NOW}
    with engine.begin() as connection:
        connection.execute(insert(ApiKey), row)
    with pytest.raises(IntegrityError) as refused, engine.begin() as connection:
        connection.execute(insert(ApiKey), row)
    assert "ann.lee@example.com" not in str(refused.value)
