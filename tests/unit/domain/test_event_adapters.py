"""Behaviour adapters on hand-made files (exact records and rejects) and on the real data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.adapters.events import parse_events
from domain.adapters.items import parse_items
from domain.errors import MalformedFileError, UnknownFormatError
from domain.redaction import pseudonym

RETAIL_HEADER = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_movielens_ratings_become_rate_events_in_utc(tmp_path: Path) -> None:
    parsed = parse_events(write(tmp_path / "u.data", "196\t242\t3\t881250949\n1\t2\tx\t5\n"))
    assert parsed.format == "movielens"
    assert parsed.rows_read == 2
    row = parsed.records.row(0, named=True)
    assert row["event_id"] == "196:242:881250949"
    assert row["kind"] == "rate" and row["value"] == 3.0
    assert row["occurred_at"] == datetime(1997, 12, 4, 15, 55, 49, tzinfo=UTC)
    assert parsed.rejects.rows() == [(2, "1\t2\tx\t5", "rating is not a number")]


def test_sequence_lines_become_ordered_events(tmp_path: Path) -> None:
    parsed = parse_events(write(tmp_path / "seq.txt", "1 10 11 12\n2 11\n3\n"))
    assert parsed.format == "sequence"
    assert parsed.records.select("user_id", "item_id", "event_id", "seq").rows() == [
        ("1", "10", "1:0", 0), ("1", "11", "1:1", 1), ("1", "12", "1:2", 2),
        ("2", "11", "2:0", 3)]
    assert parsed.records["occurred_at"].null_count() == 4
    assert parsed.rejects.rows() == [(3, "3", "a sequence line needs a user id and an item")]
    assert parsed.rows_read == parsed.records.height + parsed.rejects.height


def test_online_retail_keeps_purchases_and_returns_and_rejects_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path / "retail.csv", RETAIL_HEADER + "\n".join([
        "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
        "C536379,85123A,WHITE HEART,-1,2010-12-01 09:41:00,2.55,17850,United Kingdom",
        "536370,POST,POSTAGE,3,2010-12-01 08:45:00,18,12583,France",
        "536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom",
        "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
        "536999,22000,SPOON,0,2011-06-01 12:00:00,1,17850,United Kingdom",
    ]) + "\n")
    parsed = parse_events(path)
    assert parsed.format == "online-retail"
    records = parsed.records
    assert records.select("user_id", "item_id", "kind", "value").rows() == [
        ("17850", "85123A", "purchase", 6.0), ("17850", "85123A", "return", 1.0),
        ("17850", "85123A", "purchase", 6.0)]
    # UK winter time is UTC; the identical line 6 has the identical id (a duplicate).
    assert records["occurred_at"][0] == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    assert records["event_id"][0] == records["event_id"][2]
    assert [(line, reason.split(":")[0].split(" (")[0]) for line, _, reason in
            parsed.rejects.rows()] == [
        (4, "StockCode is not a product"), (5, "no CustomerID"),
        (7, "non-positive Quantity outside a cancellation")]
    assert parsed.items is not None
    assert parsed.items.select("item_id", "title").rows() == [("85123A", "WHITE HEART")]


def test_online_retail_summer_times_shift_an_hour_to_utc(tmp_path: Path) -> None:
    path = write(tmp_path / "retail.csv", RETAIL_HEADER +
                 "556000,22000,SPOON,2,2011-06-01 12:00:00,1,17850,United Kingdom\n")
    parsed = parse_events(path)
    assert parsed.records["occurred_at"][0] == datetime(2011, 6, 1, 11, 0, tzinfo=UTC)


def test_canonical_events_validate_each_field(tmp_path: Path) -> None:
    path = write(tmp_path / "clicks.csv", "\n".join([
        "event_id,user_id,item_id,kind,value,occurred_at",
        "e1,u1,i1,click,,2024-03-01T10:00:00Z",
        "e2,u1,i2,purchase,2,2024-03-01 11:00:00+02:00",
        ",u2,i1,view,,2024-03-02",
        "e4,,i1,view,,2024-03-02",
        "e5,u3,i1,teleport,,2024-03-02",
        "e6,u3,i1,cart,lots,2024-03-02",
        "e7,u3,i1,cart,,yesterday",
    ]) + "\n")
    parsed = parse_events(path)
    assert parsed.source == "canonical"  # the format, never the file name
    assert parsed.records.select("event_id", "user_id", "kind", "value").rows()[:2] == [
        ("e1", "u1", "click", None), ("e2", "u1", "purchase", 2.0)]
    assert parsed.records["occurred_at"][1] == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    assert len(parsed.records["event_id"][2]) == 40  # sha1 of the row when no id is given
    assert [r[2] for r in parsed.rejects.rows()] == [
        "missing user_id", "kind is not one of view, click, cart, purchase, rate, return, "
        "interact", "value is not a number", "occurred_at is not an ISO 8601 time"]
    assert [r[0] for r in parsed.rejects.rows()] == [5, 6, 7, 8]


def test_canonical_events_need_their_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "user_id,item_id,occurred_at\nu,i,2024-01-01\n")
    with pytest.raises(MalformedFileError, match="missing column 'kind'"):
        parse_events(path)


def test_unrecognised_events_file_asks_for_a_format(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="--format"):
        parse_events(write(tmp_path / "x.csv", "foo;bar\n1;2\n"))


def test_movielens_items_carry_genres(tmp_path: Path) -> None:
    line = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    parsed = parse_items(write(tmp_path / "u.item", line))
    assert parsed.records.row(0) == ("movielens", "1", "Toy Story (1995)", "http://x",
                                     ["Animation", "Children's", "Comedy"])


def test_canonical_items_split_categories_and_reject_empty_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "catalogue.csv",
                 "item_id,title,categories\na,Mug,kitchen| gifts\nb,,\n,Lamp,\n")
    parsed = parse_items(path)
    assert parsed.records.rows() == [("canonical", "a", "Mug", None, ["kitchen", "gifts"])]
    assert [r[2] for r in parsed.rejects.rows()] == [
        "an item needs a title or a description", "missing item_id"]


def test_user_and_event_ids_holding_pii_become_pseudonyms(tmp_path: Path) -> None:
    """A shop that keys users by email or phone must not put either into the store; each
    value always becomes the same pseudonym, so a user's events still form one sequence, and
    the same pseudonym as in messages (the API looks a user up by it)."""
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,user_id,item_id,kind,occurred_at\n"
        "e1,jane.doe@example.com,i1,view,2024-05-01T10:00:00Z\n"
        "e2,jane.doe@example.com,i2,view,2024-05-01T10:05:00Z\n"
        "jane.doe@example.com/3,+44 20 7946 0958,i1,purchase,2024-05-02T09:00:00Z\n"
        "e4,u4,i3,view,2024-05-02T09:00:00Z\n",
        encoding="utf-8")
    parsed = parse_events(path)
    assert parsed.records.select("event_id", "user_id").rows() == [
        ("e1", pseudonym("jane.doe@example.com")),
        ("e2", pseudonym("jane.doe@example.com")),
        (pseudonym("jane.doe@example.com/3"), pseudonym("+44 20 7946 0958")),
        ("e4", "u4"),
    ]
    stored = str(parsed.records.rows()) + str(parsed.rejects.rows())
    assert "jane.doe" not in stored and "7946" not in stored


def test_a_rejected_event_row_shows_no_pii(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,user_id,item_id,kind,occurred_at\n"
                    "e1,jane.doe@example.com,i1,view,not a time\n"
                    "e2,u2,i1,view,2024-05-01T10:00:00Z\n", encoding="utf-8")
    parsed = parse_events(path)
    assert parsed.records["event_id"].to_list() == ["e2"]
    assert "jane.doe" not in str(parsed.rejects.rows())
