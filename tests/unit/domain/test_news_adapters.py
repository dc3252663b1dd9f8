"""News adapters: dated headlines, analyst ratings, PhraseBank and canonical files.

Small hand-made files check exact records, rejects and labels; the real files' contracts are in
``tests/contract``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from domain.adapters.news import detect_news_format, parse_news
from domain.errors import MalformedFileError, UnknownFormatError
from domain.records import NEWS_SCHEMA


def sha1(*fields: str) -> str:
    return hashlib.sha1("\x1f".join(fields).encode("utf-8")).hexdigest()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_headlines_with_header(tmp_path: Path) -> None:
    path = write(tmp_path / "cnbc_headlines.csv",
                 "date,headlines\n"
                 "2020-07-17,Apple beats estimates\n"
                 "2020-07-17,Apple beats estimates\n"
                 ",No date\n"
                 "2020-02-30,Bad date\n"
                 "2020-07-16,   \n"
                 '2020-07-16,"Cramer : $TSLA , Ford and GM"\n')
    assert detect_news_format(path) == "headlines"
    parsed = parse_news(path)
    assert (parsed.source, parsed.rows_read) == ("cnbc", 6)
    assert parsed.records.schema == pl.Schema(NEWS_SCHEMA)
    apple = sha1("2020-07-17 00:00:00", "Apple beats estimates")
    assert parsed.records.rows() == [
        ("cnbc", apple, utc(2020, 7, 17), "Apple beats estimates", None, ["AAPL"], None),
        ("cnbc", apple, utc(2020, 7, 17), "Apple beats estimates", None, ["AAPL"], None),
        ("cnbc", sha1("2020-07-16 00:00:00", "Cramer : $TSLA , Ford and GM"), utc(2020, 7, 16),
         "Cramer : $TSLA , Ford and GM", None, ["F", "GM", "TSLA"], None),
    ]
    assert parsed.rejects.rows() == [
        (4, ",No date", "missing date"),
        (5, "2020-02-30,Bad date", "unparseable time (date is '2020-02-30')"),
        (6, "2020-07-16,   ", "empty headline"),
    ]
    assert parsed.labels.is_empty()


def test_headlines_without_header_keep_line_one(tmp_path: Path) -> None:
    path = write(tmp_path / "reuters_headlines.csv",
                 "2020-07-18,Disney cuts ad spending on Facebook\n"
                 '2020-07-18,"Trail of Wirecard executive , Der Spiegel reports"\n')
    assert detect_news_format(path) == "headlines"
    parsed = parse_news(path)
    assert (parsed.source, parsed.rows_read) == ("reuters", 2)
    assert parsed.records.select("headline", "entities").rows() == [
        ("Disney cuts ad spending on Facebook", ["DIS", "META"]),
        ("Trail of Wirecard executive , Der Spiegel reports", ["WDI.DE"]),
    ]
    other = write(tmp_path / "Wire Feed.csv", "2020-07-18,Quiet day\n")
    assert parse_news(other).source == "headlines"  # the format, never the file name


ANALYST = ("2020-06-05 10:30:54-04:00,A\n", "2019-09-03 00:00:00,A\n")


@pytest.mark.parametrize("pandas_index_twice", [True, False])
def test_analyst_ratings(tmp_path: Path, pandas_index_twice: bool) -> None:
    header = ",headline,url,publisher,date,stock\n" if pandas_index_twice else \
        "headline,url,publisher,date,stock\n"
    prefix = ["0,0,", "1,1,", "2,2,"] if pandas_index_twice else ["", "", ""]
    path = write(tmp_path / "ratings.csv", header
                 + prefix[0] + "Agilent rises,https://b.com/1,Benzinga," + ANALYST[0]
                 + prefix[1] + '"Agilent , Apple up",https://b.com/2,Benzinga,' + ANALYST[1]
                 + prefix[2] + "Later,https://b.com/3,Benzinga,soon,A\n")
    assert detect_news_format(path) == "analyst-ratings"
    parsed = parse_news(path)
    assert parsed.source == "analyst-ratings"
    assert parsed.records.rows() == [
        ("analyst-ratings", sha1("2020-06-05 14:30:54", "Agilent rises", "A"),
         utc(2020, 6, 5, 14, 30, 54), "Agilent rises", None, ["A"], "https://b.com/1"),
        # A date without a time is midnight US Eastern, like Benzinga's other stamps.
        ("analyst-ratings", sha1("2019-09-03 04:00:00", "Agilent , Apple up", "A"),
         utc(2019, 9, 3, 4), "Agilent , Apple up", None, ["A", "AAPL"], "https://b.com/2"),
    ]
    assert parsed.rejects.select("line", "reason").rows() == [
        (4, "unparseable time (date is 'soon')")]


PHRASES = ("Sepp\u00e4l\u00e4 sold shares @ EUR 5 .@negative\n"
           "Nokia profit rose .@positive\n"
           "Nokia profit rose .@positive\n"
           "\n"
           "No label here\n"
           "Something .@angry\n"
           "@neutral\n")


def test_phrasebank_latin1(tmp_path: Path) -> None:
    path = write(tmp_path / "Sentences_66Agree.txt", PHRASES, encoding="latin-1")
    assert detect_news_format(path) == "phrasebank"
    parsed = parse_news(path)
    assert (parsed.source, parsed.rows_read) == ("phrasebank", 6)
    seppala = "Sepp\u00e4l\u00e4 sold shares @ EUR 5 ."
    assert parsed.records.rows() == [
        ("phrasebank", sha1(seppala), None, seppala, None, [], None),
        ("phrasebank", sha1("Nokia profit rose ."), None, "Nokia profit rose .", None, ["NOK"],
         None),
        ("phrasebank", sha1("Nokia profit rose ."), None, "Nokia profit rose .", None, ["NOK"],
         None),
    ]
    assert parsed.rejects.rows() == [
        (5, "No label here", "no '@' between sentence and label"),
        (6, "Something .@angry", "label must be negative, neutral or positive (_label is 'angry')"),
        (7, "@neutral", "empty sentence"),
    ]
    assert parsed.labels.rows() == [
        ("news", "phrasebank", sha1(seppala), "sentiment", "negative", "phrasebank-66", 0.66),
        ("news", "phrasebank", sha1("Nokia profit rose ."), "sentiment", "positive",
         "phrasebank-66", 0.66),
    ]


def test_phrasebank_copy_in_utf8_gives_the_same_ids(tmp_path: Path) -> None:
    latin = parse_news(write(tmp_path / "Sentences_AllAgree.txt", PHRASES, encoding="latin-1"))
    utf8 = parse_news(write(tmp_path / "copy.txt", PHRASES), fmt="phrasebank")
    assert utf8.records["news_id"].to_list() == latin.records["news_id"].to_list()
    assert set(latin.labels["origin"]) == {"phrasebank-all"}
    assert set(utf8.labels["origin"]) == {"phrasebank"}


def test_phrasebank_truncated_last_line(tmp_path: Path) -> None:
    path = write(tmp_path / "Sentences_50Agree.txt", "A .@positive\nB .@neutr", "latin-1")
    with pytest.raises(MalformedFileError) as error:
        parse_news(path)
    assert "Sentences_50Agree.txt, line 2, field 'label': the last line" in str(error.value)


def test_canonical_news(tmp_path: Path) -> None:
    path = write(tmp_path / "feed.csv",
                 "news_id,headline,published_at,body,url,tickers,label\n"
                 "n1,Acme wins contract,2024-03-01T09:30:00Z,Body text,https://x/1,acme|$X,"
                 "positive\n"
                 ",Apple sued,2024-03-01 12:00:00+02:00,,,,\n"
                 ",Undated note,,,,,\n"
                 ",Bad,2024-02-31,,,,\n"
                 ",Meh,2024-03-01,,,,great\n")
    assert detect_news_format(path) == "canonical"
    parsed = parse_news(path)
    assert parsed.records.rows() == [
        ("canonical", "n1", utc(2024, 3, 1, 9, 30), "Acme wins contract", "Body text",
         ["ACME", "X"], "https://x/1"),
        ("canonical", sha1("2024-03-01 10:00:00", "Apple sued"), utc(2024, 3, 1, 10), "Apple sued",
         None, ["AAPL"], None),
        ("canonical", sha1("", "Undated note"), None, "Undated note", None, [], None),
    ]
    assert parsed.rejects.select("line", "reason").rows() == [
        (5, "unparseable time (published_at is '2024-02-31')"),
        (6, "label must be negative, neutral or positive (label is 'great')"),
    ]
    assert parsed.labels.rows() == [
        ("news", "canonical", "n1", "sentiment", "positive", "canonical", None)]


def test_canonical_jsonl_entities_list(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    pl.DataFrame({"headline": ["Tesla recalls cars"], "published_at": ["2024-03-01"],
                  "entities": [["tsla", "ev"]]}).write_ndjson(path)
    parsed = parse_news(path)
    assert parsed.records.select("headline", "entities").rows() == [
        ("Tesla recalls cars", ["EV", "TSLA"])]


def test_unknown_format_asks_for_format(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "title,when,who\nA,B,C\n")
    with pytest.raises(UnknownFormatError, match="--format"):
        parse_news(path)
    with pytest.raises(UnknownFormatError, match="unknown news format 'rss'"):
        parse_news(path, fmt="rss")


def test_wrong_encoding_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "guardian_headlines.csv",
                 "2020-07-18,Fine\n2020-07-18,Caf\u00e9 chain closes\n", encoding="latin-1")
    with pytest.raises(MalformedFileError) as error:
        parse_news(path, fmt="headlines")
    assert error.value.line == 2
    assert "guardian_headlines.csv, line 2: bytes are not valid utf-8" in str(error.value)


def test_missing_column_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "feed.csv", "title,published_at\nA,2024-03-01\n")
    with pytest.raises(MalformedFileError) as error:
        parse_news(path, fmt="canonical")
    assert "feed.csv, line 1, field 'headline': missing column" in str(error.value)


def test_truncated_csv_is_malformed(tmp_path: Path) -> None:
    path = write(tmp_path / "cnbc_headlines.csv",
                 'date,headlines\n2020-07-17,Fine\n2020-07-17,"Cut off mid')
    with pytest.raises(MalformedFileError) as error:
        parse_news(path)
    assert error.value.line == 3
    assert "cnbc_headlines.csv, line 3" in str(error.value)


