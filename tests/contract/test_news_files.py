"""Data contracts of the real news files (``SENTREC_DATA_DIR``): headlines, analyst ratings and
the four nested Financial PhraseBank files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.adapters.news import parse_news
from tests.helpers import data_file


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("name", "source", "rows", "duplicates"), [
    ("cnbc_headlines.csv", "cnbc", 2_800, 9),
    ("guardian_headlines.csv", "guardian", 17_760, 0),
    ("reuters_headlines.csv", "reuters", 32_770, 79),
])
def test_real_headlines(name: str, source: str, rows: int, duplicates: int) -> None:
    parsed = parse_news(data_file("financial_news_headlines", name))
    records = parsed.records
    assert parsed.source == source
    assert (parsed.rows_read, records.height, parsed.rejects.height) == (rows, rows, 0)
    assert records.height - records["news_id"].n_unique() == duplicates
    assert records["published_at"].dt.time().unique().to_list() == [datetime.min.time()]
    assert records["published_at"].is_between(utc(2017, 12, 17), utc(2020, 7, 18)).all()


def test_real_analyst_ratings() -> None:
    parsed = parse_news(data_file("financial_news_headlines",
                                  "raw_analyst_ratings_sample100.csv"))
    records = parsed.records
    assert (parsed.rows_read, records.height, parsed.rejects.height) == (100, 100, 0)
    assert records["entities"].list.contains("A").all()
    assert records["url"].str.starts_with("https://www.benzinga.com/").all()
    assert records["published_at"].min() == utc(2019, 9, 3, 4)
    assert records["published_at"].max() == utc(2020, 6, 5, 14, 30, 54)


@pytest.mark.parametrize(("level", "rows", "unique", "counts"), [
    ("50", 4_846, 4_838, {"negative": 604, "neutral": 2_872, "positive": 1_362}),
    ("66", 4_217, 4_211, {"negative": 514, "neutral": 2_529, "positive": 1_168}),
    ("75", 3_453, 3_448, {"negative": 420, "neutral": 2_141, "positive": 887}),
    ("All", 2_264, 2_259, {"negative": 303, "neutral": 1_386, "positive": 570}),
])
def test_real_phrasebank(level: str, rows: int, unique: int, counts: dict[str, int]) -> None:
    parsed = parse_news(data_file("financial_phrasebank", f"Sentences_{level}Agree.txt"))
    assert (parsed.rows_read, parsed.records.height, parsed.rejects.height) == (rows, rows, 0)
    assert parsed.records["news_id"].n_unique() == unique
    assert parsed.labels.height == unique
    assert dict(parsed.labels["label"].value_counts().iter_rows()) == counts
    assert set(parsed.labels["origin"]) == {f"phrasebank-{level.lower()}"}
    assert parsed.records["published_at"].is_null().all()


def test_real_phrasebank_files_are_nested() -> None:
    folder = data_file("financial_phrasebank")
    ids = {level: set(parse_news(folder / f"Sentences_{level}Agree.txt").records["news_id"])
           for level in ("50", "All")}
    assert ids["All"] <= ids["50"]


def test_real_sentfin() -> None:
    """10,753 rows, 10,686 distinct titles; 1,229 titles have a copy whose entities disagree
    and 8 more have copies that disagree with each other: 1,237 stay unlabelled."""
    parsed = parse_news(data_file("sentfin", "SEntFiN-v1.1_LF.csv"))
    assert parsed.format == "sentfin"
    assert (parsed.rows_read, parsed.records.height, parsed.rejects.height) == (10_753, 10_753, 0)
    assert parsed.records["news_id"].n_unique() == 10_686
    assert parsed.labels.height == 9_449
    assert dict(parsed.labels["label"].value_counts().iter_rows()) == {
        "negative": 2_698, "neutral": 3_400, "positive": 3_351}
    assert set(parsed.labels["origin"]) == {"sentfin"}
    assert parsed.records["published_at"].is_null().all()
