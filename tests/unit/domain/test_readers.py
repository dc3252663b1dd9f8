"""Reading raw tables: line numbers, strict decoding, truncation and ragged rows."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from domain.errors import MalformedFileError
from domain.readers import LINE, RAGGED, read_any, read_jsonl, read_table


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def test_records_keep_the_line_they_start_on_across_quoted_newlines(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'id,text\n1,"two\nlines"\n2,plain\n')
    table = read_table(path)
    assert table.frame["id"].to_list() == ["1", "2"]
    assert table.frame[LINE].to_list() == [2, 4]
    assert table.frame["text"].to_list() == ["two\nlines", "plain"]


def test_bare_carriage_returns_stay_inside_their_field(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'id,text\n1,"quoted\nbreak"\n2,bare\rreturn\n3,x\n')
    table = read_table(path)
    assert table.frame["text"].to_list() == ["quoted\nbreak", "bare\rreturn", "x"]
    assert table.frame[LINE].to_list() == [2, 4, 5]


def test_ragged_rows_are_marked_not_dropped(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    table = read_table(path)
    assert table.frame[LINE].to_list() == [2, 3, 4, 5]
    assert table.frame[RAGGED].to_list() == [None, "expected 3 fields, found 2",
                                             "expected 3 fields, found 4", None]


def test_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", b"id,text\n1,fine\n2,caf\xe9\n")
    with pytest.raises(MalformedFileError) as caught:
        read_table(path)
    assert caught.value.line == 3
    assert "a.csv, line 3" in str(caught.value)
    assert "--encoding" in str(caught.value)


def test_unclosed_quote_at_the_end_is_a_truncated_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'id,text\n1,ok\n2,"never closed\n')
    with pytest.raises(MalformedFileError, match="truncated"):
        read_table(path)


def test_short_last_row_without_newline_is_a_truncated_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a,b,c\n1,2,3\n4,5")
    with pytest.raises(MalformedFileError, match="truncated") as caught:
        read_table(path)
    assert caught.value.line == 3


def test_damaged_gzip_is_reported(tmp_path: Path) -> None:
    whole = gzip.compress(b"a,b\n" + b"1,2\n" * 1000)
    path = write(tmp_path / "a.csv.gz", whole[: len(whole) // 2])
    with pytest.raises(MalformedFileError, match="gzip"):
        read_table(path)


def test_missing_column_names_the_field(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "a,b\n1,2\n"))
    with pytest.raises(MalformedFileError) as caught:
        table.require(["a", "user_id"])
    assert caught.value.field == "user_id"
    assert "missing column 'user_id'" in str(caught.value)


def test_jsonl_marks_bad_lines_and_keeps_numbers_as_text(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"a": 1, "b": "x"}\n{not json}\n[1]\n{"a": 2.5}\n')
    table = read_jsonl(path)
    assert table.frame["a"].to_list() == ["1", None, None, "2.5"]
    assert table.frame[LINE].to_list() == [1, 2, 3, 4]
    problems = table.frame[RAGGED].to_list()
    assert problems[0] is None and problems[3] is None
    assert problems[1] is not None and problems[1].startswith("invalid JSON")
    assert problems[2] == "a JSON line must be an object"
    assert table.raw(2) == "{not json}"


def test_parquet_rows_are_numbered_and_lists_joined(tmp_path: Path) -> None:
    import polars as pl

    path = tmp_path / "a.parquet"
    pl.DataFrame({"item_id": ["1", "2"], "categories": [["x", "y"], []]}).write_parquet(path)
    table = read_any(path)
    assert table.frame["categories"].to_list() == ["x|y", ""]
    assert table.frame[LINE].to_list() == [1, 2]
    assert '"item_id": "2"' in table.raw(2)


def test_a_utf8_movies_file_is_read_as_utf8_not_garbled(tmp_path: Path) -> None:
    from domain.adapters.items import parse_items

    text = "1::Lumière (1998)::Drama\n2::Amélie (2001)::Comedy|Romance\n"
    utf8 = tmp_path / "movies.dat"
    utf8.write_bytes(text.encode("utf-8"))
    latin = tmp_path / "movies-latin1.dat"
    latin.write_bytes(text.encode("latin-1"))
    for path, encoding in ((utf8, "utf-8"), (latin, "latin-1")):
        parsed = parse_items(path)
        assert parsed.records["title"].to_list() == ["Lumière (1998)", "Amélie (2001)"]
        assert parsed.encoding == encoding


def test_utf8_text_named_as_latin1_is_refused_not_garbled(tmp_path: Path) -> None:
    from domain.adapters.items import parse_items

    path = tmp_path / "movies.dat"
    path.write_bytes("1::Lumière (1998)::Drama\n".encode())
    with pytest.raises(MalformedFileError, match="the file is UTF-8 text: read as latin-1"):
        parse_items(path, encoding="latin-1")


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_a_path_that_is_not_a_regular_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    import os
    import threading

    from domain.readers import file_sha256

    path = {"fifo": tmp_path / "pipe", "device": Path("/dev/zero"), "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    outcome: list[BaseException | str] = []

    def read() -> None:
        try:
            outcome.append(file_sha256(path))
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)  # a hang must not hold the suite
    reader.start()
    reader.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], MalformedFileError)
    assert "is not a regular file" in str(outcome[0])
